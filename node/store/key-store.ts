/**
 * This node's shares of the epoch's keys, generated in it or moved to it by the handover, in one store per epoch
 * (`keys.sqlite`, through the storage interface kv-store.ts), one row per key:
 * - `("k", keyIndex)` → the key (GeneratedKey as JSON): a share read is one point read, whatever the history;
 * - `("b", batch)` → the key indexes a key-generation batch stored, `("m", chunk)` → those a handover chunk stored:
 *   markers that make a batch or a chunk immutable once written;
 * - `("meta")` → the counts (batches, moved keys), so that opening reads one row, never the history.
 *
 * A batch or a chunk is written as one atomic write batch with its marker and the new counts, so a crash leaves all
 * of it or none, and it is durable once `saveBatch` / `saveMoved` resolves (the store's commit is). Until then the key
 * generation's log holds the batch's keys, and rebuilds a batch lost before its write at restart (keygen-driver.ts,
 * which erases those records only after the write); the handover log holds a chunk's.
 */
import type { GeneratedKey } from "../dkg/types.ts";
import { fromJsonBytes, jsonBytes, key } from "./key-codec.ts";
import type { KvStore, StoreOp } from "./kv-store.ts";
import { SqliteStore } from "./sqlite-store.ts";

export interface KeyCounts {
  /** Key-generation batches stored. */
  batches: number;
  /** Keys stored by handover chunks. */
  movedKeys: number;
}

/** A batch's or a chunk's marker row: the key indexes it stored. */
export interface StoredMarker {
  keyIndexes: number[];
}

/** The store's rows (exported for tests that look into a node's `keys.sqlite`). */
export const keyStoreRows = {
  /** The prefix of every key row. */
  keys: key("k"),
  key: (keyIndex: number) => key("k", keyIndex),
  batch: (batch: number) => key("b", batch),
  chunk: (chunk: number) => key("m", chunk),
  meta: key("meta"),
};

export class KeyStore {
  #counts: KeyCounts;
  /** Writes one after the other: a marker's check and the counts' update must not interleave with another write. */
  #writes: Promise<unknown> = Promise.resolve();
  readonly #storedListeners: ((keyIndexes: number[]) => void)[] = [];

  private constructor(
    private readonly store: KvStore,
    counts: KeyCounts,
  ) {
    this.#counts = counts;
  }

  /** Opens (or creates, 0600 in a 0700 directory) the key store in `file` (an epoch's `keys.sqlite`). */
  static async open(file: string): Promise<KeyStore> {
    const store = await SqliteStore.open(file);
    return KeyStore.over(store).catch(async (error: unknown) => {
      await store.close();
      throw error;
    });
  }

  /** A key store over an open store, which it then owns (`close` closes it). */
  static async over(store: KvStore): Promise<KeyStore> {
    const meta = await store.get(keyStoreRows.meta);
    return new KeyStore(store, meta ? fromJsonBytes<KeyCounts>(meta) : { batches: 0, movedKeys: 0 });
  }

  get batches(): number {
    return this.#counts.batches;
  }

  get movedKeys(): number {
    return this.#counts.movedKeys;
  }

  async hasBatch(batch: number): Promise<boolean> {
    return (await this.store.get(keyStoreRows.batch(batch))) !== undefined;
  }

  /** A key-generation batch's keys with this node's shares (immutable once written). */
  saveBatch(batch: number, keys: GeneratedKey[]): Promise<void> {
    return this.#save(keyStoreRows.batch(batch), keys, (counts) => ({ ...counts, batches: counts.batches + 1 }));
  }

  /** The keys of a handover chunk, with this node's verified new shares (immutable once written). */
  async saveMoved(chunk: number, keys: GeneratedKey[]): Promise<void> {
    if (keys.length === 0) return;
    await this.#save(keyStoreRows.chunk(chunk), keys, (counts) => ({
      ...counts,
      movedKeys: counts.movedKeys + keys.length,
    }));
  }

  /** The key with this index, moved to this epoch or generated in it. */
  async findKey(keyIndex: number): Promise<GeneratedKey | undefined> {
    const value = await this.store.get(keyStoreRows.key(keyIndex));
    return value && fromJsonBytes<GeneratedKey>(value);
  }

  /**
   * Calls `listener` with the key indexes of every batch or moved chunk written from now on (a dealer that lacked
   * shares at the handover's freeze waits for them: HandoverDriver).
   */
  onStored(listener: (keyIndexes: number[]) => void): void {
    this.#storedListeners.push(listener);
  }

  close(): Promise<void> {
    return this.store.close();
  }

  /** Writes the keys, their marker and the new counts in one batch, unless the marker is there already. */
  async #save(marker: Uint8Array, keys: GeneratedKey[], count: (counts: KeyCounts) => KeyCounts): Promise<void> {
    const write = this.#writes.then(async () => {
      if ((await this.store.get(marker)) !== undefined) return false;
      const counts = count(this.#counts);
      const keyIndexes = keys.map((k) => k.keyIndex);
      const ops: StoreOp[] = keys.map((k) => ({ type: "put", key: keyStoreRows.key(k.keyIndex), value: jsonBytes(k) }));
      ops.push({ type: "put", key: marker, value: jsonBytes({ keyIndexes } satisfies StoredMarker) });
      ops.push({ type: "put", key: keyStoreRows.meta, value: jsonBytes(counts) });
      await this.store.commit(ops);
      this.#counts = counts;
      return true;
    });
    this.#writes = write.catch(() => undefined);
    if (!(await write)) return;
    const keyIndexes = keys.map((k) => k.keyIndex);
    for (const listener of this.#storedListeners) listener(keyIndexes);
  }
}
