import { expect } from "chai";
import fc from "fast-check";

import { blockHash } from "../../node/bft/encoding.ts";
import type { ConsensusOutput, WalRecord } from "../../node/bft/consensus.ts";
import type { Block, Proposal, Vote } from "../../node/bft/types.ts";
import { envCount } from "../support/prng.ts";
import { Driver, appHashAt, broadcasts, ownVotes } from "./driver.ts";

const rejected = (out: ConsensusOutput[]) => out.filter((o) => o.type === "rejected");

describe("BFT consensus core", function () {
  it("keeps an idle height silent: no proposal, no timer, until there is work", function () {
    const d = new Driver(4, 1); // validator 1 proposes height 1, round 0
    expect(d.core.start()).to.deep.equal([]);
    d.mempool.add("tx", "client");
    const out = d.core.step({ type: "txsAvailable" });
    const proposals = broadcasts(out).filter((m) => m.type === "proposal");
    expect(proposals).to.have.length(1);
    expect((proposals[0] as Proposal).block.txs).to.deep.equal(["tx"]);
  });

  it("a non-proposer with work starts its propose timer at once", function () {
    const d = new Driver(4, 0);
    d.core.start();
    d.mempool.add("tx", "client");
    const timers = d.core.step({ type: "txsAvailable" }).filter((o) => o.type === "timeout");
    expect(timers).to.deep.include({ type: "timeout", height: 1, round: 0, step: "propose", delayMs: 1000 });
    // …and its gossip timer, which asks peers for missed messages if the round makes no progress.
    expect(timers.map((t) => t.step).sort()).to.deep.equal(["gossip", "propose"]);
  });

  it("writes its own signed messages to the WAL, synced, before it sends them", function () {
    const d = new Driver(4, 1);
    d.core.start();
    d.mempool.add("tx", "client");
    const out = d.core.step({ type: "txsAvailable" });
    const walIndex = out.findIndex((o) => o.type === "wal" && o.record.kind === "own" && o.sync);
    const sendIndex = out.findIndex((o) => o.type === "broadcast");
    expect(walIndex).to.be.greaterThan(-1);
    expect(walIndex).to.be.lessThan(sendIndex);
    // Every broadcast is preceded by its own synced WAL record.
    out.forEach((o, i) => {
      if (o.type !== "broadcast") return;
      const walled = out
        .slice(0, i)
        .some(
          (w) =>
            w.type === "wal" &&
            w.sync &&
            JSON.stringify(w.record.kind === "own" && w.record.message) === JSON.stringify(o.message),
        );
      expect(walled, `broadcast ${i} was not written first`).to.equal(true);
    });
  });

  it("grows timeouts linearly with the round", function () {
    const d = new Driver(4, 0);
    d.core.start();
    d.mempool.add("tx", "client");
    d.core.step({ type: "txsAvailable" });
    const others = d.others();
    // Precommit-nil quorum in round 5 moves the validator to round 5 with a longer propose timeout.
    for (const v of others.slice(0, 2)) d.deliver(v, d.vote(v, "prevote", null, 5));
    expect(d.core.round).to.equal(5);
    const out = d.core.step({ type: "timeout", height: 1, round: 5, step: "propose" });
    expect(ownVotes(out, "prevote").map((v) => v.blockHash)).to.deep.equal([null]);
  });

  describe("refuses what a peer must not send", function () {
    it("a proposal from a validator that is not the round's proposer", function () {
      const d = new Driver(4, 0);
      d.core.start();
      expect(rejected(d.deliver(2, d.proposal(2, d.block([], 2))))).to.have.length(1);
    });

    it("a vote with a bad signature", function () {
      const d = new Driver(4, 0);
      d.core.start();
      const vote = { ...d.vote(2, "prevote", null), signature: "00".repeat(32) };
      expect(rejected(d.deliver(2, vote))).to.have.length(1);
    });

    it("a vote of another validator relayed by a peer", function () {
      const d = new Driver(4, 0);
      d.core.start();
      expect(rejected(d.deliver(2, d.vote(3, "prevote", null)))).to.have.length(1);
    });

    it("a commit whose precommits are for another block", function () {
      const d = new Driver(4, 0);
      d.core.start();
      const block = d.block();
      const precommits = [1, 2, 3].map((v) => d.vote(v, "precommit", "ab".repeat(32)));
      const out = d.deliver(1, { type: "commit", commit: { block, round: 0, precommits }, senderHeight: 2 });
      expect(rejected(out)).to.have.length(1);
      expect(d.core.height).to.equal(1);
    });

    it("never throws on garbage, and rejects it without changing the height or round", function () {
      const d = new Driver(4, 0);
      d.core.start();
      const valid: unknown[] = [
        d.vote(2, "prevote", null),
        d.proposal(1, d.block()),
        { type: "syncRequest", height: 1 },
      ];
      const mutate = fc.oneof(
        fc.anything(),
        fc.record(
          { type: fc.constantFrom("proposal", "prevote", "precommit", "commit", "syncRequest") },
          { requiredKeys: [] },
        ),
        fc
          .tuple(fc.constantFrom(...valid), fc.string(), fc.anything())
          .map(([m, key, value]) => ({ ...(m as object), [key]: value })),
      );
      fc.assert(
        fc.property(mutate, fc.integer({ min: -2, max: 6 }), (message, from) => {
          d.core.step({ type: "message", from, message });
          expect(d.core.height).to.equal(1);
        }),
        { numRuns: envCount("PROPERTY_RUNS", 100) * 20, seed: envCount("PROPERTY_SEED", 7) },
      );
    });
  });

  it("records two different votes of one validator for one slot as evidence, and puts it in its next block", function () {
    const d = new Driver(4, 2); // validator 2 proposes height 2, round 0
    d.core.start();
    expect(d.deliver(3, d.vote(3, "prevote", null)).filter((o) => o.type === "evidence")).to.deep.equal([]);
    const out = d.deliver(3, d.vote(3, "prevote", "cd".repeat(32)));
    expect(out.filter((o) => o.type === "evidence")).to.have.length(1);
    // Height 1 decides a block proposed by validator 1; then validator 2 proposes height 2 with the evidence.
    d.mempool.add("tx", "client");
    const block = d.block([], 1);
    const id = blockHash(block);
    d.deliver(1, d.proposal(1, block));
    for (const v of [0, 1]) d.deliver(v, d.vote(v, "precommit", id));
    const next = d.deliver(3, d.vote(3, "precommit", id));
    expect(d.core.height).to.equal(2);
    const proposal = broadcasts(next).find((m): m is Proposal => m.type === "proposal");
    expect(proposal?.block.evidence.map((e) => [e.first.validator, e.second.blockHash])).to.deep.equal([
      [3, "cd".repeat(32)],
    ]);
  });

  it("keeps honest validators' messages for the next height however many a Byzantine one sent first", function () {
    const d = new Driver(4, 0);
    d.core.start();
    d.mempool.add("tx", "client");
    d.mempool.add("tx2", "client"); // work for height 2 too
    const first = d.block(["tx"], 1);
    const second: Block = {
      height: 2,
      prevHash: blockHash(first),
      lastAppHash: appHashAt(1),
      proposer: 2,
      txs: ["tx2"],
      evidence: [],
    };
    // Validator 3 floods the next height before anything else arrives.
    for (let round = 0; round < 12_000; round++) d.deliver(3, d.vote(3, "prevote", null, round, 2));
    // Validators 1 and 2 are a height ahead: what they said at height 2 arrives before height 1 is decided here.
    d.deliver(2, d.proposal(2, second));
    for (const type of ["prevote", "precommit"] as const)
      for (const v of [1, 2]) d.deliver(v, d.vote(v, type, blockHash(second), 0, 2));
    // Height 1 is decided here; the height-2 messages kept for later then decide height 2 as well.
    d.deliver(1, d.proposal(1, first));
    for (const type of ["prevote", "precommit"] as const)
      for (const v of [1, 2]) d.deliver(v, d.vote(v, type, blockHash(first)));
    expect(d.applied.map((b) => b.height)).to.deep.equal([1, 2]);
  });

  it("after a restart keeps the lock it took in an earlier round, and prevotes nil on another block", function () {
    const d = new Driver(4, 0);
    d.core.start();
    const out: ConsensusOutput[] = [];
    const locked = d.block(["locked"], 1);
    const id = blockHash(locked);
    // Round 0: the block gets a prevote quorum (this validator locks on it and precommits it), the round no decision.
    out.push(...d.deliver(1, d.proposal(1, locked)));
    for (const v of [1, 2]) out.push(...d.deliver(v, d.vote(v, "prevote", id)));
    for (const v of [1, 2]) out.push(...d.deliver(v, d.vote(v, "precommit", null)));
    out.push(...d.core.step({ type: "timeout", height: 1, round: 0, step: "precommit" }));
    expect(ownVotes(out, "precommit").map((v) => v.blockHash)).to.deep.equal([id]);
    const records = out.flatMap((o): WalRecord[] => (o.type === "wal" ? [o.record] : []));
    // Round 1 proposes another block: locked on the first since round 0, the validator prevotes nil (line 22)…
    const other = d.block(["other"], 2);
    expect(ownVotes(d.deliver(2, d.proposal(2, other, 1)), "prevote").map((v) => v.blockHash)).to.deep.equal([null]);
    // …and so it does after a restart from its WAL.
    const fresh = new Driver(4, 0);
    fresh.core.restore(records);
    expect(fresh.core.round).to.equal(1);
    const after = fresh.deliver(2, fresh.proposal(2, other, 1));
    expect(ownVotes(after, "prevote").map((v) => v.blockHash)).to.deep.equal([null]);
  });

  it("after a restart re-sends the vote it signed before the crash instead of signing another", function () {
    const d = new Driver(4, 0);
    d.mempool.add("tx", "client");
    d.core.start();
    const block = d.block();
    const nilVote: Vote = d.vote(0, "prevote", null);
    // The WAL shows a nil prevote signed for round 0 and the round's proposal: replay must not prevote the block.
    const records: WalRecord[] = [
      { kind: "own", message: nilVote },
      { kind: "message", from: 1, message: d.proposal(1, block) },
    ];
    const fresh = new Driver(4, 0);
    fresh.mempool.add("tx", "client");
    const out = fresh.core.restore(records);
    const prevotes = ownVotes(out, "prevote");
    expect(prevotes.map((v) => v.blockHash)).to.not.include(blockHash(block));
    expect(out.filter((o) => o.type === "wal")).to.deep.equal([]);
  });
});
