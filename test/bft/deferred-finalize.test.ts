/**
 * The consensus core with `deferFinalize`: a decided height ends in a `finalize` output, the core waits at that height
 * with every input queued until the runtime steps `finalized`, then does what the inline path does after
 * `app.finalizeBlock` and processes the queue in order. Driven by hand: validator 0 is this core, 1–3 its peers.
 */
import { createHash } from "node:crypto";

import { expect } from "chai";

import {
  FinalizeMismatch,
  MAX_QUEUED_BULKY_PER_PEER,
  MAX_QUEUED_PER_PEER,
  type ConsensusInput,
  type ConsensusOutput,
  type WalRecord,
} from "../../node/bft/consensus.ts";
import { blockHash } from "../../node/bft/encoding.ts";
import type { Block, Commit, Hash } from "../../node/bft/types.ts";
import { Prng } from "../support/prng.ts";
import { Driver, broadcasts } from "./driver.ts";

const N = 4;
const PEERS = [1, 2, 3];

/** An app hash that chains every block into the next: any difference in what was applied, or in order, shows. */
const chainAppHash = (block: Block, lastAppHash: Hash) =>
  createHash("sha256")
    .update(`${lastAppHash}/${blockHash(block)}`)
    .digest("hex");

const deferred = () => new Driver(N, 0, undefined, { deferFinalize: true, appHash: chainAppHash });
const inline = () => new Driver(N, 0, undefined, { appHash: chainAppHash });

/** Blocks of heights 1..count, each on top of the one before (proposer h mod N: validator 0 first proposes h = 4). */
function chain(count: number): Block[] {
  const blocks: Block[] = [];
  let prevHash = "";
  let lastAppHash = "";
  for (let height = 1; height <= count; height++) {
    const block = { height, prevHash, lastAppHash, proposer: height % N, txs: [`tx${height}`], evidence: [] };
    blocks.push(block);
    prevHash = blockHash(block);
    lastAppHash = chainAppHash(block, lastAppHash);
  }
  return blocks;
}

const message = (from: number, m: unknown): ConsensusInput => ({ type: "message", from, message: m });

/** The proposal of `block` and the prevotes and precommits of validators 1–3 for it, round 0. */
function decidingInputs(d: Driver, block: Block): ConsensusInput[] {
  const id = blockHash(block);
  return [
    message(block.proposer, d.proposal(block.proposer, block)),
    ...(["prevote", "precommit"] as const).flatMap((type) =>
      PEERS.map((v) => message(v, d.vote(v, type, id, 0, block.height))),
    ),
  ];
}

function commitOf(d: Driver, block: Block, senderHeight: number): ConsensusInput {
  const id = blockHash(block);
  const precommits = PEERS.map((v) => d.vote(v, "precommit", id, 0, block.height));
  return message(PEERS[block.height % 3]!, { type: "commit", commit: { block, round: 0, precommits }, senderHeight });
}

function stepAll(d: Driver, inputs: ConsensusInput[]): ConsensusOutput[] {
  return inputs.flatMap((input) => d.core.step(input));
}

const finalizes = (out: ConsensusOutput[]) => out.flatMap((o) => (o.type === "finalize" ? [o] : []));
const decided = (out: ConsensusOutput[]) => out.flatMap((o) => (o.type === "decided" ? [o] : []));
const walRecords = (out: ConsensusOutput[]) => out.flatMap((o): WalRecord[] => (o.type === "wal" ? [o.record] : []));
const withoutFinalize = (out: ConsensusOutput[]) => out.filter((o) => o.type !== "finalize");

/**
 * Brings a deferred core to an outstanding finalize of height 1, stepping no input after the one that decides (the
 * queue is empty); returns the commit and the outputs so far.
 */
function decideHeightOne(d: Driver, block: Block): { commit: Commit; out: ConsensusOutput[] } {
  d.core.start();
  d.mempool.add(block.txs[0]!, "client");
  const out = d.core.step({ type: "txsAvailable" });
  for (const input of decidingInputs(d, block)) {
    out.push(...d.core.step(input));
    if (d.core.finalizing !== null) break;
  }
  const [finalize] = finalizes(out);
  expect(finalize?.height).to.equal(1);
  expect(d.core.snapshot().queued).to.equal(0);
  return { commit: finalize!.commit, out };
}

describe("BFT consensus core: deferred FinalizeBlock", function () {
  it("emits one finalize when a height is decided, and neither applies the block nor moves on until finalized", function () {
    const d = deferred();
    const [block1] = chain(1);
    const { commit, out } = decideHeightOne(d, block1!);
    expect(finalizes(out)).to.have.length(1);
    expect(commit.block).to.deep.equal(block1);
    expect(commit.precommits.map((v) => v.validator).sort()).to.include.members([1, 2]);
    // The output that decides is the last one: the step stops there.
    expect(out.at(-1)?.type).to.equal("finalize");
    expect(decided(out)).to.deep.equal([]);
    expect(d.applied).to.deep.equal([]);
    expect(d.mempool.has("tx1")).to.equal(true);
    expect(d.core.height).to.equal(1);
    expect(d.core.lastAppHash).to.equal("");
    expect(d.core.finalizing).to.equal(1);

    const done = d.finalize(commit);
    expect(done[0]).to.deep.include({ type: "decided", commit, appHash: chainAppHash(block1!, "") });
    expect(d.applied).to.deep.equal([block1]);
    expect(d.mempool.has("tx1")).to.equal(false);
    expect(d.core.height).to.equal(2);
    expect(d.core.lastAppHash).to.equal(chainAppHash(block1!, ""));
    expect(d.core.finalizing).to.equal(null);
  });

  it("queues every input while finalizing, answers none of them, and processes them in order after finalized", function () {
    const d = deferred();
    const [block1, block2] = chain(2);
    const { commit, out: before } = decideHeightOne(d, block1!);
    const staleTimers = before.filter((o) => o.type === "timeout");
    expect(staleTimers.length).to.be.greaterThan(0);

    // Height 2 arrives in full, interleaved with the timers of height 1, transactions, a request and a malformed message.
    const height2 = decidingInputs(d, block2!);
    const waiting: ConsensusInput[] = [
      height2[0]!,
      ...staleTimers.map((t) => ({ type: "timeout", height: t.height, round: t.round, step: t.step }) as const),
      { type: "txsAvailable" },
      ...height2.slice(1, 4),
      message(3, { type: "syncRequest", height: 1, round: 0 }),
      message(2, { type: "prevote", height: "two" }),
      { type: "txsAvailable" },
      ...height2.slice(4),
    ];
    for (const input of waiting) expect(d.core.step(input), input.type).to.deep.equal([]);
    expect(d.core.height).to.equal(1);
    expect(d.core.snapshot()).to.deep.include({ finalizing: 1, queued: waiting.length - 1 }); // one txsAvailable kept

    const out = d.finalize(commit);
    expect(decided(out).map((o) => o.commit.block.height)).to.deep.equal([1]);
    // What was queued was processed at height 2, in the order it came, until the height-2 messages decided height 2
    // (at the second peer precommit, with this validator's own): the third precommit waits for that finalize.
    const logged = walRecords(out).flatMap((r) => (r.kind === "message" ? [r] : []));
    const expected = height2.map((i) => (i as { message: { type: string; validator: number } }).message).slice(0, -1);
    expect(logged.map((r) => [r.message.type, r.from])).to.deep.equal(expected.map((m) => [m.type, m.validator]));
    // The timers of height 1 were written and ignored as stale, as a late timer is without deferral.
    const timeouts = walRecords(out).filter((r) => r.kind === "timeout");
    expect(timeouts.map((r) => (r as { height: number }).height)).to.deep.equal(staleTimers.map(() => 1));
    expect(out.filter((o) => o.type === "rejected")).to.have.length(1);
    expect(out.some((o) => o.type === "send" && o.to === 3 && o.message.type === "commit")).to.equal(true);
    expect(out.at(-1)).to.deep.include({ type: "finalize", height: 2 });
    expect(d.core.height).to.equal(2);
    expect(d.core.snapshot()).to.deep.include({ finalizing: 2, queued: 1 });

    const last = d.finalize(finalizes(out)[0]!.commit);
    // The late precommit is for a decided height now: a vote of the deciding round, which draws nothing.
    expect(last.filter((o) => o.type === "wal" && o.record.kind === "message")).to.deep.equal([]);
    expect(d.applied).to.deep.equal([block1, block2]);
    expect(d.core.height).to.equal(3);
  });

  it("refuses a finalized for another height, twice, or with none outstanding, and changes nothing", function () {
    const plain = inline();
    plain.core.start();
    expect(() => plain.core.step({ type: "finalized", height: 1, appHash: "", results: [] })).to.throw(
      FinalizeMismatch,
      "no finalize is outstanding",
    );

    const d = deferred();
    const [block1] = chain(1);
    expect(() => d.core.step({ type: "finalized", height: 1, appHash: "", results: [] })).to.throw(FinalizeMismatch);
    const { commit } = decideHeightOne(d, block1!);
    for (const height of [0, 2]) {
      const error = (() => {
        try {
          d.core.step({ type: "finalized", height, appHash: "ab".repeat(32), results: ["ok"] });
        } catch (e) {
          return e;
        }
      })();
      expect(error).to.be.instanceOf(FinalizeMismatch).with.property("code", "BFT_FINALIZE_MISMATCH");
    }
    expect(d.core.height).to.equal(1);
    expect(d.core.finalizing).to.equal(1);
    d.finalize(commit);
    expect(d.core.height).to.equal(2);
    expect(() => d.core.step({ type: "finalized", height: 1, appHash: "", results: [] })).to.throw(FinalizeMismatch);
    expect(d.core.height).to.equal(2);
  });

  it("emits finalize when the WAL replay decides the height, and finishes the replay after finalized", function () {
    const [block1] = chain(1);
    const run = deferred();
    const { out } = decideHeightOne(run, block1!);
    // A stale timer written after the deciding record, as a runtime writes one that fires late.
    const records = [...walRecords(out), { kind: "timeout", height: 1, round: 0, step: "propose" } as const];

    const fresh = deferred();
    fresh.mempool.add("tx1", "client");
    const restored = fresh.core.restore(records);
    const [finalize] = finalizes(restored);
    expect(finalize?.height).to.equal(1);
    expect(restored.at(-1)?.type).to.equal("finalize");
    expect(decided(restored)).to.deep.equal([]);
    expect(fresh.core.height).to.equal(1);
    // The replay's closing sync request waits for the next height: asked now, it would be for the decided one.
    expect(broadcasts(restored).filter((m) => m.type === "syncRequest")).to.deep.equal([]);

    const after = fresh.finalize(finalize!.commit);
    expect(fresh.core.height).to.equal(2);
    expect(broadcasts(after)).to.deep.include({ type: "syncRequest", height: 2, round: 0 });
    // The same, restored inline: finalize aside, the outputs are the same ones.
    const plain = inline();
    plain.mempool.add("tx1", "client");
    expect(withoutFinalize([...restored, ...after])).to.deep.equal(plain.core.restore(records));
    expect(fresh.applied).to.deep.equal(plain.applied);
  });

  it("caps what a flooding peer can queue while finalizing and never drops the runtime's own inputs", function () {
    const d = deferred();
    const [block1, block2] = chain(2);
    const { commit } = decideHeightOne(d, block1!);
    const flood = 3;
    // Bulky messages first (proposals of other rounds), then small ones: each kind is cut at its cap.
    for (let round = 1; round <= 10; round++) d.core.step(message(flood, d.proposal(flood, block2!, round)));
    for (let round = 0; round < 1000; round++) d.core.step(message(flood, d.vote(flood, "prevote", null, round, 2)));
    for (let i = 0; i < 500; i++) d.core.step({ type: "timeout", height: 1, round: 0, step: "gossip" });
    for (let i = 0; i < 500; i++) d.core.step({ type: "txsAvailable" });
    // The honest peers' height-2 messages come after the flood and are all kept.
    const height2 = decidingInputs(d, block2!).filter((i) => i.type !== "message" || i.from !== flood);
    stepAll(d, height2);
    const kept = MAX_QUEUED_PER_PEER;
    expect(d.core.snapshot()).to.deep.include({
      queued: kept + 500 + 1 + height2.length,
      droppedWhileFinalizing: 10 - MAX_QUEUED_BULKY_PER_PEER + 1000 - (kept - MAX_QUEUED_BULKY_PER_PEER),
    });
    const out = d.finalize(commit);
    expect(walRecords(out).filter((r) => r.kind === "timeout")).to.have.length(500);
    // Height 2 is decided by the honest messages despite the flood.
    expect(finalizes(out).map((f) => f.height)).to.deep.equal([2]);
  });

  it("keeps next-height messages as before: they decide that height on completion, and what waited then waits on", function () {
    const d = deferred();
    const [block1, block2, block3] = chain(3);
    d.core.start();
    // Height 2 arrives before height 1 is decided: kept for height 2.
    stepAll(d, decidingInputs(d, block2!));
    const out1 = stepAll(d, decidingInputs(d, block1!));
    expect(finalizes(out1).map((f) => f.height)).to.deep.equal([1]);
    // Height 3's messages, while height 1 is finalizing.
    expect(stepAll(d, decidingInputs(d, block3!))).to.deep.equal([]);
    const out2 = d.finalize(finalizes(out1)[0]!.commit);
    // The buffered messages decide height 2 on completion; height 3's wait on.
    expect(finalizes(out2).map((f) => f.height)).to.deep.equal([2]);
    expect(d.core.height).to.equal(2);
    expect(d.core.snapshot().queued).to.be.greaterThan(0);
    const out3 = d.finalize(finalizes(out2)[0]!.commit);
    expect(finalizes(out3).map((f) => f.height)).to.deep.equal([3]);
    d.finalize(finalizes(out3)[0]!.commit);
    expect(d.applied).to.deep.equal([block1, block2, block3]);
    expect(d.core.height).to.equal(4);
  });

  it("produces the inline mode's outputs and app hash chain for the same inputs, however late finalize is answered", function () {
    const heights = 3;
    const blocks = chain(heights);
    for (let seed = 1; seed <= 40; seed++) {
      const prng = new Prng(seed);
      const signer = inline();
      // Every message of heights 1–3 and noise (timers, transactions, requests, garbage) in a random order, then the
      // commits of each height in order, so that every run ends at height 4 however the order went.
      const shuffled: ConsensusInput[] = [
        ...blocks.flatMap((block) => decidingInputs(signer, block)),
        ...blocks.flatMap((block): ConsensusInput[] => [
          { type: "timeout", height: block.height, round: 0, step: "propose" },
          { type: "timeout", height: block.height, round: 0, step: "gossip" },
          { type: "txsAvailable" },
          message(1, { type: "syncRequest", height: block.height, round: 0 }),
          commitOf(signer, block, heights + 1),
        ]),
        message(2, { type: "precommit" }),
        message(7, signer.vote(1, "prevote", null)),
      ];
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = prng.int(0, i);
        [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
      }
      const inputs = [...shuffled, ...blocks.map((block) => commitOf(signer, block, heights + 1))];

      const a = inline();
      a.mempool.add("m", "client");
      a.core.start();
      const expected = stepAll(a, inputs);

      const b = deferred();
      b.mempool.add("m", "client");
      b.core.start();
      const got: ConsensusOutput[] = [];
      let outstanding: { commit: Commit; answerIn: number } | null = null;
      const collect = (out: ConsensusOutput[]) => {
        got.push(...out);
        const [finalize] = finalizes(out);
        if (finalize) outstanding = { commit: finalize.commit, answerIn: prng.int(0, 4) };
      };
      const answer = () => {
        const { commit } = outstanding!;
        outstanding = null;
        collect(b.finalize(commit));
      };
      for (const input of inputs) {
        if (outstanding !== null && (outstanding as { answerIn: number }).answerIn-- === 0) answer();
        const out = b.core.step(input);
        if (b.core.finalizing !== null && finalizes(out).length === 0) expect(out).to.deep.equal([]);
        collect(out);
      }
      while (outstanding !== null) answer();

      expect(withoutFinalize(got), `seed ${seed}`).to.deep.equal(expected);
      expect(decided(got).map((o) => o.appHash)).to.deep.equal(
        blocks.map((block) => chainAppHash(block, block.lastAppHash)),
      );
      expect(b.core.height).to.equal(heights + 1);
      expect(b.applied).to.deep.equal(a.applied);
    }
  });
});
