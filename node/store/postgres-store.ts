/**
 * The PostgreSQL engine of the storage interface (kv-store.ts): one key space (a row of `spaces`, postgres-schema.ts)
 * of the shared `kv` table, keyed (space, k) with bytea keys, so a prefix range is one walk of the primary-key index
 * in bytewise order. Every statement is named (prepared once per connection) and a batch is one statement (a delete
 * of its deleted keys and an upsert of its put keys over arrays, joined in one WITH): atomic without an explicit
 * transaction, and one round trip whatever its size.
 *
 * Durability (postgres-database.ts): `apply` commits its batch without waiting for the WAL flush, the `applied` reads
 * read at once, and `durable()`, `commit` and the plain reads resolve only once a synchronous commit that started
 * after the writes they cover returned, so nothing is seen, let alone answered, before it is durable — as the
 * embedded engine's grouped fsync. An outage delays a call instead of failing it.
 */
import {
  boundsOf,
  checkKey,
  checkLimit,
  checkOps,
  StoreClosedError,
  type KvReader,
  type KvStore,
  type RangeQuery,
  type StoreEntry,
  type StoreOp,
} from "./kv-store.ts";
import type { PostgresDatabase } from "./postgres-database.ts";
import { SCHEMA } from "./postgres-schema.ts";

const KV = `${SCHEMA}.kv`;

/** The range statements, by [reverse][bounded above]: named, so each is prepared once per connection. */
const RANGE = [false, true].map((reverse) =>
  [false, true].map((bounded) => ({
    name: `kv-range-${reverse ? "desc" : "asc"}${bounded ? "-bounded" : ""}`,
    text:
      `SELECT k, v FROM ${KV} WHERE space = $1 AND k >= $2${bounded ? " AND k < $4" : ""} ` +
      `ORDER BY k ${reverse ? "DESC" : "ASC"} LIMIT $3`,
  })),
);

const COUNT = [false, true].map((bounded) => ({
  name: `kv-count${bounded ? "-bounded" : ""}`,
  text: `SELECT count(*) AS n FROM ${KV} WHERE space = $1 AND k >= $2${bounded ? " AND k < $3" : ""}`,
}));

const GET = { name: "kv-get", text: `SELECT v FROM ${KV} WHERE space = $1 AND k = $2` };

/** One batch: its deleted keys go, its put keys are inserted or overwritten (the two sets are disjoint). */
const WRITE = {
  name: "kv-write",
  text:
    `WITH deleted AS (DELETE FROM ${KV} WHERE space = $1 AND k = ANY ($2::bytea[])) ` +
    `INSERT INTO ${KV} (space, k, v) SELECT $1, k, v FROM unnest($3::bytea[], $4::bytea[]) AS batch (k, v) ` +
    `ON CONFLICT (space, k) DO UPDATE SET v = excluded.v`,
};

/** A copy of what `pg` parsed (a Buffer, which may share a slab with other values). */
const bytesOf = (value: Buffer) => new Uint8Array(value);
const asBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);

export class PostgresStore implements KvStore {
  #closed = false;

  /** The store of key space `space` (an id of `spaces`: postgres-binding.ts hands them out). */
  constructor(
    private readonly db: PostgresDatabase,
    readonly space: number,
  ) {}

  /** The reads without waiting for durability (kv-store.ts, "Pipelined writes"). */
  readonly applied: KvReader = {
    get: (key) => this.#get(key),
    range: (query) => this.#range(query),
    count: (query) => this.#count(query),
  };

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.#durable(this.#get(key));
  }

  range(query: RangeQuery): Promise<StoreEntry[]> {
    return this.#durable(this.#range(query));
  }

  count(query: Omit<RangeQuery, "limit" | "reverse">): Promise<number> {
    return this.#durable(this.#count(query));
  }

  async commit(ops: readonly StoreOp[]): Promise<void> {
    await this.apply(ops);
    await this.db.durable();
  }

  durable(): Promise<void> {
    return this.db.durable();
  }

  /** Closes this store once its writes are durable: the connections belong to the database, closed last. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.db.durable().catch(() => undefined);
  }

  /** A read's result, once everything applied before it answered is durable. */
  async #durable<T>(read: Promise<T>): Promise<T> {
    const result = await read;
    await this.db.durable();
    return result;
  }

  async #get(key: Uint8Array): Promise<Uint8Array | undefined> {
    this.#open();
    checkKey(key);
    const { rows } = await this.db.query<{ v: Buffer }>({ ...GET, values: [this.space, asBuffer(key)] });
    return rows[0] && bytesOf(rows[0].v);
  }

  async #range(query: RangeQuery): Promise<StoreEntry[]> {
    this.#open();
    checkLimit(query.limit);
    const { lo, hi } = boundsOf(query);
    const values: unknown[] = [this.space, asBuffer(lo), query.limit];
    if (hi) values.push(asBuffer(hi));
    const statement = RANGE[query.reverse ? 1 : 0]![hi ? 1 : 0]!;
    const { rows } = await this.db.query<{ k: Buffer; v: Buffer }>({ ...statement, values });
    return rows.map((row) => ({ key: bytesOf(row.k), value: bytesOf(row.v) }));
  }

  async #count(query: Omit<RangeQuery, "limit" | "reverse">): Promise<number> {
    this.#open();
    const { lo, hi } = boundsOf(query);
    const values: unknown[] = [this.space, asBuffer(lo)];
    if (hi) values.push(asBuffer(hi));
    const { rows } = await this.db.query<{ n: string }>({ ...COUNT[hi ? 1 : 0]!, values });
    return Number(rows[0]!.n);
  }

  async apply(ops: readonly StoreOp[]): Promise<void> {
    this.#open();
    checkOps(ops);
    // The last operation on a key wins: one statement cannot touch a row twice.
    const last = new Map<string, StoreOp>();
    for (const op of ops) last.set(Buffer.from(op.key).toString("latin1"), op);
    if (last.size === 0) return;
    const deleted: Buffer[] = [];
    const keys: Buffer[] = [];
    const values: Buffer[] = [];
    for (const op of last.values()) {
      if (op.type === "del") deleted.push(asBuffer(op.key));
      else {
        keys.push(asBuffer(op.key));
        values.push(asBuffer(op.value));
      }
    }
    await this.db.write({ ...WRITE, values: [this.space, deleted, keys, values] });
  }

  #open(): void {
    if (this.#closed) throw new StoreClosedError();
  }
}
