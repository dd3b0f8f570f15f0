/**
 * An append-only log of records on disk, framed by `bft/wal.ts` (length + crc32): the BFT write-ahead log, the key
 * generation's records, the block store. `append(record, { sync: true })` returns once the record is on stable
 * storage (fsync), which is what "persist before you send" needs for anything this node signed. Opening the log reads
 * every record back; a torn tail (a crash in the middle of an append) is cut off, damage before it is an error.
 */
import { open, mkdir, type FileHandle } from "node:fs/promises";
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

  async close(): Promise<void> {
    await this.sync();
    await this.#file.close();
  }
}
