/**
 * The two generators of the commitment schemes and the fast multiplications the protocols spend their time in.
 *
 * G is the secp256k1 base point. H is a second generator whose discrete logarithm to base G nobody knows, derived
 * exactly as the Torus node derives it (torus-common/secp256k1/curve.go, HashToPoint(G.x)), so that Pedersen
 * commitments g^a·h^b (Pedersen 1991) are binding and interoperate with Torus's.
 *
 * The fixed-base multiplications run on the installed curve backend (backend.ts): libsecp256k1 in a node, noble's
 * precomputed tables elsewhere. Costs that shaped this file (noble 2.4, one core of this machine; shared/reference/performance-model.md §4): k·G
 * with a window-10 table ≈ 0.28 ms with scalar blinding, ≈ 0.15 ms without (noble's default table: ≈ 0.35 ms); a
 * variable-base multiplication ≈ 0.8–2 ms; a point times a small public integer by double-and-add ≈ 16 µs for 9,
 * against ≈ 65 µs for noble's `multiplyUnsafe`, which pays for a 256-bit GLV setup whatever the scalar.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";

import { assertScalar, bigIntToBytes, bytesToBigInt, mod } from "./field.ts";
import { curveBackend, type CurveBackend, type FixedBaseMultiplier } from "./backend.ts";
import { CryptoError } from "./errors.ts";
import { G, Point, assertPoint } from "./point.ts";

export { G };

const Fp = Point.Fp;

/**
 * Torus's HashToPoint: x = keccak256(data) as an integer, incremented until x³ + 7 is a square mod p; y is the square
 * root β^((p+1)/4) (p ≡ 3 mod 4) as it comes out, with no choice of parity. The result is a point whose discrete
 * logarithm to any other generator is unknown (nobody chose it).
 */
export function hashToPoint(data: Uint8Array): Point {
  let x = Fp.create(bytesToBigInt(keccak_256(data)));
  for (;;) {
    const beta = Fp.add(Fp.mul(Fp.sqr(x), x), 7n);
    const y = Fp.pow(beta, (Fp.ORDER + 1n) / 4n);
    if (Fp.eql(Fp.sqr(y), beta)) {
      const point = Point.fromAffine({ x, y });
      assertPoint(point, "hashToPoint result");
      return point;
    }
    x = Fp.add(x, 1n);
  }
}

/** The second generator H = HashToPoint(G.x as 32 bytes), as in the Torus node (one increment from the hash). */
export const H: Point = hashToPoint(bigIntToBytes(G.toAffine().x, 32));

export { FIXED_BASE_WINDOW } from "./backend.ts";

/** The multipliers of G and H of the installed backend, rebuilt when another backend is installed. */
let bases: { backend: CurveBackend; G: FixedBaseMultiplier; H: FixedBaseMultiplier } | undefined;
function fixedBases(): { G: FixedBaseMultiplier; H: FixedBaseMultiplier } {
  const backend = curveBackend();
  if (bases?.backend !== backend) bases = { backend, G: backend.fixedBase(G), H: backend.fixedBase(H) };
  return bases;
}

/**
 * k·base for k in [0, q) (0 gives the point at infinity). `secret`: constant time in k with scalar blinding (a
 * dealer's coefficients, a share); else the unblinded table walk for verification, still data-oblivious on noble.
 */
function mulFixed(base: "G" | "H", k: bigint, secret: boolean): Point {
  assertScalar(k, `scalar of ${base}`);
  if (k === 0n) return Point.ZERO;
  const multiplier = fixedBases()[base];
  return secret ? multiplier.mul(k) : multiplier.mulPublic(k);
}

/** k·G for a secret k in [0, q). */
export const mulG = (k: bigint): Point => mulFixed("G", k, true);
/** k·H for a secret k in [0, q). */
export const mulH = (k: bigint): Point => mulFixed("H", k, true);
/** k·G for verification. */
export const mulGUnblinded = (k: bigint): Point => mulFixed("G", k, false);
/** k·H for verification. */
export const mulHUnblinded = (k: bigint): Point => mulFixed("H", k, false);

/** Above this, a scalar is not "small" any more and noble's GLV multiplication wins over double-and-add. */
const SMALL_SCALAR_LIMIT = 1n << 64n;

/**
 * The non-adjacent form of k (least significant digit first): digits in {−1, 0, 1}, no two adjacent non-zero, so
 * double-and-add needs at most ⌈bits/2⌉ additions instead of popcount(k). Computed once per Horner evaluation.
 */
function nonAdjacentForm(k: bigint): Int8Array {
  const digits: number[] = [];
  for (let n = k; n > 0n; n >>= 1n) {
    let digit = 0;
    if ((n & 1n) === 1n) {
      digit = (n & 3n) === 3n ? -1 : 1;
      n -= BigInt(digit);
    }
    digits.push(digit);
  }
  return Int8Array.from(digits);
}

/** point · k for the digits of k (non-empty, top digit 1), by double-and-add from the top. */
function mulByDigits(point: Point, digits: Int8Array): Point {
  const negated = point.negate();
  let acc = point;
  for (let b = digits.length - 2; b >= 0; b--) {
    acc = acc.double();
    if (digits[b] === 1) acc = acc.add(point);
    else if (digits[b] === -1) acc = acc.add(negated);
  }
  return acc;
}

/** A multiplier by the public scalar k in [0, q): double-and-add for small k, noble's GLV ladder otherwise. */
function smallMultiplier(k: bigint): (point: Point) => Point {
  if (k === 0n) return () => Point.ZERO;
  if (k >= SMALL_SCALAR_LIMIT) return (point) => point.multiplyUnsafe(k);
  const digits = nonAdjacentForm(k);
  return (point) => mulByDigits(point, digits);
}

/**
 * point · k for a PUBLIC scalar k in [0, q), fast when k is small (a share index): variable time, never for
 * secrets. The point may be the point at infinity (an intermediate result of Horner's rule can be).
 */
export function mulSmall(point: Point, k: bigint): Point {
  if (!(point instanceof Point)) throw new CryptoError("INVALID_POINT", "point is not a curve point");
  assertScalar(k, "small scalar");
  return smallMultiplier(k)(point);
}

/** Σ_j C_j·x^j by Horner's rule, for points already checked: ((C_d·x + C_{d−1})·x + …)·x + C_0. */
export function evaluateCommitmentUnchecked(commitment: readonly Point[], x: bigint): Point {
  const times = smallMultiplier(x);
  let acc = commitment[commitment.length - 1]!;
  for (let j = commitment.length - 2; j >= 0; j--) acc = times(acc).add(commitment[j]!);
  return acc;
}

/**
 * The committed polynomial evaluated "in the exponent" at a public x: Σ_j C_j·x^j, which commits to f(x) when C_j
 * commits to the j-th coefficient of f (Feldman 1987, Pedersen 1991). Horner's rule turns the d multiplications by
 * x^j (full-size scalars) into d multiplications by the small x.
 */
export function evaluateCommitment(commitment: readonly Point[], x: bigint): Point {
  if (!Array.isArray(commitment) || commitment.length === 0) {
    throw new CryptoError("INVALID_LENGTH", "commitment must be a non-empty array of points");
  }
  for (const [j, point] of commitment.entries()) assertPoint(point, `commitment[${j}]`);
  assertScalar(x, "x");
  return evaluateCommitmentUnchecked(commitment, x);
}

/**
 * Σ_j C_j·x^j at every index x = 1, 2, …, count (an epoch's nodes), for points already checked, by forward
 * differences: a committed polynomial of degree d has a constant d-th difference, so once the differences at 0 are
 * known each next value costs d additions, where Horner's rule costs d multiplications by x (≈ 4 additions or
 * doublings each for x ≤ 9) and d additions. The differences at 0 are small multiples of the coefficients,
 * Δ^k P(0) = Σ_j k!·S(j, k)·C_j with S the Stirling numbers of the second kind (x^j = Σ_k S(j, k)·x(x−1)…(x−k+1)),
 * at most 36 for degree 4: ≈ 70 group operations for 9 nodes of threshold 5 against ≈ 180 for nine Horner
 * evaluations.
 */
export function evaluateCommitmentAtIndexes(commitment: readonly Point[], count: number): Point[] {
  const list: unknown = commitment; // checked as unknown, so that the narrowing does not turn it into any[]
  if (!Array.isArray(list) || commitment.length === 0) {
    throw new CryptoError("INVALID_LENGTH", "commitment must be a non-empty array of points");
  }
  for (const [j, point] of commitment.entries()) assertPoint(point, `commitment[${j}]`);
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new CryptoError("INVALID_LENGTH", `count must be a non-negative integer, got ${String(count)}`);
  }
  const degree = commitment.length - 1;
  const scaled = stirlingMultiples(degree);
  // differences[k] = Δ^k P(0); the loop turns them into the differences at x = 1, 2, … in place.
  const differences = scaled.map((multiples) => {
    let sum: Point = Point.ZERO;
    for (const [j, point] of commitment.entries()) {
      if (multiples[j] !== 0n) sum = sum.add(smallMultiplier(multiples[j]!)(point));
    }
    return sum;
  });
  const values: Point[] = [];
  for (let x = 1; x <= count; x++) {
    for (let k = 0; k < degree; k++) differences[k] = differences[k]!.add(differences[k + 1]!);
    values.push(differences[0]!);
  }
  return values;
}

/** T[k][j] = k!·S(j, k) mod q for j, k ≤ degree, by T(j, k) = k·T(j − 1, k) + k·T(j − 1, k − 1), T(0, 0) = 1. */
function stirlingMultiples(degree: number): bigint[][] {
  const T = Array.from({ length: degree + 1 }, () => new Array<bigint>(degree + 1).fill(0n));
  T[0]![0] = 1n;
  for (let j = 1; j <= degree; j++) {
    for (let k = 1; k <= j; k++) T[k]![j] = mod(BigInt(k) * (T[k]![j - 1]! + T[k - 1]![j - 1]!));
  }
  return T;
}
