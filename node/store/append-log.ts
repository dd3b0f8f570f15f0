/**
 * An append-only log of records on disk, framed by `bft/wal.ts` (length + crc32): the BFT write-ahead log, the key
 * generation's records, the block store. `append(record, { sync: true })` returns once the record is on stable
 * storage (fsync), which is what "persist before you send" needs for anything this node signed. Opening the log reads
 * every record back; a torn tail (a crash in the middle of an append) is cut off, damage before it is an error.
 */
import { open, mkdir, readFile, rename, rm, type FileHandle } from "node:fs/promises";
import path from "node:path";

import { decodeWal, encodeWalRecord } from "../bft/wal.ts";
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from "./file-modes.ts";

export class AppendLog<T> {
  #file: FileHandle;
  #size: number;
  #pendingSync = false;

  private constructor(
    readonly path: string,
    file: FileHandle,
    size: number,
  ) {
    this.#file = file;
    this.#size = size;
  }

  /** Opens (or creates) the log and returns it with every record it holds, oldest first. */
  static async open<T>(file: string): Promise<{ log: AppendLog<T>; records: T[]; droppedTailBytes: number }> {
    await mkdir(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
    const handle = await open(file, "a+", PRIVATE_FILE_MODE);
    let decoded: ReturnType<typeof decodeWal>;
    let bytes: Buffer;
    try {
      bytes = await handle.readFile();
      decoded = decodeWal(bytes);
    } catch (error) {
      await handle.close();
      throw error;
    }
    const { records, droppedTailBytes } = decoded;
    const validBytes = bytes.length - droppedTailBytes;
    if (droppedTailBytes > 0) {
      await handle.truncate(validBytes);
      await handle.sync();
    }
    return { log: new AppendLog<T>(file, handle, validBytes), records: records as T[], droppedTailBytes };
  }

  get bytes(): number {
    return this.#size;
  }

  /** Appends one record; with `sync`, resolves only once it (and everything before it) is on stable storage. */
  async append(record: T, options: { sync?: boolean } = {}): Promise<void> {
    const frame = encodeWalRecord(record);
    await this.#file.appendFile(frame);
    this.#size += frame.length;
    this.#pendingSync = true;
    if (options.sync) await this.sync();
  }

  async sync(): Promise<void> {
    if (!this.#pendingSync) return;
    this.#pendingSync = false;
    await this.#file.sync();
  }

  /**
   * Replaces the log's records by `transform(records)` (the way a log drops what it no longer needs to keep), safe at
   * any crash: the new records go to a fresh file (0600, fsynced) that is renamed over the log, then the directory is
   * fsynced, so a restart finds the old log or the new one, whole. The old file is unlinked, not overwritten: what the
   * disk keeps of its bytes is the operator's concern (see node/store/retired-epoch.ts). Nothing may append meanwhile.
   */
  async rewrite(transform: (records: T[]) => T[]): Promise<void> {
    await this.sync();
    const kept = transform(decodeWal(await readFile(this.path)).records as T[]);
    const bytes = Buffer.concat(kept.map(encodeWalRecord));
    const temporary = `${this.path}.rewrite`;
    const handle = await open(temporary, "w", PRIVATE_FILE_MODE);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
      await rename(temporary, this.path);
    } catch (error) {
      await handle.close();
      await rm(temporary, { force: true });
      throw error;
    }
    const dir = await open(path.dirname(this.path), "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
    // The handle of the renamed file is the log's now: appends go on after its last record.
    const old = this.#file;
    this.#file = handle;
    this.#size = bytes.length;
    await old.close();
  }

  async close(): Promise<void> {
    await this.sync();
    await this.#file.close();
  }
}
