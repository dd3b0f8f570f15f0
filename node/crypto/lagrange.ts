/**
 * Lagrange interpolation over the scalar field: the coefficients that recombine shares f(x_i) into f(at), and secret
 * reconstruction from k shares. Lagrange runs per key in bulk (resharing, client reconstruction), so the field
 * inversions of an index set are batched into one (Montgomery's trick).
 */
import { CryptoError } from "./errors.ts";
import { add, assertDistinctIndexes, assertScalar, inv, mul, sub } from "./field.ts";

/** One share of a secret: the sharing polynomial's value at a share index. */
export interface Share {
  index: bigint;
  value: bigint;
}

/**
 * The inverses of non-zero scalars with a single field inversion: invert the running product once, then peel the
 * values off it from the end. Costs 3(n − 1) multiplications instead of n − 1 more inversions.
 */
export function invertAll(values: readonly bigint[]): bigint[] {
  const prefix: bigint[] = [];
  let running = 1n;
  for (const [i, value] of values.entries()) {
    assertScalar(value, `values[${i}]`);
    if (value === 0n) throw new CryptoError("INVALID_SCALAR", `values[${i}] is 0, which has no inverse`);
    prefix.push(running);
    running = mul(running, value);
  }
  const inverses = new Array<bigint>(values.length);
  let inverseOfRunning = values.length === 0 ? 1n : inv(running);
  for (let i = values.length - 1; i >= 0; i--) {
    inverses[i] = mul(inverseOfRunning, prefix[i]!);
    inverseOfRunning = mul(inverseOfRunning, values[i]!);
  }
  return inverses;
}

/**
 * The barycentric weights 1 / ∏_{j≠i} (x_i − x_j) of a set of distinct share indexes: the part of every Lagrange
 * basis polynomial that depends only on the index set, not on the evaluation point.
 */
export function barycentricWeights(indexes: readonly bigint[]): bigint[] {
  assertIndexSet(indexes, "indexes");
  const denominators = indexes.map((xi, i) =>
    indexes.reduce((product, xj, j) => (i === j ? product : mul(product, sub(xi, xj))), 1n),
  );
  return invertAll(denominators);
}

/**
 * λ_i(at) = ∏_{j≠i} (at − x_j) / (x_i − x_j) for each index, so that Σ λ_i(at)·f(x_i) = f(at) for every polynomial f
 * of degree < indexes.length. With the default at = 0 they recombine shares into the secret.
 */
export function lagrangeCoefficients(indexes: readonly bigint[], at = 0n): bigint[] {
  assertScalar(at, "at");
  const weights = barycentricWeights(indexes);
  // ∏_{j≠i} (at − x_j) as the product of the factors before i and those after i, in linear time and without
  // dividing (at may equal an index, making one factor 0).
  const factors = indexes.map((xj) => sub(at, xj));
  const after = new Array<bigint>(factors.length);
  let suffix = 1n;
  for (let i = factors.length - 1; i >= 0; i--) {
    after[i] = suffix;
    suffix = mul(suffix, factors[i]!);
  }
  let before = 1n;
  return factors.map((factor, i) => {
    const coefficient = mul(mul(before, after[i]!), weights[i]!);
    before = mul(before, factor);
    return coefficient;
  });
}

/** f(at) for the polynomial of degree < shares.length through all the shares. */
export function interpolateAt(shares: readonly Share[], at: bigint): bigint {
  assertShares(shares, "shares");
  const coefficients = lagrangeCoefficients(
    shares.map((share) => share.index),
    at,
  );
  return shares.reduce((acc, share, i) => add(acc, mul(share.value, coefficients[i]!)), 0n);
}

/**
 * The secret f(0) of a sharing of threshold k (degree k − 1) from exactly k shares. Fewer than k are refused: they
 * are consistent with every secret. With more, the first k are used; all given shares are still validated, since a
 * malformed or repeated one means the caller collected them wrongly.
 */
export function reconstructSecret(shares: readonly Share[], k: number): bigint {
  if (!Number.isSafeInteger(k) || k < 1) throw new CryptoError("INVALID_LENGTH", `k must be an integer ≥ 1, got ${k}`);
  assertShares(shares, "shares");
  if (shares.length < k) {
    throw new CryptoError("INVALID_LENGTH", `need ${k} shares to reconstruct, got ${shares.length}`);
  }
  return interpolateAt(shares.slice(0, k), 0n);
}

/** Asserts a non-empty list of shares with distinct valid indexes and canonical values. */
export function assertShares(shares: readonly Share[], field: string): void {
  if (!isNonEmptyArray(shares)) {
    throw new CryptoError("INVALID_LENGTH", `${field} must be a non-empty array of shares`);
  }
  assertDistinctIndexes(
    shares.map((share) => share?.index),
    field,
  );
  for (const [i, share] of shares.entries()) assertScalar(share.value, `${field}[${i}].value`);
}

function assertIndexSet(indexes: readonly bigint[], field: string): void {
  if (!isNonEmptyArray(indexes)) {
    throw new CryptoError("INVALID_LENGTH", `${field} must be a non-empty array of share indexes`);
  }
  assertDistinctIndexes(indexes, field);
}

/** Deliberately not a type guard: Array.isArray on a typed list would narrow it to any[]. */
function isNonEmptyArray(value: unknown): boolean {
  return Array.isArray(value) && value.length > 0;
}
