/**
 * The stores keep what they acknowledged across a kill -9 of a real child process (a crash child: a script that
 * writes as fast as it can and prints "ack <n>" once write n is durable, killed with SIGKILL the moment it has
 * acknowledged a given write, while it is already writing the next one). The embedded engine loses no acknowledged
 * batch and keeps each whole; the record store finds every acknowledged record and each compaction whole or not at
 * all; the chain store finds the acknowledged block and head, and at most one height's WAL. These tests start
 * processes, so they run in the e2e tier; the rest of each store's suite is in sqlite-store.test.ts,
 * record-store.test.ts and chain-store.test.ts.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import { ChainStore, chainKeys, GENESIS_HEAD } from "../../node/store/chain-store.ts";
import { key } from "../../node/store/key-codec.ts";
import { RecordStore } from "../../node/store/record-store.ts";
import { SqliteStore } from "../../node/store/sqlite-store.ts";
import { killAfterAcks } from "../support/kill-child.ts";
import { nextCommit, timeoutRecord, WAL_RECORDS_PER_HEIGHT } from "./chain-store-crash-child.ts";
import { GROUP_SIZE, groupErasure, type CrashRecord } from "./record-store-crash-child.ts";
import { BATCH_KEYS, batchValue } from "./sqlite-crash-child.ts";

async function all<T>(store: RecordStore<T>, pageSize?: number): Promise<T[]> {
  const records: T[] = [];
  for await (const record of store.records(pageSize)) records.push(record);
  return records;
}

describe("stores killed with SIGKILL right after an acknowledged write (real child processes)", function () {
  let dir: string;
  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "kill-9-"));
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  describe("the embedded storage engine (node:sqlite)", function () {
    it("loses no batch acknowledged before a kill -9, and keeps every batch whole (a real child process)", async function () {
      this.timeout(60_000);
      const file = path.join(dir, "crash", "store.sqlite");
      // Killed the moment it says a write is acknowledged, while it is already writing the next one.
      const acked = await killAfterAcks(path.join(import.meta.dirname, "sqlite-crash-child.ts"), [file], 300);

      const store = await SqliteStore.open(file);
      const head = (await store.get(key("head")))!;
      const headNumber = Number(Buffer.from(head.subarray(1)).readBigUInt64BE());
      expect(headNumber).to.be.at.least(acked);
      for (let i = 0; i <= headNumber; i++) {
        const batch = await store.range({ prefix: key("batch", i), limit: BATCH_KEYS + 1 });
        expect(batch, `batch ${i}`).to.have.length(BATCH_KEYS);
        expect(
          batch.every((e) => Buffer.from(e.value).equals(batchValue(i))),
          `batch ${i}`,
        ).to.equal(true);
      }
      // Nothing after the head: the batch being written when the kill came is absent or whole (it is the head then).
      expect(await store.count({ prefix: key("batch", headNumber + 1) })).to.equal(0);
      expect(await store.count({ prefix: key("batch") })).to.equal((headNumber + 1) * BATCH_KEYS);
      await store.close();
    });
  });

  describe("the record store: an ordered log of typed records in a KvStore, compacted in atomic batches", function () {
    describe("on SQLite", function () {
      it("finds every record acknowledged before a kill -9 of a real child process, and each compaction whole or not at all", async function () {
        this.timeout(60_000);
        const file = path.join(dir, "crash", "records.sqlite");
        // Killed the moment it says a write is acknowledged, while it is already writing the next one.
        const acked = await killAfterAcks(path.join(import.meta.dirname, "record-store-crash-child.ts"), [file], 60);

        const store = await RecordStore.open<CrashRecord>(await SqliteStore.open(file, { secureDelete: true }));
        const records = await all(store);
        const markers = records.filter((r) => r.kind === "erased");
        expect(markers, "one erased record").to.have.length(1);
        const erased = markers[0]!.group;
        expect(erased, "the acknowledged compactions").to.be.at.least(acked - 2);
        const items = records.filter((r) => r.kind === "item");
        // Every group after the erased one, in order and whole (the last one may be cut short: it was not acknowledged),
        // the acknowledged ones among them; nothing of the erased groups.
        const groups = [...new Set(items.map((r) => r.group))];
        expect(groups[0]).to.equal(erased + 1);
        expect(groups.at(-1)).to.be.at.least(acked);
        items.forEach((r, n) =>
          expect({ group: r.group, i: r.i }).to.deep.equal({
            group: erased + 1 + Math.floor(n / GROUP_SIZE),
            i: n % GROUP_SIZE,
          }),
        );
        expect(items.length % GROUP_SIZE === 0 || groups.at(-1)! > acked).to.equal(true);
        // The seq goes on from the last row: a record appended now comes last, and the next compaction works.
        const next = groups.at(-1)! + 1;
        await store.append({ kind: "item", group: next, i: 0, pad: "" }, { sync: true });
        const { select, replace } = groupErasure(erased + 1);
        expect(await store.compact(select, replace)).to.equal(GROUP_SIZE + 1);
        const now = await all(store);
        expect(now.at(-2)).to.deep.include({ group: next, i: 0 });
        expect(now.at(-1)).to.deep.equal({ kind: "erased", group: erased + 1 });
        await store.close();
      });
    });
  });

  describe("the chain store: blocks, the committed head and the BFT write-ahead log in one KvStore", function () {
    describe("on SQLite", function () {
      it("finds the block and head acknowledged before a kill -9 of a real child process", async function () {
        this.timeout(60_000);
        const file = path.join(dir, "crash", "chain.sqlite");
        // Killed the moment it says a write is acknowledged, while it is already writing the next one.
        const acked = await killAfterAcks(path.join(import.meta.dirname, "chain-store-crash-child.ts"), [file], 150);

        const kv = await SqliteStore.open(file);
        const chain = await ChainStore.open(kv);
        const head = await chain.head();
        expect(head.height).to.be.at.least(acked);
        let previous = GENESIS_HEAD;
        for (let h = 1; h <= head.height; h++) {
          const expected = nextCommit(previous);
          expect(await chain.block(h), `block ${h}`).to.deep.equal(expected.commit);
          expect(await kv.get(key("app", h)), `app row ${h}`).to.deep.equal(key(h));
          previous = expected.head;
        }
        expect(head).to.deep.equal(previous);
        expect(await chain.block(head.height + 1)).to.equal(undefined);
        expect(await kv.get(key("app", head.height + 1))).to.equal(undefined);
        // The WAL holds at most the records of the height being decided, each whole, in order.
        expect(await kv.count({ prefix: chainKeys.walAll(), end: chainKeys.walOf(head.height + 1) })).to.equal(0);
        const pending = await chain.walAt(head.height + 1);
        expect(pending).to.deep.equal(
          Array.from({ length: pending.length }, (_, i) => timeoutRecord(head.height + 1, i)),
        );
        expect(pending.length).to.be.at.most(WAL_RECORDS_PER_HEIGHT);
        expect(await kv.count({ prefix: chainKeys.walAll() })).to.equal(pending.length);
        await chain.close();
      });
    });
  });
});
