import { expect } from "chai";

/** The error of class `type` that `action` rejects with (failing the test if it resolves, or rejects otherwise). */
export async function refusedWith<E extends Error>(
  action: Promise<unknown>,
  type: new (...args: never[]) => E,
): Promise<E> {
  const error = await action.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "no refusal").to.be.instanceOf(type);
  return error as E;
}

/** The error `action` rejects with, whatever its class (failing the test if it resolves). */
export async function rejection(action: Promise<unknown>): Promise<Error> {
  return refusedWith(action, Error);
}
