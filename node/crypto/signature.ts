/**
 * Node signatures in the Torus format (torus-node-v0.10.4.md §0, "10 facts" #2): ECDSA-secp256k1 over keccak256(data),
 * written as 130 lowercase hex chars r(32 B) ‖ s(32 B) ‖ (v + 27), no `0x` — Go's `SigToHex`, and the same bytes as an
 * Ethereum `Signature.serialized`. Nodes sign the CommitmentRequest data with their node key; other nodes check those
 * signatures in ShareRequest, so a signature is attacker-controlled input there.
 *
 * One valid encoding per signature. The Go node verified r and s only, so (r, s), (r, q − s) and either v byte all
 * passed. We accept only what an honest signer emits: s in the lower half (low-s, as go-ethereum and we sign), and the
 * v byte that matches the signature's R. A ShareRequest counts signatures; keeping malleated copies out means a
 * signature can never be counted, cached or replayed under a second spelling.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex } from "@noble/hashes/utils.js";

import { CryptoError } from "./errors.ts";
import { curveBackend } from "./backend.ts";
import { assertNonZeroScalar, bigIntToBytes, ORDER } from "./field.ts";
import { assertPoint, type Point } from "./point.ts";

/** Signed data: raw bytes, or a string taken as its UTF-8 bytes (the Go node signed `[]byte(string)`). */
export type SignedData = Uint8Array | string;

/** A parsed Torus signature; `recovery` is v − 27. */
export interface TorusSignature {
  r: bigint;
  s: bigint;
  recovery: 0 | 1;
}

const SIGNATURE_HEX = /^[0-9a-f]{130}$/;
const HALF_ORDER = ORDER >> 1n;

/** keccak256 of the data, the digest Torus signs. */
export function torusDigest(data: SignedData): Uint8Array {
  if (typeof data === "string") return keccak_256(new TextEncoder().encode(data));
  if (data instanceof Uint8Array) return keccak_256(data);
  throw new CryptoError("INVALID_ENCODING", "signed data must be bytes or a string");
}

/** Signs keccak256(data) with RFC 6979 deterministic nonces; returns the 130-hex Torus encoding. */
export function signTorus(privateKey: bigint, data: SignedData): string {
  assertNonZeroScalar(privateKey, "privateKey");
  // Deterministic (RFC 6979, no extra entropy) and low-s on both backends, so both give the same bytes.
  const signed = curveBackend().sign(torusDigest(data), bigIntToBytes(privateKey));
  const recovery = signed.recovery;
  // Recovery ids 2 and 3 mean R.x ≥ q (probability about 2^-128); the Ethereum v byte cannot express them.
  if (recovery > 1) throw new CryptoError("INVALID_SIGNATURE", "signature nonce has R.x ≥ q; cannot encode v");
  return bytesToHex(signed.compact) + (recovery + 27).toString(16);
}

/**
 * Parses the 130-hex encoding strictly: lowercase hex only, v byte 27 or 28, r and s in [1, q), s ≤ q/2.
 * Throws INVALID_SIGNATURE saying which rule failed.
 */
export function parseTorusSignature(signatureHex: unknown): TorusSignature {
  if (typeof signatureHex !== "string") throw invalid("must be a string");
  if (signatureHex.length !== 130) throw invalid(`must be 130 hex chars, got ${signatureHex.length}`);
  if (!SIGNATURE_HEX.test(signatureHex)) throw invalid("must be lowercase hex without 0x");
  const r = BigInt("0x" + signatureHex.slice(0, 64));
  const s = BigInt("0x" + signatureHex.slice(64, 128));
  const v = Number.parseInt(signatureHex.slice(128), 16);
  if (v !== 27 && v !== 28) throw invalid(`v byte must be 1b or 1c, got ${signatureHex.slice(128)}`);
  if (r === 0n || r >= ORDER) throw invalid("r must be in [1, q)");
  if (s === 0n || s >= ORDER) throw invalid("s must be in [1, q)");
  if (s > HALF_ORDER) throw invalid("s is in the upper half of [1, q) (high-s, a malleated copy)");
  return { r, s, recovery: v === 27 ? 0 : 1 };
}

/**
 * True iff `signatureHex` is the Torus signature of `data` by `publicKey`. Any malformed or wrong signature gives false
 * (a peer's bad bytes are not an error of ours); a `publicKey` that is not a valid point throws, since that is the
 * caller's bug.
 */
export function verifyTorus(publicKey: Point, data: SignedData, signatureHex: unknown): boolean {
  assertPoint(publicKey, "publicKey");
  let signature: TorusSignature;
  try {
    signature = parseTorusSignature(signatureHex);
  } catch (error) {
    if (error instanceof CryptoError) return false;
    throw error;
  }
  // The backend also checks that v matches R's parity, so a flipped v byte is refused.
  return curveBackend().verify(torusDigest(data), toCompact(signature), signature.recovery, publicKey);
}

/**
 * `verifyTorus` for one public key that signs often (a validator, a node of the epoch): the key gets a precomputed
 * table once on noble, so each check is u1·G + u2·P from two table walks instead of a full double-scalar
 * multiplication, about 3 to 4 times faster (the native backend needs no table). Same acceptance rules: low-s, v matching R (recovery ids 2 and 3 are not encodable).
 */
export function createTorusVerifier(publicKey: Point): (data: SignedData, signatureHex: unknown) => boolean {
  assertPoint(publicKey, "publicKey");
  const verify = curveBackend().verifier(publicKey);
  return (data, signatureHex) => {
    let signature: TorusSignature;
    try {
      signature = parseTorusSignature(signatureHex);
    } catch (error) {
      if (error instanceof CryptoError) return false;
      throw error;
    }
    return verify(torusDigest(data), toCompact(signature), signature.recovery);
  };
}

/** The public key that made `signatureHex` over `data`; throws INVALID_SIGNATURE if the signature is malformed. */
export function recoverSigner(data: SignedData, signatureHex: unknown): Point {
  const { r, s, recovery } = parseTorusSignature(signatureHex);
  const signer = curveBackend().recover(torusDigest(data), toCompact({ r, s }), recovery);
  if (signer === undefined) throw invalid("no public key recovers from it");
  assertPoint(signer, "recovered signer");
  return signer;
}

function toCompact({ r, s }: Pick<TorusSignature, "r" | "s">): Uint8Array {
  const bytes = new Uint8Array(64);
  bytes.set(bigIntToBytes(r), 0);
  bytes.set(bigIntToBytes(s), 32);
  return bytes;
}

function invalid(reason: string, cause?: unknown): CryptoError {
  return new CryptoError("INVALID_SIGNATURE", `Torus signature ${reason}`, cause === undefined ? undefined : { cause });
}
