/**
 * A stand-in for a browser page: a `node:vm` context with only the globals a page has (the ones the SDK uses), no
 * `Buffer`, `process` or `require`, in which a browser bundle of the SDK runs.
 */
import vm from "node:vm";

import { expect } from "chai";

/** `fetch` as the SDK calls it: a URL and a JSON request. */
export type SandboxFetch = (url: string, init: { body: string }) => Promise<Response>;

/**
 * Runs an IIFE bundle that assigns its exports to the global `globalName` in a fresh context with browser globals
 * and `fetch` as its network; returns those exports.
 */
export function runInBrowserSandbox<T>(iife: string, fetch: SandboxFetch, globalName = "SDK"): T {
  const context = vm.createContext({
    crypto: globalThis.crypto,
    TextEncoder,
    TextDecoder,
    fetch,
    URL,
    AbortController,
    AbortSignal,
    atob,
    btoa,
    setTimeout,
    clearTimeout,
    console,
  });
  expect(vm.runInContext("[typeof Buffer, typeof process, typeof require].join()", context)).to.equal(
    "undefined,undefined,undefined",
  );
  vm.runInContext(iife, context, { filename: "sdk.bundle.js" });
  return context[globalName] as T;
}

/**
 * Runs `action`, rethrowing an error thrown inside the vm context as an Error of this realm: mocha's parallel runner
 * reports errors of another realm (not `instanceof Error` here) with a blank message.
 */
export async function fromSandbox<T>(action: () => T | Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof Error) throw error;
    const { name, message, stack } = error as Error;
    throw Object.assign(new Error(`${name}: ${message}`), { stack });
  }
}
