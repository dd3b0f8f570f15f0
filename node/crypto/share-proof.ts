/**
 * Proof that a published Y = a·G opens a Pedersen commitment C = a·G + b·H with the same a: a Schnorr proof of
 * knowledge of (a, b) for the two relations Y = a·G and C − Y = b·H, made non-interactive by one Fiat–Shamir
 * challenge over every public value (G, H, C, Y, both announcements, and the caller's context: epoch, key index,
 * node index), with full uncompressed points — the Torus node hashed x-coordinates only, and a weak transcript is the
 * "Frozen Heart" class of bug.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";

import { bytesToBigInt, mod, mul, add, randomNonZeroScalar, assertScalar, type Rng } from "./field.ts";
import { G, H, mulG, mulGUnblinded, mulH, mulHUnblinded } from "./generators.ts";
import { assertPoint, type Point } from "./point.ts";

export interface ShareProof {
  T1: Point;
  T2: Point;
  u1: bigint;
  u2: bigint;
}

const DOMAIN = new TextEncoder().encode("torus-share-proof/1");

function challenge(C: Point, Y: Point, T1: Point, T2: Point, context: Uint8Array): bigint {
  const parts = [DOMAIN, ...[G, H, C, Y, T1, T2].map((p) => p.toBytes(false)), context];
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return mod(bytesToBigInt(keccak_256(bytes)));
}

/** Proves knowledge of (a, b) with Y = a·G and C = a·G + b·H. */
export function proveShare(
  a: bigint,
  b: bigint,
  context: Uint8Array,
  rng: Rng,
): { Y: Point; C: Point; proof: ShareProof } {
  assertScalar(a, "a");
  assertScalar(b, "b");
  const Y = mulG(a);
  const C = Y.add(mulH(b));
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
  const right1 = proof.T1.add(Y.multiplyUnsafe(c));
  if (!left1.equals(right1)) return false;
  const blindingPart = C.subtract(Y); // b·H; the point at infinity when b = 0
  const right2 = blindingPart.is0() ? proof.T2 : proof.T2.add(blindingPart.multiplyUnsafe(c));
  return mulHUnblinded(proof.u2).equals(right2);
}
