/**
 * Proof that a published Y = a·G opens a Pedersen commitment C = a·G + b·H with the same a: a Schnorr proof of
 * knowledge of (a, b) for the two relations Y = a·G and C − Y = b·H, made non-interactive by one Fiat–Shamir
 * challenge over every public value (G, H, C, Y, both announcements, and the caller's context: epoch, key index,
 * node index), with full uncompressed points — the Torus node hashed x-coordinates only, and a weak transcript is the
 * "Frozen Heart" class of bug.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";

import { curveBackend } from "./backend.ts";
import { multiScalarMul } from "./batch-verify.ts";
import { bytesToBigInt, mul, add, randomNonZeroScalar, assertScalar, type Rng } from "./field.ts";
import { G, H, mulG, mulGUnblinded, mulH, mulHUnblinded } from "./generators.ts";
import { affinePoints, assertPoint, type Point } from "./point.ts";

export interface ShareProof {
  T1: Point;
  T2: Point;
  u1: bigint;
  u2: bigint;
}

const DOMAIN = new TextEncoder().encode("torus-share-proof/1");
const GENERATORS = [G, H].map((p) => p.toBytes(false));

/**
 * An encoding costs an inversion for a point in projective coordinates: callers with many points make them affine
 * together first (`affinePoints`).
 */
function challenge(C: Point, Y: Point, T1: Point, T2: Point, context: Uint8Array): bigint {
  const parts = [DOMAIN, ...GENERATORS, ...[C, Y, T1, T2].map((p) => p.toBytes(false)), context];
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  // A 128-bit challenge: soundness error 2^-128, and half-length scalars for the verifier's c·Y and c·(C − Y).
  return bytesToBigInt(keccak_256(bytes).subarray(0, 16));
}

/**
 * Proves knowledge of (a, b) with Y = a·G and C = a·G + b·H. A caller that already holds C (derived from public
 * commitments) passes it and saves a multiplication; it must be a·G + b·H, or the proof will not verify.
 */
export function proveShare(
  a: bigint,
  b: bigint,
  context: Uint8Array,
  rng: Rng,
  knownC?: Point,
): { Y: Point; C: Point; proof: ShareProof } {
  assertScalar(a, "a");
  assertScalar(b, "b");
  const Y = mulG(a);
  const C = knownC ?? Y.add(mulH(b));
  const v1 = randomNonZeroScalar(rng);
  const v2 = randomNonZeroScalar(rng);
  const T1 = mulG(v1);
  const T2 = mulH(v2);
  const c = challenge(C, Y, T1, T2, context);
  return { Y, C, proof: { T1, T2, u1: add(v1, mul(c, a)), u2: add(v2, mul(c, b)) } };
}

/** Checks u1·G = T1 + c·Y and u2·H = T2 + c·(C − Y). Malformed parts give false. */
export function verifyShareProof(Y: Point, C: Point, proof: ShareProof, context: Uint8Array): boolean {
  try {
    assertPoint(Y, "Y");
    assertPoint(C, "C");
    assertPoint(proof.T1, "T1");
    assertPoint(proof.T2, "T2");
    assertScalar(proof.u1, "u1");
    assertScalar(proof.u2, "u2");
  } catch {
    return false;
  }
  const c = challenge(C, Y, proof.T1, proof.T2, context);
  const left1 = mulGUnblinded(proof.u1);
  const backend = curveBackend();
  // c is a 128-bit challenge, never 0 in practice; a zero would make both multiplications the point at infinity.
  const right1 = c === 0n ? proof.T1 : proof.T1.add(backend.mulPublic(Y, c));
  if (!left1.equals(right1)) return false;
  const blindingPart = C.subtract(Y); // b·H; the point at infinity when b = 0
  const right2 = blindingPart.is0() || c === 0n ? proof.T2 : proof.T2.add(backend.mulPublic(blindingPart, c));
  return mulHUnblinded(proof.u2).equals(right2);
}

export interface ShareProofClaim {
  Y: Point;
  C: Point;
  proof: ShareProof;
  context: Uint8Array;
}

/**
 * Checks many share proofs with one random linear combination of their equations (weights of 64 bits drawn after
 * the claims are fixed): (Σ w·u1)·G + (Σ v·u2)·H = Σ w·T1 + w·c·Y + v·T2 + v·c·(C − Y). If the combination fails,
 * each claim is checked on its own. Returns one verdict per claim.
 */
export function verifyShareProofs(claims: readonly ShareProofClaim[], rng: Rng): boolean[] {
  const wellFormed = claims.every(({ Y, C, proof }) => {
    try {
      [Y, C, proof.T1, proof.T2].forEach((p, i) => assertPoint(p, `point ${i}`));
      assertScalar(proof.u1, "u1");
      assertScalar(proof.u2, "u2");
      return true;
    } catch {
      return false;
    }
  });
  const each = () => claims.map(({ Y, C, proof, context }) => verifyShareProof(Y, C, proof, context));
  if (!wellFormed || claims.length < 2) return each();
  // 64-bit weights, uniform in [0, 2^64) (small-exponent batch verification, Bellare–Garay–Rabin 1998): for a false
  // claim, at most one value of its weights' combination satisfies the equation, so it survives with probability at
  // most 2^-64. (This once forced each weight odd, which left 63 random bits; a zero weight needs no exclusion.)
  const random = rng(16 * claims.length);
  const weight = (i: number) => bytesToBigInt(random.subarray(8 * i, 8 * i + 8));
  let u1 = 0n;
  let u2 = 0n;
  const points: Point[] = [];
  const scalars: bigint[] = [];
  const Cs = affinePoints(claims.map(({ C }) => C));
  claims.forEach(({ Y, proof, context }, j) => {
    const C = Cs[j]!;
    const w = weight(2 * j);
    const v = weight(2 * j + 1);
    const c = challenge(C, Y, proof.T1, proof.T2, context);
    u1 = add(u1, mul(w, proof.u1));
    u2 = add(u2, mul(v, proof.u2));
    points.push(proof.T1, Y, proof.T2);
    scalars.push(w, mul(w, c), v);
    const blindingPart = C.subtract(Y);
    if (!blindingPart.is0()) {
      points.push(blindingPart);
      scalars.push(mul(v, c));
    }
  });
  const left = mulGUnblinded(u1).add(mulHUnblinded(u2));
  return left.equals(multiScalarMul(points, scalars)) ? claims.map(() => true) : each();
}
