/**
 * The one storage interface a node's drivers keep their state through: an ordered key–value store with atomic write
 * batches, on which typed stores are built (commit–reveal records in node/auth/commitments.ts, key shares in
 * key-store.ts, blocks by height and the app state in chain-store.ts and app-state-store.ts, the key-generation and
 * handover records in record-store.ts). Engines: in memory for
 * simulations (memory-store.ts), `node:sqlite` embedded on disk (sqlite-store.ts), PostgreSQL (postgres-store.ts, for
 * the public stores of a node configured with a database); test/store/storage-contract.ts checks this contract for
 * every engine.
 *
 * Contract:
 * - Keys and values are byte strings; keys are 1..MAX_KEY_BYTES long, values at most MAX_VALUE_BYTES. Keys order
 *   bytewise (memcmp, a prefix before its extensions), the order of SQLite BLOBs, LevelDB and PostgreSQL `bytea`.
 *   Typed stores build ordered keys with key-codec.ts.
 * - `commit(ops)` applies every put and delete of the batch or none of them: a batch refused for bad input, or one
 *   whose write fails, leaves the store as it was. Later operations of a batch win over earlier ones on the same key.
 *   Once `commit` resolves the batch is durable (the engine's promise, see its header) and visible to every read.
 * - `range` returns at most `limit` entries whose keys start with `prefix` and lie in [start, end), in key order
 *   (descending with `reverse`). `limit` is required: nothing is ever read whole. Page on with `start =
 *   keyAfter(last)` (or `end = last` in reverse).
 * - `count` counts the keys under a prefix in [start, end); it costs the engine a walk over them, so it is for sets
 *   the caller knows to be bounded.
 * - Reads see every committed or applied batch; a batch is never half-visible. Callers serialize their own read–modify–write
 *   sequences (the store has no read-your-writes transactions).
 * - Pipelined writes, for a caller that serializes its changes and would otherwise wait for one durable write per
 *   change. `apply(ops)` is `commit` without the wait: it resolves once the batch is applied (as atomically, refused as
 *   `commit` refuses) and visible to every read, durable or not yet. `applied` reads the same data as the plain reads
 *   but resolves at once; the plain reads (`get`, `range`, `count`) resolve only once what they saw is durable.
 *   `durable()` resolves once every batch applied before the call is durable (it also does after `close`, which makes
 *   them so), and rejects if that can no longer be had; `commit(ops)` is `apply(ops)` then `durable()`.
 *   The rule for the caller: inside its serialized section it reads through `applied` and writes with `apply`, and
 *   releases the section once its batch is applied (the next section reads it); it answers its own caller only after
 *   a `durable()` called after the section's last read and write, since what it decided may rest on batches of earlier
 *   sections not yet durable. Nothing read through `applied` leaves the process before then. Many sections share one
 *   durable write that way (group commit). An engine whose commits are durable when they return (memory, PostgreSQL)
 *   implements `apply` as `commit`, `applied` as its own reads, and `durable()` as resolved.
 * - Bad input (a key or value that is not a Uint8Array, an empty or oversized key, an unknown operation, a limit that
 *   is not a positive integer) is refused with a StoreInputError naming it, and changes nothing.
 */

export const MAX_KEY_BYTES = 1024;
export const MAX_VALUE_BYTES = 16 * 1024 * 1024;
/** The most entries one range may return: a caller pages through more. */
export const MAX_RANGE_LIMIT = 100_000;

export type StoreOp = { type: "put"; key: Uint8Array; value: Uint8Array } | { type: "del"; key: Uint8Array };

export interface StoreEntry {
  key: Uint8Array;
  value: Uint8Array;
}

export interface RangeQuery {
  prefix: Uint8Array;
  /** Inclusive lower bound (keys below it are skipped). */
  start?: Uint8Array | undefined;
  /** Exclusive upper bound. */
  end?: Uint8Array | undefined;
  limit: number;
  reverse?: boolean | undefined;
}

/** The reads of a store. */
export interface KvReader {
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  range(query: RangeQuery): Promise<StoreEntry[]>;
  count(query: Omit<RangeQuery, "limit" | "reverse">): Promise<number>;
}

/** A store: its reads resolve once what they return is durable. */
export interface KvStore extends KvReader {
  /** Applies every operation or none; resolves once the batch is durable. */
  commit(ops: readonly StoreOp[]): Promise<void>;
  /** Applies every operation or none; resolves once the batch is applied (visible), before it is durable. */
  apply(ops: readonly StoreOp[]): Promise<void>;
  /** Reads of every applied batch, durable or not, for a serialized writer: see "Pipelined writes" above. */
  readonly applied: KvReader;
  /** Resolves once every batch applied before this call is durable. */
  durable(): Promise<void>;
  close(): Promise<void>;
}

/** Input the store refuses; nothing was changed. */
export class StoreInputError extends TypeError {
  readonly code = "STORE_INPUT";
  override name = "StoreInputError";
}

/** An operation on a store that was closed. */
export class StoreClosedError extends Error {
  readonly code = "STORE_CLOSED";
  override name = "StoreClosedError";
  constructor() {
    super("the store is closed");
  }
}

export function checkKey(key: unknown, what = "key"): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array)) throw new StoreInputError(`${what} must be a Uint8Array`);
  if (key.length === 0) throw new StoreInputError(`${what} must not be empty`);
  if (key.length > MAX_KEY_BYTES)
    throw new StoreInputError(`${what} is ${key.length} bytes, more than the ${MAX_KEY_BYTES} a key may have`);
}

/** Checks a whole batch before any of it is applied. */
export function checkOps(ops: unknown): asserts ops is readonly StoreOp[] {
  if (!Array.isArray(ops)) throw new StoreInputError("a batch must be an array of operations");
  ops.forEach((op: unknown, i) => {
    if (typeof op !== "object" || op === null) throw new StoreInputError(`operation ${i} is not an object`);
    const { type, key, value } = op as Record<string, unknown>;
    checkKey(key, `operation ${i}'s key`);
    if (type === "del") return;
    if (type !== "put") throw new StoreInputError(`operation ${i} has unknown type ${JSON.stringify(type)}`);
    if (!(value instanceof Uint8Array)) throw new StoreInputError(`operation ${i}'s value must be a Uint8Array`);
    if (value.length > MAX_VALUE_BYTES)
      throw new StoreInputError(`operation ${i}'s value is ${value.length} bytes, more than ${MAX_VALUE_BYTES}`);
  });
}

/** The bounds [lo, hi) a query covers (hi undefined: no upper bound), after checking its input. */
export function boundsOf(query: Omit<RangeQuery, "limit" | "reverse">): { lo: Uint8Array; hi: Uint8Array | undefined } {
  if (!(query.prefix instanceof Uint8Array)) throw new StoreInputError("prefix must be a Uint8Array");
  if (query.start !== undefined) checkKey(query.start, "start");
  if (query.end !== undefined) checkKey(query.end, "end");
  let lo = query.prefix;
  if (query.start && compareBytes(query.start, lo) > 0) lo = query.start;
  let hi = prefixEnd(query.prefix);
  if (query.end && (hi === undefined || compareBytes(query.end, hi) < 0)) hi = query.end;
  return { lo, hi };
}

export function checkLimit(limit: unknown): asserts limit is number {
  if (!Number.isSafeInteger(limit) || (limit as number) < 1 || (limit as number) > MAX_RANGE_LIMIT)
    throw new StoreInputError(`limit must be an integer from 1 to ${MAX_RANGE_LIMIT}, not ${String(limit)}`);
}

/** The smallest key after every key starting with `prefix`, or undefined when there is none (all 0xff, or empty). */
export function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i] !== 0xff) {
      const end = prefix.slice(0, i + 1);
      end[i]! += 1;
      return end;
    }
  }
  return undefined;
}

/**
 * Every entry of a range, in key order, read `pageSize` (1..MAX_RANGE_LIMIT) at a time: never more than one page in
 * memory. Each page is read when the caller asks past the previous one, so an entry written or deleted meanwhile
 * (after the last key read) may or may not be seen; one already passed is not seen again.
 */
export async function* scan(
  reader: KvReader,
  query: Omit<RangeQuery, "limit" | "reverse">,
  pageSize: number,
): AsyncGenerator<StoreEntry, void, undefined> {
  checkLimit(pageSize);
  let start = query.start;
  for (;;) {
    const page = await reader.range({ ...query, start, limit: pageSize });
    yield* page;
    if (page.length < pageSize) return;
    start = keyAfter(page.at(-1)!.key);
  }
}

/** The smallest key after `key` (paging on after the last key a range returned). */
export function keyAfter(key: Uint8Array): Uint8Array {
  const next = new Uint8Array(key.length + 1);
  next.set(key);
  return next;
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
