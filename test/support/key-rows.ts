/**
 * What a node's `keys.sqlite` holds, for the process tests that look into a node's data directory. Reads go through a
 * read-only connection of the test's own, which SQLite's WAL lets in beside a running node's writer (it sees every
 * committed batch, whole); `dropBatch` writes, so only with the node stopped.
 */
import type { DatabaseSync as Database } from "node:sqlite";

import type { GeneratedKey } from "../../node/dkg/types.ts";
import { fromJsonBytes, jsonBytes } from "../../node/store/key-codec.ts";
import { keyStoreRows, type KeyCounts, type StoredMarker } from "../../node/store/key-store.ts";
import { prefixEnd } from "../../node/store/kv-store.ts";
import { loadSqlite, SqliteStore } from "../../node/store/sqlite-store.ts";

/** Reads the one table of the embedded engine (node/store/sqlite-store.ts): BLOB keys `k`, BLOB values `v`. */
function readOnly<T>(file: string, read: (get: (key: Uint8Array) => Uint8Array | undefined, db: Database) => T): T {
  // The timeout waits out a starting node's recovery of its write-ahead log.
  const db = new (loadSqlite().DatabaseSync)(file, { readOnly: true, timeout: 5000 });
  try {
    const statement = db.prepare("SELECT v FROM kv WHERE k = ?");
    return read((key) => statement.get(key)?.v as Uint8Array | undefined, db);
  } finally {
    db.close();
  }
}

/** Every key in the store, by key index, and its counts (batches stored, keys moved in). */
export function readKeyStore(file: string): { keys: Map<number, GeneratedKey>; counts: KeyCounts } {
  return readOnly(file, (get, db) => {
    const keys = new Map<number, GeneratedKey>();
    const rows = db
      .prepare("SELECT v FROM kv WHERE k >= ? AND k < ?")
      .all(keyStoreRows.keys, prefixEnd(keyStoreRows.keys)!);
    for (const row of rows) {
      const key = fromJsonBytes<GeneratedKey>(row.v as Uint8Array);
      keys.set(key.keyIndex, key);
    }
    const meta = get(keyStoreRows.meta);
    return { keys, counts: meta ? fromJsonBytes<KeyCounts>(meta) : { batches: 0, movedKeys: 0 } };
  });
}

/** A key-generation batch's keys, in key order, or undefined while the store lacks the batch. */
export function batchKeys(file: string, batch: number): GeneratedKey[] | undefined {
  return readOnly(file, (get) => {
    const marker = get(keyStoreRows.batch(batch));
    if (!marker) return undefined;
    return fromJsonBytes<StoredMarker>(marker).keyIndexes.map((keyIndex) =>
      fromJsonBytes<GeneratedKey>(get(keyStoreRows.key(keyIndex))!),
    );
  });
}

/** The batches the store holds, in order. */
export function storedBatches(file: string): number[] {
  const prefix = keyStoreRows.batch(0).subarray(0, -8); // ("b"), without the batch number's 8 bytes
  return readOnly(file, (_get, db) =>
    db
      .prepare("SELECT k FROM kv WHERE k >= ? AND k < ? ORDER BY k")
      .all(prefix, prefixEnd(prefix)!)
      .map((row) => Number(Buffer.from(row.k as Uint8Array).readBigUInt64BE(prefix.length))),
  );
}

/**
 * Takes a batch out of a stopped node's store as a crash before its write would have left the store: no key row, no
 * marker, the counts without it (one atomic batch). Returns the keys it held.
 */
export async function dropBatch(file: string, batch: number): Promise<GeneratedKey[]> {
  const store = await SqliteStore.open(file);
  try {
    const marker = await store.get(keyStoreRows.batch(batch));
    if (!marker) throw new Error(`${file} holds no batch ${batch}`);
    const { keyIndexes } = fromJsonBytes<StoredMarker>(marker);
    const keys = await Promise.all(
      keyIndexes.map(async (keyIndex) => fromJsonBytes<GeneratedKey>((await store.get(keyStoreRows.key(keyIndex)))!)),
    );
    const counts = fromJsonBytes<KeyCounts>((await store.get(keyStoreRows.meta))!);
    await store.commit([
      ...keyIndexes.map((keyIndex) => ({ type: "del" as const, key: keyStoreRows.key(keyIndex) })),
      { type: "del", key: keyStoreRows.batch(batch) },
      { type: "put", key: keyStoreRows.meta, value: jsonBytes({ ...counts, batches: counts.batches - 1 }) },
    ]);
    return keys;
  } finally {
    await store.close();
  }
}
