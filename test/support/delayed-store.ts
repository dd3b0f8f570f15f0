/**
 * A storage engine whose every call completes on a later turn of the event loop, as a networked database's does
 * (PostgreSQL): requests that interleave only across real waits can then race. Forwards to a real engine.
 */
import type { KvReader, KvStore, RangeQuery, StoreEntry, StoreOp } from "../../node/store/kv-store.ts";

const later = () => new Promise<void>((resolve) => setImmediate(resolve));

export class DelayedStore implements KvStore {
  readonly applied: KvReader;

  constructor(private readonly inner: KvStore) {
    this.applied = {
      get: async (key) => (await later(), inner.applied.get(key)),
      range: async (query) => (await later(), inner.applied.range(query)),
      count: async (query) => (await later(), inner.applied.count(query)),
    };
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    await later();
    return this.inner.get(key);
  }

  async commit(ops: readonly StoreOp[]): Promise<void> {
    await later();
    return this.inner.commit(ops);
  }

  async apply(ops: readonly StoreOp[]): Promise<void> {
    await later();
    return this.inner.apply(ops);
  }

  async durable(): Promise<void> {
    await later();
    return this.inner.durable();
  }

  async range(query: RangeQuery): Promise<StoreEntry[]> {
    await later();
    return this.inner.range(query);
  }

  async count(query: Omit<RangeQuery, "limit" | "reverse">): Promise<number> {
    await later();
    return this.inner.count(query);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
