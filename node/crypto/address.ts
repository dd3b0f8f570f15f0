/**
 * Ethereum addresses of secp256k1 public keys: keccak256(X32 ‖ Y32)[12:], shown with the EIP-55 mixed-case checksum.
 * Node keys are Ethereum keys (the NodeList contract checks `msg.sender`), and the legacy API returns user keys'
 * addresses in EIP-55 form (`address` in VerifierLookup, `Ping`), which clients compare as strings across nodes.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex } from "@noble/hashes/utils.js";

import { CryptoError } from "./errors.ts";
import { encodePoint, type Point } from "./point.ts";

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/** The EIP-55 checksummed address of a public key. */
export function addressFromPublicKey(publicKey: Point): string {
  // encodePoint checks the point; drop its 0x04 prefix to hash X32 ‖ Y32.
  const hash = keccak_256(encodePoint(publicKey).subarray(1));
  return checksum(bytesToHex(hash.subarray(12)));
}

/**
 * Parses an address: `0x` and 40 hex digits, either all one case or with a correct EIP-55 checksum (the rule ethers'
 * `getAddress` applies: a mixed-case address is a checksum claim, and a wrong one is most likely a typo). Returns the
 * checksummed form.
 */
export function parseAddress(text: unknown, field: string): string {
  if (typeof text !== "string" || !ADDRESS.test(text)) {
    throw new CryptoError("INVALID_ENCODING", `${field} must be 0x followed by 40 hex digits`);
  }
  const digits = text.slice(2);
  const checksummed = checksum(digits.toLowerCase());
  const oneCase = digits === digits.toLowerCase() || digits === digits.toUpperCase();
  if (!oneCase && checksummed !== text) throw new CryptoError("INVALID_ENCODING", `${field} has a bad EIP-55 checksum`);
  return checksummed;
}

/** True iff `text` is an address spelled exactly in its EIP-55 form. */
export function isChecksumAddress(text: unknown): boolean {
  return typeof text === "string" && ADDRESS.test(text) && checksum(text.slice(2).toLowerCase()) === text;
}

/** EIP-55: uppercase each letter whose nibble in keccak256(lowercase hex as ASCII) is ≥ 8. */
function checksum(lowerHex: string): string {
  const hash = keccak_256(new TextEncoder().encode(lowerHex));
  let out = "0x";
  for (let i = 0; i < lowerHex.length; i++) {
    const nibble = (hash[i >> 1]! >> (i % 2 === 0 ? 4 : 0)) & 0x0f;
    out += nibble >= 8 ? lowerHex[i]!.toUpperCase() : lowerHex[i]!;
  }
  return out;
}
