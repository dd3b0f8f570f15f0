/**
 * The chain store (node/store/chain-store.ts) on both engines: blocks and the head survive a reopen, a block that does
 * not extend the head is refused and changes nothing, the WAL keeps only the heights above the committed head and
 * gives a height's records back in order after a reopen, the app's operations land with the block or not at all, and
 * blocks page by height. On SQLite: the pipelined WAL (an unsynced record resolves before any fsync, a synced one and
 * a block only after one that covers them). A child killed with SIGKILL right after a block was acknowledged finds it
 * on reopen: kill-9.e2e.test.ts.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import type { WalRecord } from "../../node/bft/consensus.ts";
import { ChainStore, chainKeys, GENESIS_HEAD, type ChainHead } from "../../node/store/chain-store.ts";
import { key } from "../../node/store/key-codec.ts";
import { StoreInputError, type KvStore } from "../../node/store/kv-store.ts";
import { SqliteStore } from "../../node/store/sqlite-store.ts";
import { storeEngines } from "../support/store-engines.ts";
import { HeldFsync, tick, tracked } from "../support/held-fsync.ts";
import { appOp, nextCommit, timeoutRecord } from "./chain-store-crash-child.ts";
import { rejection } from "../support/refusal.ts";

/** Every key of the store (small test stores only). */
async function allKeys(kv: KvStore): Promise<string[]> {
  const entries = await kv.range({ prefix: new Uint8Array(), limit: 100_000 });
  return entries.map((e) => Buffer.from(e.key).toString("hex"));
}

const walRows = (kv: KvStore) => kv.count({ prefix: chainKeys.walAll() });

/** Commits `count` heights on top of the chain's head, each with `walPerHeight` WAL records first. */
async function decide(chain: ChainStore, count: number, walPerHeight = 0): Promise<ChainHead> {
  let head = await chain.head();
  for (let i = 0; i < count; i++) {
    const height = head.height + 1;
    for (let r = 0; r < walPerHeight; r++) await chain.appendWal(timeoutRecord(height, r), { sync: r === 0 });
    const next = nextCommit(head);
    await chain.commitBlock(next.commit, next.head, [appOp(height)]);
    head = next.head;
  }
  return head;
}

let dir: string;
let files = 0;

const engines = storeEngines({ dir: () => dir, prefix: "chain", open: (kv) => ChainStore.open(kv) });

describe("the chain store: blocks, the committed head and the BFT write-ahead log in one KvStore", function () {
  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "chain-store-"));
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  for (const engine of engines) {
    describe(engine.name, function () {
      let kv: KvStore;
      let chain: ChainStore;
      beforeEach(async function () {
        kv = await engine.fresh();
        chain = await ChainStore.open(kv);
      });
      afterEach(async function () {
        await chain.close();
      });
      const reopen = async () => ({ store: chain, kv } = await engine.reopen(chain, kv));

      it("starts at height 0 with no block and no WAL record", async function () {
        expect(await chain.head()).to.deep.equal(GENESIS_HEAD);
        expect(await chain.block(1)).to.equal(undefined);
        expect(await chain.blocks(1, 10)).to.deep.equal([]);
        expect(await chain.walAt(1)).to.deep.equal([]);
        expect(await allKeys(kv)).to.deep.equal([]);
      });

      it("keeps blocks and the head across a reopen", async function () {
        const commits = [];
        let head = GENESIS_HEAD;
        for (let h = 1; h <= 5; h++) {
          const next = nextCommit(head, [`a-${h}`, `b-${h}`]);
          await chain.commitBlock(next.commit, next.head, []);
          commits.push(next.commit);
          head = next.head;
        }
        await reopen();
        expect(await chain.head()).to.deep.equal(head);
        for (let h = 1; h <= 5; h++) expect(await chain.block(h)).to.deep.equal(commits[h - 1]);
        expect(await chain.block(6)).to.equal(undefined);
        // And it goes on from there.
        const next = nextCommit(head);
        await chain.commitBlock(next.commit, next.head, []);
        expect((await chain.head()).height).to.equal(6);
      });

      it("refuses, changing nothing, a block that is not the next height, does not extend the head, or that the new head does not describe", async function () {
        await decide(chain, 2, 2);
        await chain.appendWal(timeoutRecord(3, 0));
        const head = await chain.head();
        const before = await allKeys(kv);

        const skip = nextCommit({ ...head, height: 3 });
        expect((await rejection(chain.commitBlock(skip.commit, skip.head, [appOp(4)]))).message).to.match(
          /height 4: the committed head is at height 2, so the next block is 3/,
        );
        const again = nextCommit({ ...head, height: 1 });
        expect((await rejection(chain.commitBlock(again.commit, again.head, []))).message).to.match(
          /height 2: .* next block is 3/,
        );
        const fork = nextCommit({ ...head, lastBlockHash: "ff".repeat(32) });
        expect((await rejection(chain.commitBlock(fork.commit, fork.head, [appOp(3)]))).message).to.match(
          /previous hash f+ is not the head's block hash/,
        );
        const next = nextCommit(head);
        const wrongHead = { ...next.head, lastBlockHash: "00".repeat(32) };
        expect((await rejection(chain.commitBlock(next.commit, wrongHead, []))).message).to.match(
          /does not describe it/,
        );
        const intoChain = { type: "put" as const, key: chainKeys.block(9), value: key(9) };
        expect((await rejection(chain.commitBlock(next.commit, next.head, [appOp(3), intoChain]))).message).to.match(
          /app operation 1 writes under the chain's keys/,
        );

        expect(await allKeys(kv)).to.deep.equal(before);
        expect(await chain.head()).to.deep.equal(head);
        // The right block is still taken.
        await chain.commitBlock(next.commit, next.head, [appOp(3)]);
        expect(await chain.block(3)).to.deep.equal(next.commit);
      });

      it("keeps only the WAL records above the committed head: after 100 heights, those of the current height, in order after a reopen", async function () {
        this.timeout(60_000);
        const head = await decide(chain, 100, 4);
        expect(head.height).to.equal(100);
        expect(await walRows(kv)).to.equal(0);
        const current: WalRecord[] = [
          timeoutRecord(101, 0),
          { kind: "message", from: 2, message: { type: "syncRequest", height: 101, round: 0 } },
          timeoutRecord(101, 1),
          timeoutRecord(101, 2),
        ];
        for (const record of current) await chain.appendWal(record);
        // A late timer of a decided height is not written: no restart reads it.
        await chain.appendWal(timeoutRecord(100, 9), { sync: true });
        await chain.appendWal(timeoutRecord(37, 9));
        await chain.syncWal();
        expect(await walRows(kv)).to.equal(current.length);
        expect(await kv.count({ prefix: chainKeys.walOf(101) })).to.equal(current.length);

        await reopen();
        expect(await chain.head()).to.deep.equal(head);
        expect(await chain.walAt(head.height + 1)).to.deep.equal(current);
        // Records appended after the reopen come after those from before it.
        await chain.appendWal(timeoutRecord(101, 3), { sync: true });
        expect(await chain.walAt(101)).to.deep.equal([...current, timeoutRecord(101, 3)]);
        expect(await chain.walAt(100)).to.deep.equal([]);
        for (let h = 1; h <= 100; h++) expect((await chain.block(h))?.block.height).to.equal(h);
      });

      it("keeps a height's records in order across a reopen when rows of a later height exist", async function () {
        await chain.appendWal(timeoutRecord(1, 0));
        await chain.appendWal(timeoutRecord(3, 0));
        await chain.appendWal(timeoutRecord(1, 1));
        await chain.appendWal(timeoutRecord(1, 2), { sync: true });
        await reopen(); // the last row is (3, 1): the next seq would be 2, which height 1 already has
        await chain.appendWal(timeoutRecord(1, 3), { sync: true });
        expect(await chain.walAt(1)).to.deep.equal([0, 1, 2, 3].map((r) => timeoutRecord(1, r)));
        expect(await chain.walAt(3)).to.deep.equal([timeoutRecord(3, 0)]);
        // Committing height 1 deletes its rows only.
        const next = nextCommit(GENESIS_HEAD);
        await chain.commitBlock(next.commit, next.head, []);
        expect(await walRows(kv)).to.equal(1);
      });

      it("applies the app's operations atomically with the block: a failing one leaves neither block, head, operations nor deleted WAL rows", async function () {
        await chain.appendWal(timeoutRecord(1, 0), { sync: true });
        const next = nextCommit(GENESIS_HEAD);
        const before = await allKeys(kv);
        const bad = { type: "put" as const, key: new Uint8Array(), value: key("x") };
        const error = await rejection(chain.commitBlock(next.commit, next.head, [appOp(1), bad]));
        expect(error).to.be.instanceOf(StoreInputError);
        expect(await allKeys(kv)).to.deep.equal(before);
        expect(await chain.block(1)).to.equal(undefined);
        expect(await chain.head()).to.deep.equal(GENESIS_HEAD);
        expect(await kv.get(key("app", 1))).to.equal(undefined);
        expect(await chain.walAt(1)).to.deep.equal([timeoutRecord(1, 0)]);

        await chain.commitBlock(next.commit, next.head, [appOp(1), { type: "del", key: key("app", 0) }]);
        expect(await kv.get(key("app", 1))).to.deep.equal(key(1));
        expect(await chain.head()).to.deep.equal(next.head);
        expect(await chain.walAt(1)).to.deep.equal([]);
      });

      it("pages blocks by height", async function () {
        await decide(chain, 25);
        const heights = async (from: number, limit: number) =>
          (await chain.blocks(from, limit)).map((c) => c.block.height);
        expect(await heights(1, 10)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        expect(await heights(21, 10)).to.deep.equal([21, 22, 23, 24, 25]);
        expect(await heights(25, 1)).to.deep.equal([25]);
        expect(await heights(26, 5)).to.deep.equal([]);
        expect(await heights(0, 2)).to.deep.equal([1, 2]);
        const all: number[] = [];
        for (let from = 1; ;) {
          const page = await heights(from, 7);
          all.push(...page);
          if (page.length < 7) break;
          from = page.at(-1)! + 1;
        }
        expect(all).to.deep.equal(Array.from({ length: 25 }, (_, i) => i + 1));
        // The app's rows do not show up as blocks.
        expect(await kv.count({ prefix: key("app") })).to.equal(25);
        expect(await rejection(chain.blocks(1, 0))).to.be.instanceOf(StoreInputError);
      });

      it("refuses writes once closed", async function () {
        await chain.close();
        expect((await rejection(chain.appendWal(timeoutRecord(1, 0)))).name).to.equal("StoreClosedError");
        chain = await ChainStore.open(await engine.fresh()); // for afterEach
      });
    });
  }

  describe("on SQLite", function () {
    it("resolves an unsynced WAL record before any fsync, a synced one, syncWal and a block only after an fsync covering them", async function () {
      const held = new HeldFsync();
      const kv = await SqliteStore.open(path.join(dir, `held-${files++}.sqlite`), { fsync: held.fsync });
      const chain = await ChainStore.open(kv);
      await chain.appendWal(timeoutRecord(1, 0)); // resolves: no fsync has run
      expect(held.fsyncs.filter((f) => f.end !== undefined)).to.have.length(0);

      const written = held.timeline.mark();
      const synced = tracked(chain.appendWal(timeoutRecord(1, 1), { sync: true }));
      const beforeSend = tracked(chain.syncWal());
      for (let i = 0; i < 5; i++) await tick();
      expect(synced.settled || beforeSend.settled).to.equal(false);
      while (!synced.settled || !beforeSend.settled) {
        held.release();
        await tick();
      }
      expect(held.covered(written, held.timeline.mark())).to.equal(true);

      const next = nextCommit(GENESIS_HEAD);
      const called = held.timeline.mark();
      const committing = tracked(chain.commitBlock(next.commit, next.head, [appOp(1)]));
      for (let i = 0; i < 5; i++) await tick();
      expect(committing.settled).to.equal(false);
      // Applied (visible to a serialized writer) before it is durable.
      expect(await kv.applied.get(chainKeys.block(1))).to.not.equal(undefined);
      while (!committing.settled) {
        held.release();
        await tick();
      }
      expect(committing.error).to.equal(undefined);
      expect(held.covered(called, held.timeline.mark())).to.equal(true);
      held.release();
      await chain.close();
    });
  });
});
