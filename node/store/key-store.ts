/**
 * This node's shares of generated keys, one lowdb file per key-generation batch (`batch-000042.json`): a batch is
 * written once, when it is complete, so no write ever rewrites more than one batch, and lowdb's atomic replace
 * (write a temporary file, then rename) means a crash leaves either the whole batch or none of it. The key
 * generation's own log holds the same keys, so a batch lost before its file was written is rebuilt at restart.
 */
import { mkdir, readdir } from "node:fs/promises";
import path from "node:path";

import { Low } from "lowdb";
import { JSONFile } from "lowdb/node";

import type { GeneratedKey } from "../dkg/types.ts";

interface BatchFile {
  batch: number;
  keys: GeneratedKey[];
}

const FILE = /^batch-(\d{6,})\.json$/;

export class KeyStore {
  #batches = new Set<number>();

  private constructor(readonly dir: string) {}

  static async open(dir: string): Promise<KeyStore> {
    await mkdir(dir, { recursive: true });
    const store = new KeyStore(dir);
    for (const name of await readdir(dir)) {
      const match = FILE.exec(name);
      if (match) store.#batches.add(Number(match[1]));
    }
    return store;
  }

  get batches(): number {
    return this.#batches.size;
  }

  #file(batch: number): string {
    return path.join(this.dir, `batch-${String(batch).padStart(6, "0")}.json`);
  }

  async saveBatch(batch: number, keys: GeneratedKey[]): Promise<void> {
    if (this.#batches.has(batch)) return; // immutable once written
    // `new Low(new JSONFile(…))`, not JSONFilePreset: the preset silently keeps data in memory when NODE_ENV=test.
    const db = new Low<BatchFile>(new JSONFile<BatchFile>(this.#file(batch)), { batch, keys });
    db.data = { batch, keys };
    await db.write();
    this.#batches.add(batch);
  }

  async loadBatch(batch: number): Promise<GeneratedKey[] | undefined> {
    if (!this.#batches.has(batch)) return undefined;
    const db = new Low<BatchFile>(new JSONFile<BatchFile>(this.#file(batch)), { batch, keys: [] });
    await db.read();
    return db.data.keys;
  }

  /** The share record of a key index, found in its batch (key indexes are allocated in batch order). */
  /** The key with this index, from the file of its batch (batches count from `firstKeyIndex`). */
  async findKey(keyIndex: number, keysPerBatch: number, firstKeyIndex = 0): Promise<GeneratedKey | undefined> {
    if (keyIndex < firstKeyIndex) return undefined;
    const keys = await this.loadBatch(Math.floor((keyIndex - firstKeyIndex) / keysPerBatch));
    return keys?.find((k) => k.keyIndex === keyIndex);
  }
}
