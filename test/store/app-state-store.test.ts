import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import { FREE_HEAD_CAP } from "../../node/app/free-keys.ts";
import { KeyMappingApp, type KeyMappingOptions } from "../../node/app/key-mapping-app.ts";
import { StateNotLoaded } from "../../node/app/state-table.ts";
import { encodeTx, freezeSignBytes, moveKeysSignBytes, type MoveKeysBody } from "../../node/app/transactions.ts";
import type { Block } from "../../node/bft/types.ts";
import { AppStateQueries, changeOps, loadAppState, loadReads } from "../../node/store/app-state-store.ts";
import type { KvStore } from "../../node/store/kv-store.ts";
import { MemoryStore } from "../../node/store/memory-store.ts";
import { SqliteStore } from "../../node/store/sqlite-store.ts";
import { assignTx, fakePublicKey, publishTx } from "../bft/helpers.ts";
import { fastSchemes } from "../sim/fast-signer.ts";
import { Prng } from "../support/prng.ts";

const CHAIN = "app-state-store";
const n = 4;
const schemes = fastSchemes(n, "app-state");
const verify = (v: number, m: Uint8Array, s: string) => schemes[0]!.verify(v, m, s);

/** The same app twice: one held in memory, one on a store that it reloads from at chosen heights (a restart). */
class Pair {
  readonly memory: KeyMappingApp;
  stored!: KeyMappingApp;
  height = 0;

  constructor(
    readonly store: KvStore,
    readonly options: Omit<KeyMappingOptions, "verify" | "chainId" | "validators"> = {},
  ) {
    this.memory = new KeyMappingApp(this.#options());
  }

  #options(): KeyMappingOptions {
    return { chainId: CHAIN, validators: n, verify, ...this.options };
  }

  async restart(): Promise<void> {
    this.stored = new KeyMappingApp({ ...this.#options(), state: await loadAppState(this.store) });
  }

  /** Executes a block on both, the stored one as the runtime does: load its reads, execute, commit its changes. */
  async block(txs: string[]): Promise<unknown[]> {
    const block: Block = { height: ++this.height, prevHash: "", lastAppHash: "", proposer: 0, txs, evidence: [] };
    const expected = this.memory.finalizeBlock(block);
    await loadReads(this.stored.state, this.store, this.stored.readsOf(txs));
    const actual = this.stored.finalizeBlock(block);
    await this.store.commit(changeOps(this.stored.state.takeChanges()));
    expect(actual).to.deep.equal(expected, `block ${block.height}`);
    return actual.results;
  }
}

const engines: [string, () => Promise<{ store: KvStore; done: () => Promise<void> }>][] = [
  ["memory", () => Promise.resolve({ store: new MemoryStore(), done: () => Promise.resolve() })],
  [
    "sqlite",
    async () => {
      const dir = await mkdtemp(path.join(tmpdir(), "app-state-"));
      const store = await SqliteStore.open(path.join(dir, "chain.sqlite"));
      return { store, done: async () => (await store.close(), await rm(dir, { recursive: true, force: true })) };
    },
  ],
];

for (const [engine, open] of engines) {
  describe(`app state on a store (${engine})`, function () {
    let store: KvStore;
    let done: () => Promise<void>;
    beforeEach(async () => ({ store, done } = await open()));
    afterEach(async () => done());

    it("executes seeded blocks exactly as the in-memory app, restarted from the store at random heights", async function () {
      const prng = new Prng(17);
      const pair = new Pair(store, { epoch: 1, k: 3, t: 0, keysPerBatch: 8 });
      await pair.restart();
      const users = Array.from({ length: 60 }, (_, i) => ["google", "github"][i % 2]! + `/user-${i}`);
      let nextKey = 0;
      for (let b = 0; b < 80; b++) {
        const txs: string[] = [];
        if (prng.int(0, 2) === 0) {
          // A publication: a quorum in this block, or a vote that stays open until a later one.
          const voters = prng.int(0, 1) === 0 ? [0, 1, 2] : [prng.int(0, n - 1)];
          txs.push(...voters.map((v) => publishTx(CHAIN, schemes, v, nextKey, 8)));
          if (voters.length === 3) nextKey += 8;
        }
        for (let a = prng.int(0, 11); a > 0; a--) {
          const [verifier, verifierId] = users[prng.int(0, users.length - 1)]!.split("/") as [string, string];
          txs.push(assignTx(verifier, verifierId));
        }
        await pair.block(txs);
        if (prng.int(0, 9) === 0) await pair.restart();
      }
      expect(pair.memory.assignedKeys).to.be.greaterThan(20);
      await pair.restart();
      expect(pair.stored.appHash).to.equal(pair.memory.appHash);
      expect([pair.stored.publishedKeys, pair.stored.assignedKeys, pair.stored.freeKeys]).to.deep.equal([
        pair.memory.publishedKeys,
        pair.memory.assignedKeys,
        pair.memory.freeKeys,
      ]);

      // Queries read the committed rows: the same answers as the in-memory app's.
      const queries = new AppStateQueries(store);
      for (const user of users) {
        const [verifier, verifierId] = user.split("/") as [string, string];
        expect(await queries.lookup(verifier, verifierId)).to.deep.equal(pair.memory.lookup(verifier, verifierId));
      }
      for (let i = 0; i < nextKey; i++)
        expect(await queries.keyByPublicKey(fakePublicKey(i))).to.deep.equal(
          pair.memory.keyByPublicKey(fakePublicKey(i)),
        );
      const snapshot = pair.memory.snapshot();
      expect(await queries.keys(0, 10_000)).to.deep.equal(snapshot.keys);
      expect(pair.stored.nextKeyIndex(await queries.pastKeys())).to.equal(snapshot.nextKeyIndex);
    });

    it("keeps open votes and the freeze across a restart", async function () {
      const pair = new Pair(store, { epoch: 1 });
      await pair.restart();
      await pair.block([publishTx(CHAIN, schemes, 0, 0, 4), publishTx(CHAIN, schemes, 1, 0, 4)]);
      const freezeTx = (validator: number) =>
        encodeTx({
          type: "freeze",
          nextEpoch: 2,
          attempt: 1,
          validator,
          signature: schemes[validator]!.sign(freezeSignBytes(CHAIN, 2, 1, "freeze")),
        });
      await pair.block([freezeTx(0), freezeTx(1)]);
      await pair.restart();
      // A repeated vote is refused after the restart as before it, and the third vote completes each quorum.
      expect(await pair.block([publishTx(CHAIN, schemes, 1, 0, 4), freezeTx(1)])).to.deep.include({
        code: "INVALID",
        detail: "this validator already voted for it",
      });
      await pair.block([publishTx(CHAIN, schemes, 2, 0, 4)]);
      expect(pair.stored.publishedKeys).to.equal(4);
      await pair.block([freezeTx(2)]);
      await pair.restart();
      expect(pair.stored.frozen).to.deep.equal(pair.memory.frozen).and.to.not.equal(undefined);
    });

    it("installs moved chunks and their owners across a restart, then assigns past them", async function () {
      const handover = { transition: 2, old: { n: 5, t: 1, k: 3 }, new: { n, t: 0, k: 3 } };
      const pair = new Pair(store, { epoch: 2, k: 3, t: 0, handover });
      await pair.restart();
      const alice = { verifier: "google", verifierId: "alice" };
      const body = (chunk: number): MoveKeysBody => ({
        transition: 2,
        chunk,
        chunks: 2,
        nextKeyIndex: 10,
        keys: [
          { keyIndex: chunk * 4, publicKey: fakePublicKey(chunk * 4), ...(chunk === 0 ? { owner: alice } : {}) },
          { keyIndex: chunk * 4 + 1, publicKey: fakePublicKey(chunk * 4 + 1) },
        ],
      });
      const move = (chunk: number, v: number) =>
        encodeTx({
          type: "moveKeys",
          body: body(chunk),
          validator: v,
          signature: schemes[v]!.sign(moveKeysSignBytes(CHAIN, body(chunk))),
        });
      await pair.block([0, 1, 2].map((v) => move(0, v)));
      await pair.restart();
      expect(pair.stored.installed).to.equal(false);
      expect(pair.stored.movedChunkInstalled(0)).to.equal(true);
      await pair.block([0, 1, 2].map((v) => move(1, v)));
      await pair.restart();
      expect(pair.stored.installed).to.equal(true);
      expect(pair.stored.firstKeyIndex).to.equal(10);
      const results = await pair.block([assignTx("google", "alice"), assignTx("x", "new")]);
      expect(results.map((r) => (r as { keyIndex: number }).keyIndex)).to.deep.equal([0, 1]);
    });

    it("hands out free keys in index order beyond the head it holds, with only the head in memory", async function () {
      const pair = new Pair(store, {});
      await pair.restart();
      const keys = FREE_HEAD_CAP + 300;
      for (let start = 0; start < keys; start += 256)
        await pair.block([0, 1, 2].map((v) => publishTx(CHAIN, schemes, v, start, Math.min(256, keys - start))));
      await pair.restart();
      expect(pair.stored.state.free.loaded).to.equal(0);
      const assigned: number[] = [];
      for (let b = 0; b < 12; b++) {
        const results = await pair.block(Array.from({ length: 400 }, (_, i) => assignTx("google", `u${b * 400 + i}`)));
        assigned.push(...results.map((r) => (r as { keyIndex: number }).keyIndex));
        expect(pair.stored.state.free.loaded).to.be.at.most(FREE_HEAD_CAP);
      }
      expect(assigned.slice(0, keys)).to.deep.equal(Array.from({ length: keys }, (_, i) => i));
    });

    it("refuses to execute a block whose rows were not loaded, and admits what it cannot check", async function () {
      const pair = new Pair(store, {});
      await pair.restart();
      await pair.block([0, 1, 2].map((v) => publishTx(CHAIN, schemes, v, 0, 4)));
      await pair.block([assignTx("google", "alice")]);
      const block: Block = { height: 9, prevHash: "", lastAppHash: "", proposer: 0, txs: [], evidence: [] };
      const app = pair.stored;
      expect(() => app.finalizeBlock({ ...block, txs: [assignTx("google", "alice")] })).to.throw(StateNotLoaded);
      // Admission reads what it has: alice's row is not in memory, so it admits (execution answers her key again).
      expect(app.checkTx(assignTx("google", "alice"))).to.deep.equal({ ok: true });
      // Only admission reads a missing row as absent: execution still refuses to guess.
      expect(() => app.finalizeBlock({ ...block, txs: [assignTx("google", "bob")] })).to.throw(StateNotLoaded);
      await loadReads(app.state, store, app.readsOf([assignTx("google", "alice")]));
      expect(app.checkTx(assignTx("google", "alice"))).to.deep.equal({ ok: false, detail: "already assigned" });
    });
  });
}
