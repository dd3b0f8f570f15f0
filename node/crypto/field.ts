/**
 * Arithmetic in the scalar field of secp256k1 (integers mod the group order q), and the checks every public boundary
 * applies to scalars and share indexes. Randomness is injected (`Rng`), so that protocol cores stay deterministic in
 * simulation; `systemRng` is the one to use in production.
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";

import { CryptoError } from "./errors.ts";

export const Fn = secp256k1.Point.Fn;
/** The group order q of secp256k1. */
export const ORDER: bigint = Fn.ORDER;

/** Returns `bytes` uniformly random bytes. */
export type Rng = (bytes: number) => Uint8Array;

/** Max bytes one `getRandomValues` call may fill (Web Crypto's limit); larger requests are filled in chunks. */
const MAX_RANDOM_CHUNK = 65536;

/** The Web Crypto CSPRNG, so this module runs unchanged in Node and in browsers. */
export const systemRng: Rng = (bytes) => {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += MAX_RANDOM_CHUNK) {
    globalThis.crypto.getRandomValues(out.subarray(i, i + MAX_RANDOM_CHUNK));
  }
  return out;
};

export function mod(a: bigint): bigint {
  const r = a % ORDER;
  return r < 0n ? r + ORDER : r;
}

export const add = (a: bigint, b: bigint): bigint => mod(a + b);
export const sub = (a: bigint, b: bigint): bigint => mod(a - b);
export const mul = (a: bigint, b: bigint): bigint => mod(a * b);
export const neg = (a: bigint): bigint => mod(-a);

/** The inverse mod q; refuses 0, which has none. */
export function inv(a: bigint): bigint {
  if (mod(a) === 0n) throw new CryptoError("INVALID_SCALAR", "0 has no inverse mod the group order");
  return Fn.inv(mod(a));
}

/** A uniformly random scalar in [0, q), by rejection sampling of 256-bit values. */
export function randomScalar(rng: Rng): bigint {
  for (;;) {
    const bytes = rng(32);
    if (bytes.length !== 32) throw new CryptoError("INVALID_LENGTH", `rng returned ${bytes.length} bytes, wanted 32`);
    const value = bytesToBigInt(bytes);
    if (value < ORDER) return value;
  }
}

/** A uniformly random non-zero scalar in [1, q). */
export function randomNonZeroScalar(rng: Rng): bigint {
  for (;;) {
    const value = randomScalar(rng);
    if (value !== 0n) return value;
  }
}

/** Asserts a canonical scalar: a bigint in [0, q). `field` names the input in the error. */
export function assertScalar(value: unknown, field: string): asserts value is bigint {
  if (typeof value !== "bigint" || value < 0n || value >= ORDER) {
    throw new CryptoError("INVALID_SCALAR", `${field} must be an integer in [0, q), got ${describe(value)}`);
  }
}

/** Asserts a canonical non-zero scalar, in [1, q). */
export function assertNonZeroScalar(value: unknown, field: string): asserts value is bigint {
  assertScalar(value, field);
  if (value === 0n) throw new CryptoError("ZERO_SECRET", `${field} must not be 0`);
}

/**
 * Asserts a share index: an integer in [1, q). Index 0 would hand out f(0), the secret itself; an index ≥ q is the
 * same point as its residue and would alias another share.
 */
export function assertIndex(value: unknown, field: string): asserts value is bigint {
  if (typeof value !== "bigint" || value <= 0n || value >= ORDER) {
    throw new CryptoError("INVALID_INDEX", `${field} must be a share index in [1, q), got ${describe(value)}`);
  }
}

/** Asserts distinct share indexes (each valid); duplicates would make interpolation divide by zero. */
export function assertDistinctIndexes(indexes: readonly bigint[], field: string): void {
  const seen = new Set<bigint>();
  for (const [i, index] of indexes.entries()) {
    assertIndex(index, `${field}[${i}]`);
    if (seen.has(index)) throw new CryptoError("DUPLICATE_INDEX", `${field} has index ${index} twice`);
    seen.add(index);
  }
}

export function bytesToBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt("0x" + bytesToHex(bytes));
}

/** Big-endian, left-padded to `length` bytes. */
export function bigIntToBytes(value: bigint, length = 32): Uint8Array {
  if (value < 0n) throw new CryptoError("INVALID_SCALAR", "negative value has no unsigned encoding");
  const hex = value.toString(16).padStart(length * 2, "0");
  if (hex.length > length * 2) throw new CryptoError("INVALID_LENGTH", `value does not fit in ${length} bytes`);
  return hexToBytes(hex);
}

function describe(value: unknown): string {
  if (typeof value === "bigint") return value < 2n ** 64n ? value.toString() : `0x${value.toString(16)}`;
  return `${typeof value} ${String(value)}`.slice(0, 80);
}
