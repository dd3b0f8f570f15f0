/**
 * The in-memory engine of the storage interface (kv-store.ts), for simulations and service-level tests: deterministic,
 * nothing survives the process. Keys live as latin1 strings (one char per byte), whose JavaScript order is the bytewise
 * order the contract asks for, in a sorted array beside a map; a batch is checked whole before any of it is applied.
 * Nothing is more durable than the process here, so a batch is as durable as it will be once applied: `apply` is
 * `commit`, `applied` reads are the plain reads, `durable()` is resolved.
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
import { settle } from "./settle.ts";

const asString = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1");
const asBytes = (key: string) => new Uint8Array(Buffer.from(key, "latin1"));

export class MemoryStore implements KvStore {
  readonly #values = new Map<string, Uint8Array>();
  /** Every key, in order. */
  readonly #keys: string[] = [];
  #closed = false;

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return settle(() => {
      this.#open();
      checkKey(key);
      return this.#values.get(asString(key))?.slice();
    });
  }

  readonly applied: KvReader = this;

  commit(ops: readonly StoreOp[]): Promise<void> {
    return this.apply(ops);
  }

  durable(): Promise<void> {
    return Promise.resolve();
  }

  apply(ops: readonly StoreOp[]): Promise<void> {
    return settle(() => {
      this.#open();
      checkOps(ops);
      for (const op of ops) {
        const key = asString(op.key);
        if (op.type === "put") {
          if (!this.#values.has(key)) this.#keys.splice(this.#indexOf(key), 0, key);
          this.#values.set(key, op.value.slice());
        } else if (this.#values.delete(key)) this.#keys.splice(this.#indexOf(key), 1);
      }
    });
  }

  range(query: RangeQuery): Promise<StoreEntry[]> {
    return settle(() => {
      this.#open();
      checkLimit(query.limit);
      const [from, to] = this.#slice(query);
      const keys = query.reverse
        ? this.#keys.slice(Math.max(from, to - query.limit), to).reverse()
        : this.#keys.slice(from, Math.min(to, from + query.limit));
      return keys.map((key) => ({ key: asBytes(key), value: this.#values.get(key)!.slice() }));
    });
  }

  count(query: Omit<RangeQuery, "limit" | "reverse">): Promise<number> {
    return settle(() => {
      this.#open();
      const [from, to] = this.#slice(query);
      return to - from;
    });
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  /** The positions [from, to) of the keys a query covers. */
  #slice(query: Omit<RangeQuery, "limit" | "reverse">): [number, number] {
    const { lo, hi } = boundsOf(query);
    const from = this.#indexOf(asString(lo));
    const to = hi === undefined ? this.#keys.length : this.#indexOf(asString(hi));
    return [from, Math.max(from, to)];
  }

  /** The position of the first key ≥ `key` (binary search). */
  #indexOf(key: string): number {
    let lo = 0;
    let hi = this.#keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#keys[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #open(): void {
    if (this.#closed) throw new StoreClosedError();
  }
}
