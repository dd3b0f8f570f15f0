/**
 * The storage engines a typed store's tests run on, each with a reopen that stands for a node stopped and started
 * again: in memory (the same KvStore, the typed store opened anew over it) and SQLite (a new file under the test's
 * temporary directory, closed and opened again).
 */
import path from "node:path";

import type { KvStore } from "../../node/store/kv-store.ts";
import { MemoryStore } from "../../node/store/memory-store.ts";
import { SqliteStore, type SqliteOptions } from "../../node/store/sqlite-store.ts";

export interface StoreEngine<S> {
  name: string;
  /** A fresh, empty store. */
  fresh(): Promise<KvStore>;
  /** The typed store in the same KvStore after the process stopped and started again. */
  reopen(store: S, kv: KvStore): Promise<{ store: S; kv: KvStore }>;
}

/** Both engines for the typed store `open` builds over a KvStore; SQLite files go to `dir()` as `<prefix>-<n>.sqlite`. */
export function storeEngines<S extends { close(): Promise<void> }>(options: {
  dir: () => string;
  prefix: string;
  open: (kv: KvStore) => Promise<S>;
  sqlite?: SqliteOptions;
}): StoreEngine<S>[] {
  const { dir, prefix, open, sqlite } = options;
  const fileOf = new WeakMap<KvStore, string>();
  let files = 0;
  const openFile = async (file: string) => {
    const kv = await SqliteStore.open(file, sqlite);
    fileOf.set(kv, file);
    return kv;
  };
  return [
    {
      name: "in memory",
      fresh: () => Promise.resolve(new MemoryStore()),
      reopen: async (_store, kv) => ({ store: await open(kv), kv }),
    },
    {
      name: "SQLite",
      fresh: () => openFile(path.join(dir(), `${prefix}-${files++}.sqlite`)),
      reopen: async (store, kv) => {
        await store.close();
        const again = await openFile(fileOf.get(kv)!);
        return { store: await open(again), kv: again };
      },
    },
  ];
}
