/**
 * The curve operations that dominate the protocols' CPU time, behind one interface, so that a node can run them on
 * libsecp256k1 (node/native/secp256k1-backend.ts, ≈ 10–50× faster per operation on these machines) while browsers,
 * the client SDK and the reference tests keep the pure-JS noble implementation.
 *
 * This module is the only path by which the rest of node/crypto reaches a backend: generators.ts (fixed-base k·G and
 * k·H), signature.ts (ECDSA sign, verify, recover) and ecies.ts and share-proof.ts (variable-base k·P) call
 * `curveBackend()`. The composition root (node/cli.ts through node/native/select.ts, or a benchmark) installs a
 * backend once with `installCurveBackend` before any protocol core runs; nothing here imports the native module, and
 * a process that installs nothing runs on noble. Points stay noble `Point`s everywhere: additions, Horner evaluations
 * with small scalars and multi-scalar multiplications remain in noble's projective coordinates, where an addition
 * costs ≈ 5 µs against ≈ 40 µs for encoding and decoding it through the native API.
 *
 * Both backends must give the same bytes: ECDSA nonces are RFC 6979 without extra entropy and signatures are low-s,
 * so a signature made by either verifies on both and is byte-for-byte identical (test/crypto/backend.test.ts).
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";

import { Point } from "./point.ts";

/** k·base for one fixed base, k in [1, q). */
export interface FixedBaseMultiplier {
  /** For a secret k: the implementation must not leak k through timing. */
  mul(k: bigint): Point;
  /** For a public k (a verifier's): may skip blinding; it still must not be a variable-time ladder over shares. */
  mulPublic(k: bigint): Point;
}

/** An ECDSA signature as both backends give it: r ‖ s (64 bytes, low-s) and the recovery id of R (0 to 3). */
export interface RecoverableSignature {
  compact: Uint8Array;
  recovery: number;
}

export interface CurveBackend {
  /** "noble" or "native": logged by the node and shown on /status and /metrics. */
  readonly name: string;
  /**
   * True when one variable-base multiplication (`mulPublic`) costs less than a point's share of a bucket-method
   * multi-scalar multiplication, as with libsecp256k1 (≈ 60–100 µs per point, against ≈ 100 µs for 64-bit and
   * ≈ 450 µs for 192-bit scalars in noble's buckets at 100 points): multiScalarMul then sums per-point products.
   */
  readonly fastVariableBase: boolean;
  /** A multiplier for a fixed base (G or H); built once per base and kept by the caller. */
  fixedBase(base: Point): FixedBaseMultiplier;
  /** k·P for a finite point P and k in [1, q), constant time in k (ECDH, ECIES). */
  mul(point: Point, k: bigint): Point;
  /** k·P for a public k in [1, q) (a proof's challenge): may be variable time. */
  mulPublic(point: Point, k: bigint): Point;
  /**
   * Σ scalars[n]·points[n] for PUBLIC scalars in [1, q) and points given by their 65-byte uncompressed encodings, in
   * the backend's own representation from start to end: no decoding or adding in JavaScript, and one encoding of the
   * sum. Undefined when the sum is the point at infinity. Only a backend whose per-point products are cheap has it
   * (libsecp256k1: ≈ 12 µs per call plus ≈ 0.2 µs per scalar bit, against ≈ 5 µs per noble addition); callers fall
   * back to their noble route without it. The points must be valid (the caller decoded and checked them): a backend
   * may refuse an invalid one by throwing.
   */
  sumOfProducts?(points: readonly Uint8Array[], scalars: readonly bigint[]): Point | undefined;
  /** ECDSA over a 32-byte digest (no further hashing), RFC 6979 nonces without extra entropy, low-s. */
  sign(digest: Uint8Array, privateKey: Uint8Array): RecoverableSignature;
  /**
   * True iff `compact` is a signature of `digest` by `publicKey` whose R has the parity `recovery` (0 or 1), with s in
   * the lower half. Malformed input gives false.
   */
  verify(digest: Uint8Array, compact: Uint8Array, recovery: number, publicKey: Point): boolean;
  /** `verify` for one key that signs often; a backend may precompute per key. */
  verifier(publicKey: Point): (digest: Uint8Array, compact: Uint8Array, recovery: number) => boolean;
  /** The public key that made the signature, or undefined if none recovers. */
  recover(digest: Uint8Array, compact: Uint8Array, recovery: number): Point | undefined;
}

/** Window of the per-key tables of noble's `verifier`: ≈ 40 ms to build, a few hundred kB per key. */
const VERIFIER_WINDOW = 8;

/**
 * Window of the fixed-base tables. Measured on this machine (µs per k·G, blinded / unblinded): W=6 ≈ 355–540 /
 * 260–380, W=8 ≈ 345–390 / 180, W=9 ≈ 290–370 / 155–220, W=10 ≈ 260–285 / 150–200, W=11 ≈ 250–380 / 185–220,
 * W=12 ≈ 400 / 190; tables for W=10 take ≈ 150 ms (blinded) + 110 ms (unblinded) per generator to build, once, on
 * first use. Beyond 10 the data-oblivious scan of each window (2^(W−1) entries) eats the saved additions.
 */
export const FIXED_BASE_WINDOW = 10;

const nobleTables = new WeakMap<Point, FixedBaseMultiplier>();

/** One multiplier per base instance, so that k·G for commitments and for signature checks share one table. */
function nobleFixedBase(base: Point): FixedBaseMultiplier {
  let multiplier = nobleTables.get(base);
  if (multiplier === undefined) nobleTables.set(base, (multiplier = newNobleFixedBase(base)));
  return multiplier;
}

function newNobleFixedBase(base: Point): FixedBaseMultiplier {
  // A copy of the base, so that the table hangs off our own instance: noble keys its tables by point identity, and
  // resizing the table of Point.BASE would change it for every other user of noble in the process.
  let table: Point | undefined;
  const get = () => (table ??= Point.fromAffine(base.toAffine()).precompute(FIXED_BASE_WINDOW));
  return {
    // noble's constant-time table kernel with scalar blinding (k + r·q for a fresh 128-bit r), so neither timing nor
    // the sequence of table entries reveals k.
    mul: (k) => get().multiply(k),
    // The same data-oblivious, fixed-count table kernel (noble 2.4 routes `multiplyUnsafe` on a precomputed point to
    // it) without the blinding and the final normalisation, ≈ 40 % cheaper.
    mulPublic: (k) => get().multiplyUnsafe(k),
  };
}

function toRecovered(compact: Uint8Array, recovery: number): Uint8Array {
  const bytes = new Uint8Array(65);
  bytes[0] = recovery;
  bytes.set(compact, 1);
  return bytes;
}

const NOBLE_SIGNATURE = { prehash: false, lowS: true, format: "recovered" } as const;

/** Pure JavaScript (@noble/curves): every platform, and the reference the native backend is checked against. */
export const nobleBackend: CurveBackend = {
  name: "noble",
  fastVariableBase: false,
  fixedBase: nobleFixedBase,
  mul: (point, k) => point.multiply(k),
  mulPublic: (point, k) => point.multiplyUnsafe(k),
  sign(digest, privateKey) {
    // prehash: false because the digest is already keccak256; noble would otherwise hash it again with sha256.
    const signed = secp256k1.sign(digest, privateKey, NOBLE_SIGNATURE);
    return { compact: signed.slice(1), recovery: signed[0]! };
  },
  verify(digest, compact, recovery, publicKey) {
    // The "recovered" format makes noble also check that the recovery id matches R's parity.
    try {
      return secp256k1.verify(toRecovered(compact, recovery), digest, publicKey.toBytes(false), NOBLE_SIGNATURE);
    } catch {
      return false;
    }
  },
  verifier(publicKey) {
    const table = Point.fromAffine(publicKey.toAffine()).precompute(VERIFIER_WINDOW);
    const Fn = Point.Fn;
    const q = Fn.ORDER;
    const g = nobleFixedBase(Point.BASE);
    return (digest, compact, recovery) => {
      if (compact.length !== 64) return false;
      const r = bytesToNumber(compact.subarray(0, 32));
      const s = bytesToNumber(compact.subarray(32, 64));
      if (r === 0n || s === 0n || r >= q || s >= q || s > q >> 1n) return false;
      // Textbook ECDSA verification (SEC 1 §4.1.4): R = (z/s)·G + (r/s)·P must have x = r; a 256-bit digest is z mod q.
      const w = Fn.inv(s);
      const z = Fn.create(bytesToNumber(digest));
      const u1 = Fn.mul(z, w);
      const R = (u1 === 0n ? Point.ZERO : g.mulPublic(u1)).add(table.multiplyUnsafe(Fn.mul(r, w)));
      if (R.is0()) return false;
      const { x, y } = R.toAffine();
      return x === r && Number(y & 1n) === recovery;
    };
  },
  recover(digest, compact, recovery) {
    try {
      return secp256k1.Signature.fromBytes(compact, "compact").addRecoveryBit(recovery).recoverPublicKey(digest);
    } catch {
      return undefined;
    }
  },
};

function bytesToNumber(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

let current: CurveBackend = nobleBackend;

/** The backend every curve operation of node/crypto runs on (noble until one is installed). */
export function curveBackend(): CurveBackend {
  return current;
}

/**
 * Installs the backend for this process. Called once by the composition root before the protocol cores start (and by
 * tests and benchmarks that compare backends); fixed-base multipliers are rebuilt for the new backend on next use.
 */
export function installCurveBackend(backend: CurveBackend): void {
  current = backend;
}
