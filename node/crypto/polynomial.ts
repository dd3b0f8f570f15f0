/**
 * Univariate polynomials over the scalar field, as coefficient arrays from the constant term up:
 * `[a0, a1, …, ad]` is a0 + a1·x + … + ad·x^d.
 */
import { CryptoError } from "./errors.ts";
import { add, assertDistinctIndexes, assertScalar, mod, mul, randomScalar, sub } from "./field.ts";
import type { Rng } from "./field.ts";
import { barycentricWeights } from "./lagrange.ts";

/** A value y = f(x) of a polynomial at a share index x. */
export interface PolynomialPoint {
  x: bigint;
  y: bigint;
}

/** f(x) by Horner's rule. */
export function evaluatePolynomial(coefficients: readonly bigint[], x: bigint): bigint {
  let acc = 0n;
  for (let i = coefficients.length - 1; i >= 0; i--) acc = mod(acc * x + coefficients[i]!);
  return acc;
}

/**
 * A polynomial of the given degree with f(0) = constant and the other coefficients uniformly random: any `degree`
 * of its values at non-zero points are then independent of the constant (Shamir's secrecy).
 */
export function randomPolynomial(constant: bigint, degree: number, rng: Rng): bigint[] {
  assertScalar(constant, "constant");
  if (!Number.isSafeInteger(degree) || degree < 0) {
    throw new CryptoError("INVALID_LENGTH", `degree must be an integer ≥ 0, got ${degree}`);
  }
  const coefficients = [constant];
  for (let i = 0; i < degree; i++) coefficients.push(randomScalar(rng));
  return coefficients;
}

/**
 * The coefficients of the unique polynomial of degree < points.length through the points (always points.length of
 * them; the top ones are 0 when the degree is lower). Lagrange form: with M(x) = ∏ (x − x_i), the basis polynomial
 * of x_i is M(x) / (x − x_i) times its barycentric weight, so all bases come from one product and one inversion.
 */
export function interpolatePolynomial(points: readonly PolynomialPoint[]): bigint[] {
  if (!isNonEmptyArray(points)) {
    throw new CryptoError("INVALID_LENGTH", "points must be a non-empty array");
  }
  const xs = points.map((point) => point?.x);
  assertDistinctIndexes(xs, "points.x");
  for (const [i, point] of points.entries()) assertScalar(point.y, `points[${i}].y`);

  const weights = barycentricWeights(xs);
  const master = xs.reduce<bigint[]>((product, xi) => multiplyByLinear(product, xi), [1n]);
  const result = new Array<bigint>(points.length).fill(0n);
  for (const [i, point] of points.entries()) {
    const scale = mul(point.y, weights[i]!);
    if (scale === 0n) continue;
    const basis = divideByLinear(master, xs[i]!);
    for (let t = 0; t < basis.length; t++) result[t] = add(result[t]!, mul(scale, basis[t]!));
  }
  return result;
}

/** p(x)·(x − root). */
function multiplyByLinear(p: readonly bigint[], root: bigint): bigint[] {
  const product = new Array<bigint>(p.length + 1).fill(0n);
  for (let t = 0; t < p.length; t++) {
    product[t + 1] = add(product[t + 1]!, p[t]!);
    product[t] = sub(product[t]!, mul(root, p[t]!));
  }
  return product;
}

/** p(x) / (x − root) by synthetic division, for a root of p (the remainder, 0, is dropped). */
function divideByLinear(p: readonly bigint[], root: bigint): bigint[] {
  const quotient = new Array<bigint>(p.length - 1);
  let carry = 0n;
  for (let t = p.length - 1; t >= 1; t--) {
    carry = add(p[t]!, mul(root, carry));
    quotient[t - 1] = carry;
  }
  return quotient;
}

/** Deliberately not a type guard: Array.isArray on a typed list would narrow it to any[]. */
function isNonEmptyArray(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0;
}
