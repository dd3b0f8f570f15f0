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
 * The dealer's keys in key-index order, or why this node cannot deal: keys of the snapshot that it does not hold
 * (`missing`, every one of them: the node may still gain them, see HandoverDriver), or one it holds with another
 * public key (its store is damaged: no `missing`, the node can never deal). Such a node sits the handover out as a
 * dealer while it lacks them; the others (at least k_old honest ones) carry it.
 */
export async function dealerKeys(
  snapshot: FrozenSnapshot,
  findKey: (keyIndex: number) => Promise<StoredKey | undefined>,
): Promise<{ keys: DealerKey[] } | { problem: string; missing?: number[] }> {
  const keys: DealerKey[] = [];
  const missing: number[] = [];
  for (const { keyIndex, publicKey, owner } of snapshot.keys) {
    const stored = await findKey(keyIndex);
    if (!stored) {
      missing.push(keyIndex);
      continue;
    }
    const published = `04${publicKey.x}${publicKey.y}`;
    if (stored.publicKey !== published) return { problem: `key ${keyIndex} in the store is not the published one` };
    keys.push({
      moved: { keyIndex, publicKey: published, shareKeys: stored.shareKeys, ...(owner ? { owner } : {}) },
      share: BigInt("0x" + stored.share),
    });
  }
  if (missing.length > 0) {
    const which = missing.length === 1 ? `key ${missing[0]}` : `${missing.length} keys (${missing[0]} first)`;
    return { problem: `this node holds no share of ${which}`, missing };
  }
  return { keys };
}
