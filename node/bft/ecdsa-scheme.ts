/**
 * Node signatures for consensus messages: ECDSA over keccak256 with the node keys registered on-chain, in the Torus
 * format (node/crypto/signature.ts). Validator i's public key is the key of the i-th node of the epoch's list.
 */
import type { Point } from "../crypto/point.ts";
import { createTorusVerifier, signTorus } from "../crypto/signature.ts";
import type { SignatureScheme } from "./types.ts";

export function ecdsaScheme(privateKey: bigint, validatorKeys: readonly Point[]): SignatureScheme {
  // One precomputed verifier per validator key: consensus checks about 2n signatures per validator per height.
  const verifiers = validatorKeys.map(createTorusVerifier);
  return {
    sign: (message) => signTorus(privateKey, message),
    verify: (validator, message, signature) => verifiers[validator]?.(message, signature) ?? false,
  };
}
