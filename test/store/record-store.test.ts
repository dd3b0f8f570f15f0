/**
 * The record store (node/store/record-store.ts) on both engines: records read back in order, page by page, across a
 * reopen; the seq goes on after the last row; a compaction deletes what its predicate picks and appends its
 * replacement after the last record, or changes nothing when its batch fails. On SQLite: the pipelined appends (an
 * unsynced one resolves before any fsync, a synced one, `sync` and a compaction only after one that covers them), a
 * compacted record's bytes gone from the files (secure deletion and the WAL truncated). A child killed with SIGKILL
 * finds every acknowledged record, and each compaction whole or not at all: kill-9.e2e.test.ts.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import { StoreInputError, type KvStore, type RangeQuery } from "../../node/store/kv-store.ts";
import { RECORD_PAGE, RecordStore, recordKeys } from "../../node/store/record-store.ts";
import { SqliteStore } from "../../node/store/sqlite-store.ts";
import { HeldFsync, tick, tracked } from "../support/held-fsync.ts";
import { rejection } from "../support/refusal.ts";
import { storeEngines } from "../support/store-engines.ts";

type Item = { batch: number; i: number; secret?: string } | { erased: number };

const item = (batch: number, i: number): Item => ({ batch, i });
const batchOf = (r: Item) => ("batch" in r ? r.batch : -1);

async function all<T>(store: RecordStore<T>, pageSize?: number): Promise<T[]> {
  const records: T[] = [];
  for await (const record of store.records(pageSize)) records.push(record);
  return records;
}

/** A store that notes the limit of every range read, and fails every batch with a deletion while `failing`. */
class Watched {
  readonly limits: number[] = [];
  failing = false;
  readonly store: KvStore;
  constructor(kv: KvStore) {
    this.store = this.#watch(kv);
  }
  #watch(kv: KvStore): KvStore {
    return new Proxy(kv, {
      get: (target, property, receiver) => {
        if (property === "range")
          return (query: RangeQuery) => {
            this.limits.push(query.limit);
            return target.range(query);
          };
        if (property === "apply")
          return (ops: Parameters<KvStore["apply"]>[0]) =>
            this.failing && ops.some((op) => op.type === "del")
              ? Promise.reject(new Error("the disk is full"))
              : target.apply(ops);
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  }
}

let dir: string;
let files = 0;

const engines = storeEngines({
  dir: () => dir,
  prefix: "records",
  open: (kv) => RecordStore.open<Item>(kv),
  sqlite: { secureDelete: true },
});

describe("the record store: an ordered log of typed records in a KvStore, compacted in atomic batches", function () {
  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "record-store-"));
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  for (const engine of engines) {
    describe(engine.name, function () {
      let kv: KvStore;
      let store: RecordStore<Item>;
      beforeEach(async function () {
        kv = await engine.fresh();
        store = await RecordStore.open<Item>(kv);
      });
      afterEach(async function () {
        await store.close();
      });
      const reopen = async () => ({ store, kv } = await engine.reopen(store, kv));

      it("reads the records back in the order they were appended, across a reopen, and appends after them", async function () {
        expect(await all(store)).to.deep.equal([]);
        for (let i = 0; i < 5; i++) await store.append(item(0, i), { sync: i === 4 });
        await store.sync();
        await reopen();
        expect(await all(store)).to.deep.equal([0, 1, 2, 3, 4].map((i) => item(0, i)));
        await store.append(item(1, 0));
        await store.append(item(1, 1));
        await reopen();
        expect(await all(store)).to.deep.equal([...[0, 1, 2, 3, 4].map((i) => item(0, i)), item(1, 0), item(1, 1)]);
        expect(await store.count()).to.equal(7);
      });

      it("pages through the records, never reading more than a page at once", async function () {
        const watched = new Watched(kv);
        const paged = await RecordStore.open<Item>(watched.store);
        const records = Array.from({ length: 10 }, (_, i) => item(0, i));
        for (const record of records) await paged.append(record);
        watched.limits.length = 0;
        expect(await all(paged, 3)).to.deep.equal(records);
        expect(watched.limits).to.deep.equal([3, 3, 3, 3]);
        watched.limits.length = 0;
        expect(await all(paged)).to.deep.equal(records);
        expect(watched.limits).to.deep.equal([RECORD_PAGE]);
        // Pages are read as the caller goes: a record appended meanwhile, after the last one read, is seen once.
        const seen: Item[] = [];
        for await (const record of paged.records(4)) {
          seen.push(record);
          if (seen.length === 1) await paged.append(item(1, 0));
        }
        expect(seen).to.deep.equal([...records, item(1, 0)]);
        expect((await rejection(all(paged, 0))).name).to.equal(StoreInputError.name);
      });

      it("compacts: deletes what the predicate picks and appends the replacement after the last record, seq going on", async function () {
        for (const batch of [0, 1, 2]) for (let i = 0; i < 3; i++) await store.append(item(batch, i));
        let picked: Item[] = [];
        const deleted = await store.compact(
          (r) => batchOf(r) === 1,
          (records) => ((picked = records), [{ erased: 1 }]),
        );
        expect(deleted).to.equal(3);
        expect(picked).to.deep.equal([item(1, 0), item(1, 1), item(1, 2)]);
        const after = [0, 2].flatMap((batch) => [0, 1, 2].map((i) => item(batch, i)));
        expect(await all(store)).to.deep.equal([...after, { erased: 1 }]);
        // Nothing picked: nothing written, the replacement not called.
        expect(
          await store.compact(
            () => false,
            () => expect.fail("replace called"),
          ),
        ).to.equal(0);
        // The last rows deleted: a record appended after a reopen still sorts after every record kept.
        await store.compact((r) => "erased" in r || batchOf(r) === 2);
        await store.append(item(3, 0));
        await reopen();
        await store.append(item(3, 1));
        expect(await all(store)).to.deep.equal([item(0, 0), item(0, 1), item(0, 2), item(3, 0), item(3, 1)]);
        expect(await kv.count({ prefix: recordKeys.all() })).to.equal(5);
      });

      it("leaves every record, and the seq, as they were when a compaction's batch fails", async function () {
        const watched = new Watched(kv);
        const failing = await RecordStore.open<Item>(watched.store);
        for (let i = 0; i < 4; i++) await failing.append(item(i % 2, i));
        const before = await all(failing);
        watched.failing = true;
        const error = await rejection(
          failing.compact(
            (r) => batchOf(r) === 0,
            () => [{ erased: 0 }],
          ),
        );
        expect(error.message).to.equal("the disk is full");
        expect(await all(failing)).to.deep.equal(before);
        watched.failing = false;
        await failing.append(item(2, 4)); // the queue goes on after the failed section
        await failing.compact(
          (r) => batchOf(r) === 0,
          () => [{ erased: 0 }],
        );
        expect(await all(failing)).to.deep.equal([item(1, 1), item(1, 3), item(2, 4), { erased: 0 }]);
      });

      it("refuses writes once closed", async function () {
        await store.close();
        expect((await rejection(store.append(item(0, 0)))).name).to.equal("StoreClosedError");
        expect((await rejection(store.compact(() => true))).name).to.equal("StoreClosedError");
        store = await RecordStore.open<Item>(await engine.fresh()); // for afterEach
      });
    });
  }

  describe("on SQLite", function () {
    it("resolves an unsynced append before any fsync, a synced one, sync and a compaction only after an fsync covering them", async function () {
      const held = new HeldFsync();
      const kv = await SqliteStore.open(path.join(dir, `held-${files++}.sqlite`), { fsync: held.fsync });
      const store = await RecordStore.open<Item>(kv);
      await store.append(item(0, 0)); // resolves: no fsync has run
      expect(held.fsyncs.filter((f) => f.end !== undefined)).to.have.length(0);
      expect(await kv.applied.count({ prefix: recordKeys.all() })).to.equal(1);

      const written = held.timeline.mark();
      const synced = tracked(store.append(item(0, 1), { sync: true }));
      const beforeSend = tracked(store.sync());
      for (let i = 0; i < 5; i++) await tick();
      expect(synced.settled || beforeSend.settled).to.equal(false);
      while (!synced.settled || !beforeSend.settled) {
        held.release();
        await tick();
      }
      expect(held.covered(written, held.timeline.mark())).to.equal(true);

      const called = held.timeline.mark();
      const compacting = tracked(store.compact((r) => batchOf(r) === 0));
      for (let i = 0; i < 5; i++) await tick();
      expect(compacting.settled).to.equal(false);
      while (!compacting.settled) {
        held.release();
        await tick();
      }
      expect(compacting.error).to.equal(undefined);
      expect(held.covered(called, held.timeline.mark())).to.equal(true);
      held.release();
      await store.close();
    });

    it("takes a compacted record's bytes out of the database and WAL files (secure deletion, the WAL truncated)", async function () {
      const file = path.join(dir, `secret-${files++}.sqlite`);
      const kv = await SqliteStore.open(file, { secureDelete: true });
      const store = await RecordStore.open<Item>(kv, { afterCompaction: () => kv.truncateWal() });
      const bytes = async () =>
        Buffer.concat([await readFile(file), await readFile(`${file}-wal`).catch(() => Buffer.alloc(0))]).toString(
          "latin1",
        );
      // Two batches interleaved, of records small and large (overflow pages), so that pages split and hold both. A
      // secret is the record's first 64 hex digits, which lie in its B-tree cell (a large record's rest goes to
      // overflow pages, which split it).
      const secrets: string[][] = [[], []];
      for (let i = 0; i < 120; i++) {
        const batch = i % 2;
        const secret = randomBytes(32).toString("hex");
        secrets[batch]!.push(secret);
        await store.append({ batch, i, secret: secret + "ab".repeat([10, 600, 3000][i % 3]!) }, { sync: i % 10 === 0 });
      }
      await store.sync();
      const before = await bytes();
      expect(
        secrets.flat().filter((s) => !before.includes(s)),
        "secrets not written",
      ).to.deep.equal([]);

      expect(await store.compact((r) => batchOf(r) === 0)).to.equal(60);
      const after = await bytes();
      expect(
        secrets[0]!.filter((s) => after.includes(s)),
        "batch 0 secrets left",
      ).to.deep.equal([]);
      expect(secrets[1]!.filter((s) => !after.includes(s))).to.deep.equal([]);
      expect((await readFile(`${file}-wal`)).length, "the truncated WAL").to.equal(0);
      // Appends go on after the truncation, and survive a reopen.
      await store.append(item(2, 0), { sync: true });
      await store.close();
      const again = await RecordStore.open<Item>(await SqliteStore.open(file, { secureDelete: true }));
      const records = await all(again);
      expect(records).to.have.length(61);
      expect(records.at(-1)).to.deep.equal(item(2, 0));
      await again.close();
    });
  });
});
