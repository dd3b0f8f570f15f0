/**
 * This node's shares of generated keys, one lowdb file per key-generation batch (`batch-000042.json`): a batch is
 * written once, when it is complete, so no write ever rewrites more than one batch, and the atomic replace (a 0600
 * temporary file, fsynced, then renamed: private-json-file.ts) means a crash leaves either the whole batch or none of
 * it. The key generation's own log holds the same keys, so a batch lost before its file was written is rebuilt at
 * restart.
 *
 * A successor epoch also holds the keys moved to it by the handover, one file per handover chunk
 * (`moved-000003.json`), written the same way; its handover log holds them too. Moved key indexes need not be
 * consecutive (abandoned batches leave gaps), so an index of key → chunk is read at open.
 */
import { mkdir, open, readdir } from "node:fs/promises";
import path from "node:path";

import { Low } from "lowdb";

import type { GeneratedKey } from "../dkg/types.ts";
import { PRIVATE_DIR_MODE } from "./file-modes.ts";
import { PrivateJsonFile } from "./private-json-file.ts";

interface BatchFile {
  batch: number;
  keys: GeneratedKey[];
}

const FILE = /^batch-(\d{6,})\.json$/;
const MOVED_FILE = /^moved-(\d{6,})\.json$/;

export class KeyStore {
  #batches = new Set<number>();
  /** Moved key index → its handover chunk. */
  readonly #movedChunkOf = new Map<number, number>();
  readonly #storedListeners: ((keyIndexes: number[]) => void)[] = [];

  private constructor(readonly dir: string) {}

  static async open(dir: string): Promise<KeyStore> {
    await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    const store = new KeyStore(dir);
    for (const name of await readdir(dir)) {
      const match = FILE.exec(name);
      if (match) store.#batches.add(Number(match[1]));
      const moved = MOVED_FILE.exec(name);
      if (moved) {
        const chunk = Number(moved[1]);
        for (const key of (await store.#read(store.#movedFile(chunk))) ?? [])
          store.#movedChunkOf.set(key.keyIndex, chunk);
      }
    }
    return store;
  }

  #movedFile(chunk: number): string {
    return path.join(this.dir, `moved-${String(chunk).padStart(6, "0")}.json`);
  }

  async #read(file: string): Promise<GeneratedKey[] | undefined> {
    const db = new Low<BatchFile>(new PrivateJsonFile<BatchFile>(file), { batch: -1, keys: [] });
    await db.read();
    return db.data.keys;
  }

  async #write(file: string, batch: number, keys: GeneratedKey[]): Promise<void> {
    // `new Low(adapter)`, not JSONFilePreset: the preset silently keeps data in memory when NODE_ENV=test.
    const db = new Low<BatchFile>(new PrivateJsonFile<BatchFile>(file), { batch, keys });
    db.data = { batch, keys };
    await db.write();
  }

  /** The keys of a handover chunk, with this node's verified new shares (immutable once written). */
  async saveMoved(chunk: number, keys: GeneratedKey[]): Promise<void> {
    if (keys.length === 0 || this.#movedChunkOf.has(keys[0]!.keyIndex)) return;
    await this.#write(this.#movedFile(chunk), chunk, keys);
    for (const key of keys) this.#movedChunkOf.set(key.keyIndex, chunk);
    this.#stored(keys);
  }

  /**
   * Calls `listener` with the key indexes of every batch or moved chunk written from now on (a dealer that lacked
   * shares at the handover's freeze waits for them: HandoverDriver).
   */
  onStored(listener: (keyIndexes: number[]) => void): void {
    this.#storedListeners.push(listener);
  }

  #stored(keys: GeneratedKey[]): void {
    const keyIndexes = keys.map((k) => k.keyIndex);
    for (const listener of this.#storedListeners) listener(keyIndexes);
  }

  get movedKeys(): number {
    return this.#movedChunkOf.size;
  }

  get batches(): number {
    return this.#batches.size;
  }

  #file(batch: number): string {
    return path.join(this.dir, `batch-${String(batch).padStart(6, "0")}.json`);
  }

  hasBatch(batch: number): boolean {
    return this.#batches.has(batch);
  }

  async saveBatch(batch: number, keys: GeneratedKey[]): Promise<void> {
    if (this.#batches.has(batch)) return; // immutable once written
    await this.#write(this.#file(batch), batch, keys);
    this.#batches.add(batch);
    this.#stored(keys);
  }

  /**
   * Makes a written batch file durable (lowdb renames it into place without fsync): the file and the directory entry
   * are fsynced, after which a power loss cannot take the batch back — what must hold before the records that could
   * rebuild it are erased.
   */
  async makeDurable(batch: number): Promise<void> {
    if (!this.#batches.has(batch)) throw new Error(`batch ${batch} is not in the key store`);
    for (const [file, flags] of [
      [this.#file(batch), "r+"],
      [this.dir, "r"],
    ] as const) {
      const handle = await open(file, flags);
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
  }

  async loadBatch(batch: number): Promise<GeneratedKey[] | undefined> {
    if (!this.#batches.has(batch)) return undefined;
    return this.#read(this.#file(batch));
  }

  /**
   * The key with this index: a moved key from its chunk's file, a generated one from its batch's (batches count from
   * `firstKeyIndex`, where this epoch's key generation began).
   */
  async findKey(keyIndex: number, keysPerBatch: number, firstKeyIndex = 0): Promise<GeneratedKey | undefined> {
    const chunk = this.#movedChunkOf.get(keyIndex);
    if (chunk !== undefined) return (await this.#read(this.#movedFile(chunk)))?.find((k) => k.keyIndex === keyIndex);
    if (keyIndex < firstKeyIndex) return undefined;
    const keys = await this.loadBatch(Math.floor((keyIndex - firstKeyIndex) / keysPerBatch));
    return keys?.find((k) => k.keyIndex === keyIndex);
  }
}
