/**
 * What an old node deals in the handover, built from the frozen app state (replicated: the same at every honest node)
 * and its own key store (its share and the Y vector of each key, the same at every honest node as well).
 */
import type { PublicKeyHex } from "../app/transactions.ts";
import type { DealerKey } from "./dealer.ts";
import type { KeyOwner } from "./types.ts";

/** The frozen app's snapshot (KeyMappingApp.snapshot). */
export interface FrozenSnapshot {
  keys: { keyIndex: number; publicKey: PublicKeyHex; owner?: KeyOwner }[];
  nextKeyIndex: number;
}

/** What the key store holds of one key. */
export interface StoredKey {
  publicKey: string;
  shareKeys: string[];
  share: string;
}

/**
 * The dealer's keys in key-index order, or why this node cannot deal: a key of the snapshot that it does not hold,
 * or holds with another public key (its store is damaged). Such a node sits the handover out as a dealer; the others
 * (at least k_old honest ones) carry it.
 */
export async function dealerKeys(
  snapshot: FrozenSnapshot,
  findKey: (keyIndex: number) => Promise<StoredKey | undefined>,
): Promise<{ keys: DealerKey[] } | { problem: string }> {
  const keys: DealerKey[] = [];
  for (const { keyIndex, publicKey, owner } of snapshot.keys) {
    const stored = await findKey(keyIndex);
    if (!stored) return { problem: `this node holds no share of key ${keyIndex}` };
    const published = `04${publicKey.x}${publicKey.y}`;
    if (stored.publicKey !== published) return { problem: `key ${keyIndex} in the store is not the published one` };
    keys.push({
      moved: { keyIndex, publicKey: published, shareKeys: stored.shareKeys, ...(owner ? { owner } : {}) },
      share: BigInt("0x" + stored.share),
    });
  }
  return { keys };
}
