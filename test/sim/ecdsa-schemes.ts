/** Real node signatures (ECDSA over keccak256) for n simulated validators, with deterministic keys. */
import { sha256 } from "@noble/hashes/sha2.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";

import { ecdsaScheme } from "../../node/bft/ecdsa-scheme.ts";
import type { SignatureScheme } from "../../node/bft/types.ts";
import { bytesToBigInt, mod } from "../../node/crypto/field.ts";
import { G } from "../../node/crypto/point.ts";

export function ecdsaSchemes(n: number, salt = "sim"): SignatureScheme[] {
  const keys = Array.from(
    { length: n },
    (_, i) => mod(bytesToBigInt(sha256(utf8ToBytes(`${salt}-validator-${i}`)))) || 1n,
  );
  const publicKeys = keys.map((k) => G.multiply(k));
  return keys.map((k) => ecdsaScheme(k, publicKeys));
}
