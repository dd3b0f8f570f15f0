/**
 * Bivariate polynomials over the scalar field, for asynchronous verifiable secret sharing: a dealer hides the secret
 * in f(0, 0) and hands node i the row f(i, y) and the column f(x, i), so that every pair of nodes can cross-check
 * f(i, j) without learning anything about the secret.
 *
 * A polynomial of threshold k is a k×k matrix with `coefficients[j][l]` the coefficient of x^j·y^l (degree k − 1 in
 * each variable). Rows and columns are univariate coefficient arrays as in polynomial.ts.
 */
import { CryptoError } from "./errors.ts";
import { add, assertIndex, assertScalar, mul, randomScalar } from "./field.ts";
import type { Rng } from "./field.ts";
import { evaluatePolynomial } from "./polynomial.ts";

export type BivariatePolynomial = bigint[][];

/** A k×k polynomial with f(0, 0) = secret and every other coefficient uniformly random. */
export function randomBivariate(secret: bigint, k: number, rng: Rng): BivariatePolynomial {
  assertScalar(secret, "secret");
  if (!Number.isSafeInteger(k) || k < 1) throw new CryptoError("INVALID_LENGTH", `k must be an integer ≥ 1, got ${k}`);
  return Array.from({ length: k }, (_, j) =>
    Array.from({ length: k }, (_, l) => (j === 0 && l === 0 ? secret : randomScalar(rng))),
  );
}

/**
 * A symmetric k×k polynomial, f(x, y) = f(y, x), with f(0, 0) = secret and every coefficient on and above the
 * diagonal uniformly random (those below mirror them). Node i's row and column are then one polynomial, which halves
 * what a dealer computes and sends and what a node checks. The rows of any k − 1 nodes are independent of the secret,
 * as for a general one (Ben-Or, Goldwasser, Wigderson 1988; proven in Asharov and Lindell, "A Full Proof of the BGW
 * Protocol for Perfectly Secure Multiparty Computation", J. Cryptology 30, 2017, §3.2).
 */
export function randomSymmetricBivariate(secret: bigint, k: number, rng: Rng): BivariatePolynomial {
  const f = randomBivariate(secret, k, rng);
  for (let j = 1; j < k; j++) for (let l = 0; l < j; l++) f[j]![l] = f[l]![j]!;
  return f;
}

/** f(x, y), for any scalars x and y (f(0, 0) is the secret). */
export function evaluateBivariate(f: readonly (readonly bigint[])[], x: bigint, y: bigint): bigint {
  assertBivariate(f, "f");
  assertScalar(x, "x");
  assertScalar(y, "y");
  return evaluatePolynomial(columnAt(f, y), x);
}

/** Node i's row: the coefficients, in y, of f(i, y). */
export function bivariateRow(f: readonly (readonly bigint[])[], i: bigint): bigint[] {
  assertBivariate(f, "f");
  // Index 0 would be f(0, y), the polynomial that shares the secret itself.
  assertIndex(i, "i");
  // Horner over x, on whole coefficient vectors in y: ((c[k−1]·i + c[k−2])·i + …)·i + c[0].
  let row = new Array<bigint>(f.length).fill(0n);
  for (let j = f.length - 1; j >= 0; j--) row = row.map((acc, l) => add(mul(acc, i), f[j]![l]!));
  return row;
}

/** Node i's column: the coefficients, in x, of f(x, i). */
export function bivariateColumn(f: readonly (readonly bigint[])[], i: bigint): bigint[] {
  assertBivariate(f, "f");
  // Index 0 would be f(x, 0), which also reveals the secret at x = 0.
  assertIndex(i, "i");
  return columnAt(f, i);
}

/** Asserts a k×k matrix of canonical scalars with k ≥ 1. */
export function assertBivariate(f: readonly (readonly bigint[])[], field: string): void {
  if (!Array.isArray(f) || f.length === 0) {
    throw new CryptoError("INVALID_LENGTH", `${field} must be a non-empty k×k matrix`);
  }
  for (const [j, row] of f.entries()) {
    if (!Array.isArray(row) || row.length !== f.length) {
      throw new CryptoError(
        "INVALID_LENGTH",
        `${field}[${j}] must have ${f.length} coefficients, as ${field} has rows`,
      );
    }
    for (const [l, coefficient] of row.entries()) assertScalar(coefficient, `${field}[${j}][${l}]`);
  }
}

function columnAt(f: readonly (readonly bigint[])[], y: bigint): bigint[] {
  return f.map((coefficientsInY) => evaluatePolynomial(coefficientsInY, y));
}
