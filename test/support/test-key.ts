import type { GeneratedKey } from "../../node/dkg/types.ts";

/** A well-formed key record for store tests (not a real sharing): its share is the key index, unless given. */
export function testKey(keyIndex: number, share = keyIndex.toString(16).padStart(64, "0")): GeneratedKey {
  return { keyIndex, publicKey: "04" + "1".repeat(128), shareKeys: [], share, blinding: "0".repeat(64) };
}
