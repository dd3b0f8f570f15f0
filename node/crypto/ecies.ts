/**
 * ECIES as @toruslabs/eccrypto does it, which is how nodes hand key shares to a logged-in user's temporary key
 * (torus-js-client.md §4; torus-node-v0.10.4.md §2 "Share encryption", "10 facts" #5):
 *
 *   Px = x(ephemeral · recipient); h = SHA-512(Px); AES-256-CBC (PKCS#7) with key h[0:32] and a random 16-byte IV;
 *   mac = HMAC-SHA256(h[32:64], iv ‖ ephemPublicKey(65 B, 0x04 ‖ X ‖ Y) ‖ ciphertext).
 *
 * The one subtle point is the byte form of Px. eccrypto hashes it with leading zero bytes stripped (`BN.toArray()`);
 * the Go node hashed it zero-padded to 32 bytes. They differ when Px < 2^248, 1 time in 256, and eccrypto 2.x (no
 * padded fallback) then failed to decrypt the Go node's share. So we encrypt with the stripped form, which every
 * eccrypto version decrypts; and we decrypt as eccrypto 3.x does, stripped first and then padded, so messages made the
 * Go node's way still open. The MAC is checked, in constant time, before any decryption (encrypt-then-MAC).
 *
 * Only platform-neutral code here (noble's AES and hashes, no `node:crypto` or `Buffer`): the client SDK, which runs in
 * browsers, decrypts its shares with this module. The two multiplications (ephemeral key, ECDH) run on the installed
 * curve backend (backend.ts), libsecp256k1 in a node.
 */
import { cbc } from "@noble/ciphers/aes.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256, sha512 } from "@noble/hashes/sha2.js";

import { curveBackend } from "./backend.ts";
import { CryptoError } from "./errors.ts";
import { assertNonZeroScalar, bigIntToBytes, randomNonZeroScalar, type Rng } from "./field.ts";
import { mulG } from "./generators.ts";
import { assertPoint, decodePoint, encodePoint, type Point } from "./point.ts";
import { parseFixedHex, parseHexBytes, toHex } from "./encoding.ts";

export interface EciesMessage {
  iv: Uint8Array;
  ephemPublicKey: Uint8Array;
  ciphertext: Uint8Array;
  mac: Uint8Array;
}

/** The legacy wire form: every field lowercase hex, no `0x`. */
export interface EciesWire {
  iv: string;
  ephemPublicKey: string;
  ciphertext: string;
  mac: string;
}

/** How a ShareRequest result carries an encrypted share: the Go node's `Share` and `Metadata` fields. */
export interface LegacyEncryptedShare {
  /** base64 of the ASCII hex of the ciphertext (Go put the hex string in a `[]byte` field). */
  Share: string;
  Metadata: { iv: string; ephemPublicKey: string; mac: string; mode: "AES256" };
}

const IV_BYTES = 16;
const MAC_BYTES = 32;
const AES_BLOCK = 16;
/** Large enough for any share; a cap so a peer cannot make us parse and MAC megabytes. */
export const DEFAULT_MAX_CIPHERTEXT_BYTES = 4096;

/** Encrypts `plaintext` to `publicKey` with a fresh ephemeral key and IV from `rng`. */
export function eciesEncrypt(publicKey: Point, plaintext: Uint8Array, rng: Rng): EciesMessage {
  assertPoint(publicKey, "publicKey");
  if (!(plaintext instanceof Uint8Array)) throw new CryptoError("INVALID_ENCODING", "plaintext must be bytes");
  const ephemeral = randomNonZeroScalar(rng);
  const iv = Uint8Array.from(rng(IV_BYTES));
  if (iv.length !== IV_BYTES) throw new CryptoError("INVALID_LENGTH", `rng returned ${iv.length} bytes, wanted 16`);
  const ephemPublicKey = encodePoint(mulG(ephemeral));
  const { encKey, macKey } = deriveKeys(sharedX(curveBackend().mul(publicKey, ephemeral)).stripped);
  // cbc() pads with PKCS#7 by default, as eccrypto (and Node's aes-256-cbc) does.
  const ciphertext = cbc(encKey, iv).encrypt(plaintext);
  return { iv, ephemPublicKey, ciphertext, mac: macOf(macKey, iv, ephemPublicKey, ciphertext) };
}

/**
 * Decrypts a message for `privateKey`. Malformed fields (lengths, an ephemeral key that is compressed, off the curve
 * or infinity) give INVALID_LENGTH / INVALID_ENCODING / INVALID_POINT; a MAC that matches under neither form of Px
 * gives DECRYPTION_FAILED.
 */
export function eciesDecrypt(privateKey: bigint, message: EciesMessage): Uint8Array {
  assertNonZeroScalar(privateKey, "privateKey");
  const { iv, ephemPublicKey, ciphertext, mac } = message;
  assertBytes(iv, "iv", IV_BYTES);
  assertBytes(mac, "mac", MAC_BYTES);
  if (!(ephemPublicKey instanceof Uint8Array))
    throw new CryptoError("INVALID_ENCODING", "ephemPublicKey must be bytes");
  if (!(ciphertext instanceof Uint8Array)) throw new CryptoError("INVALID_ENCODING", "ciphertext must be bytes");
  if (ciphertext.length === 0 || ciphertext.length % AES_BLOCK !== 0) {
    throw new CryptoError(
      "INVALID_LENGTH",
      `ciphertext must be a non-zero multiple of 16 bytes, got ${ciphertext.length}`,
    );
  }
  const ephemeral = decodePoint(ephemPublicKey, "ephemPublicKey");
  const { stripped, padded } = sharedX(curveBackend().mul(ephemeral, privateKey));
  // When Px has no leading zero byte the two forms are equal: try it once.
  const candidates = stripped.length === padded.length ? [stripped] : [stripped, padded];
  for (const px of candidates) {
    const { encKey, macKey } = deriveKeys(px);
    if (!constantTimeEqual(macOf(macKey, iv, ephemPublicKey, ciphertext), mac)) continue;
    try {
      return cbc(encKey, iv).decrypt(ciphertext);
    } catch (error) {
      // The MAC matched, so the sender itself encrypted bad padding: still a failed decryption, not a crash.
      throw new CryptoError("DECRYPTION_FAILED", "ECIES plaintext has invalid PKCS#7 padding", { cause: error });
    }
  }
  throw new CryptoError("DECRYPTION_FAILED", "ECIES MAC does not match (wrong key or tampered message)");
}

/** The wire form: lowercase hex fields. */
export function eciesToWire(message: EciesMessage): EciesWire {
  return {
    iv: toHex(message.iv),
    ephemPublicKey: toHex(message.ephemPublicKey),
    ciphertext: toHex(message.ciphertext),
    mac: toHex(message.mac),
  };
}

/** Parses the wire form; lengths and charset only (the point and the MAC are checked by `eciesDecrypt`). */
export function eciesFromWire(
  wire: Partial<Record<keyof EciesWire, unknown>>,
  field: string,
  maxCiphertextBytes = DEFAULT_MAX_CIPHERTEXT_BYTES,
): EciesMessage {
  return {
    iv: parseFixedHex(wire.iv, `${field}.iv`, IV_BYTES),
    ephemPublicKey: parseFixedHex(wire.ephemPublicKey, `${field}.ephemPublicKey`, 65),
    ciphertext: parseHexBytes(wire.ciphertext, `${field}.ciphertext`, { maxBytes: maxCiphertextBytes }),
    mac: parseFixedHex(wire.mac, `${field}.mac`, MAC_BYTES),
  };
}

/**
 * The `Share` / `Metadata` fields of a ShareRequest key. torus.js 8.0.1 reads `Share` as
 * `hex(padStart(64, "0", latin1(base64decode(Share))))`: a ciphertext of one AES block (plaintext under 16 bytes) would
 * be padded with zero bytes in front and fail its MAC, so callers should encrypt shares as 32-byte big-endian values
 * (the client reads them with `new BN(bytes)`, which ignores leading zeros), giving 48-byte ciphertexts.
 */
export function eciesToLegacyShare(message: EciesMessage): LegacyEncryptedShare {
  const wire = eciesToWire(message);
  return {
    Share: btoa(wire.ciphertext),
    Metadata: { iv: wire.iv, ephemPublicKey: wire.ephemPublicKey, mac: wire.mac, mode: "AES256" },
  };
}

/** Parses `Share` / `Metadata` (strict base64, then the hex rules of `eciesFromWire`; `mode` is ignored as by torus.js). */
export function eciesFromLegacyShare(
  share: unknown,
  metadata: unknown,
  field: string,
  maxCiphertextBytes = DEFAULT_MAX_CIPHERTEXT_BYTES,
): EciesMessage {
  if (typeof share !== "string") throw new CryptoError("INVALID_ENCODING", `${field}.Share must be a base64 string`);
  // base64 of 2·max hex chars is at most this long; checked before decoding anything.
  if (share.length > 4 * Math.ceil((2 * maxCiphertextBytes) / 3)) {
    throw new CryptoError("INVALID_LENGTH", `${field}.Share is longer than ${maxCiphertextBytes} bytes of ciphertext`);
  }
  // atob gives a binary string (one char per byte) and throws on characters outside base64, but it also accepts
  // whitespace and missing padding; re-encoding must give the input back for canonical base64.
  let decoded: string | undefined;
  try {
    decoded = atob(share);
  } catch {
    // Refused below, like any other non-canonical input.
  }
  if (decoded === undefined || btoa(decoded) !== share) {
    throw new CryptoError("INVALID_ENCODING", `${field}.Share must be canonical base64`);
  }
  if (typeof metadata !== "object" || metadata === null) {
    throw new CryptoError("INVALID_ENCODING", `${field}.Metadata must be an object`);
  }
  const { iv, ephemPublicKey, mac } = metadata as Record<string, unknown>;
  return eciesFromWire({ iv, ephemPublicKey, mac, ciphertext: decoded }, field, maxCiphertextBytes);
}

/** Px of an ECDH result, in eccrypto's stripped form (`BN.toArray()`, at least one byte) and padded to 32 bytes. */
function sharedX(shared: Point): { stripped: Uint8Array; padded: Uint8Array } {
  const padded = bigIntToBytes(shared.toAffine().x, 32);
  let start = 0;
  while (start < padded.length - 1 && padded[start] === 0) start++;
  return { stripped: padded.subarray(start), padded };
}

function deriveKeys(px: Uint8Array): { encKey: Uint8Array; macKey: Uint8Array } {
  const h = sha512(px);
  return { encKey: h.subarray(0, 32), macKey: h.subarray(32, 64) };
}

function macOf(macKey: Uint8Array, iv: Uint8Array, ephemPublicKey: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  return hmac.create(sha256, macKey).update(iv).update(ephemPublicKey).update(ciphertext).digest();
}

/** Equality whose running time depends on the length only, not on where the bytes differ (no MAC-guessing oracle). */
function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

function assertBytes(value: unknown, field: string, length: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new CryptoError("INVALID_ENCODING", `${field} must be bytes`);
  if (value.length !== length) {
    throw new CryptoError("INVALID_LENGTH", `${field} must be ${length} bytes, got ${value.length}`);
  }
}
