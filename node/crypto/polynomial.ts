/**
 * Univariate polynomials over the scalar field, as coefficient arrays from the constant term up:
 * `[a0, a1, …, ad]` is a0 + a1·x + … + ad·x^d.
 */
import { mod } from "./field.ts";

/** f(x) by Horner's rule. */
export function evaluatePolynomial(coefficients: readonly bigint[], x: bigint): bigint {
  let acc = 0n;
  for (let i = coefficients.length - 1; i >= 0; i--) acc = mod(acc * x + coefficients[i]!);
  return acc;
}
