/**
 * An ordered log of typed records in a KvStore (kv-store.ts), for a protocol core's persisted records: the key
 * generation's (an epoch's `keygen.sqlite`) and the handover receiver's (`pss.sqlite`). Records are read back in the
 * order they were appended, page by page, and the ones a finished job no longer needs are deleted in one atomic
 * batch, so the store holds what is in flight, not the history.
 *
 * Key layout (key-codec.ts tuples): `("r", seq)` → the record as JSON, `seq` increasing with every record appended
 * and carried on at open from the last row (one reverse range of limit 1), so that a record appended after a
 * compaction or a restart still sorts after every record kept.
 *
 * Writes are serialized (write-queue.ts) and pipelined (kv-store.ts, "Pipelined writes"): `append` resolves once the
 * row is applied, or with `sync` once it is durable; `sync()` makes every record appended before it durable (persist
 * before send). `compact` resolves once its batch is durable.
 */
import { fromJsonBytes, integerAt, jsonBytes, key } from "./key-codec.ts";
import { scan, type KvStore, type StoreOp } from "./kv-store.ts";
import { WriteQueue } from "./write-queue.ts";

/**
 * Records read per page: a key-generation or handover record can be a few hundred kilobytes (a dealing, a sharing
 * with its commitments), so a page stays in the megabytes.
 */
export const RECORD_PAGE = 32;

export const recordKeys = {
  all: () => key("r"),
  record: (seq: number) => key("r", seq),
};

const SEQ_OFFSET = recordKeys.all().length;

export interface RecordStoreOptions {
  /**
   * Runs after a compaction's batch is durable, before `compact` resolves: an engine's step that takes the deleted
   * rows' bytes out of its files (SqliteStore.truncateWal with `secureDelete`).
   */
  afterCompaction?: () => Promise<unknown>;
}

export class RecordStore<T> {
  /** The next record's seq. */
  #seq: number;
  readonly #writes = new WriteQueue();

  private constructor(
    private readonly kv: KvStore,
    seq: number,
    private readonly options: RecordStoreOptions,
  ) {
    this.#seq = seq;
  }

  /** The records in `kv` (which the record store then owns): reads the last row's key, nothing else. */
  static async open<T>(kv: KvStore, options: RecordStoreOptions = {}): Promise<RecordStore<T>> {
    const [last] = await kv.range({ prefix: recordKeys.all(), reverse: true, limit: 1 });
    return new RecordStore<T>(kv, last ? integerAt(last.key, SEQ_OFFSET) + 1 : 0, options);
  }

  /** Appends one record; resolves once it is applied (visible to `records`), with `sync` once it is durable. */
  async append(record: T, options: { sync?: boolean } = {}): Promise<void> {
    await this.#writes.run(async () => {
      await this.kv.apply([{ type: "put", key: recordKeys.record(this.#seq), value: jsonBytes(record) }]);
      this.#seq++;
    });
    if (options.sync) await this.kv.durable();
  }

  /** Resolves once every record whose `append` was called before is durable: call it before sending a message. */
  async sync(): Promise<void> {
    await this.#writes.idle();
    await this.kv.durable();
  }

  /**
   * The records, oldest first, read RECORD_PAGE at a time (never all at once). What each page holds is durable. A
   * record appended or deleted while the caller iterates may or may not be seen; none is seen twice.
   */
  async *records(pageSize = RECORD_PAGE): AsyncGenerator<T, void, undefined> {
    for await (const entry of scan(this.kv, { prefix: recordKeys.all() }, pageSize))
      yield fromJsonBytes<T>(entry.value);
  }

  /** How many records the store holds (a walk over their keys: for logs and tests). */
  count(): Promise<number> {
    return this.kv.count({ prefix: recordKeys.all() });
  }

  /**
   * Deletes every record `select` picks and appends `replace(picked)` after the last record, in one atomic batch: a
   * crash leaves the records as they were or as compacted, never in between. Resolves, with the number of records
   * deleted, once the batch is durable (and `afterCompaction` ran). Reads every record, a page at a time, inside the
   * write queue: appends wait meanwhile. When `select` picks nothing, nothing is written.
   */
  async compact(select: (record: T) => boolean, replace: (picked: T[]) => T[] = () => []): Promise<number> {
    return this.#writes.run(async () => {
      const ops: StoreOp[] = [];
      const picked: T[] = [];
      for await (const entry of scan(this.kv.applied, { prefix: recordKeys.all() }, RECORD_PAGE)) {
        const record = fromJsonBytes<T>(entry.value);
        if (!select(record)) continue;
        ops.push({ type: "del", key: entry.key });
        picked.push(record);
      }
      if (picked.length === 0) return 0;
      let seq = this.#seq;
      for (const record of replace(picked))
        ops.push({ type: "put", key: recordKeys.record(seq++), value: jsonBytes(record) });
      await this.kv.apply(ops);
      this.#seq = seq;
      await this.kv.durable();
      await this.options.afterCompaction?.();
      return picked.length;
    });
  }

  /** Waits for the writes under way, then closes the KvStore. */
  close(): Promise<void> {
    return this.#writes.close(() => this.kv.close());
  }
}
