/**
 * What a node's record stores (`keygen.sqlite`, `pss.sqlite`: node/store/record-store.ts) hold, for the process tests
 * that look into a node's data directory: read through a read-only connection of the test's own, which SQLite's WAL
 * lets in beside a running node's writer (it sees every committed batch, whole).
 */
import { readFile } from "node:fs/promises";

import { fromJsonBytes } from "../../node/store/key-codec.ts";
import { prefixEnd } from "../../node/store/kv-store.ts";
import { recordKeys } from "../../node/store/record-store.ts";
import { loadSqlite } from "../../node/store/sqlite-store.ts";

/** Every record of the store in `file`, oldest first (none while the node has not created it). */
export function readRecords<T>(file: string): T[] {
  // The timeout waits out a starting node's recovery of its write-ahead log.
  const db = new (loadSqlite().DatabaseSync)(file, { readOnly: true, timeout: 5000 });
  try {
    const prefix = recordKeys.all();
    return db
      .prepare("SELECT v FROM kv WHERE k >= ? AND k < ? ORDER BY k")
      .all(prefix, prefixEnd(prefix)!)
      .map((row) => fromJsonBytes<T>(row.v as Uint8Array));
  } finally {
    db.close();
  }
}

/** The bytes of the store's database file and of its WAL, as the disk holds them now. */
export async function storeBytes(file: string): Promise<Buffer> {
  const wal = await readFile(`${file}-wal`).catch(() => Buffer.alloc(0));
  return Buffer.concat([await readFile(file), wal]);
}
