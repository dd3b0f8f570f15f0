/**
 * What one Byzantine peer can make a consensus core write and send: the WAL takes only admitted messages (current
 * height, a validator's, well formed, correctly signed, new), and old heights are answered once per peer and height.
 * Driven by hand with real ECDSA node keys; validator 3 is the Byzantine peer, validators 0 (self), 1 and 2 are a
 * quorum of honest ones.
 */
import { expect } from "chai";

import type { ConsensusOutput, WalRecord } from "../../node/bft/consensus.ts";
import { blockHash, voteSignBytes } from "../../node/bft/encoding.ts";
import type { Block, ConsensusMessage, Vote } from "../../node/bft/types.ts";
import { ecdsaSchemes } from "../sim/ecdsa-schemes.ts";
import { CHAIN, Driver, appHashAt } from "./driver.ts";

const N = 4;
const BYZANTINE = 3;
const HONEST = [1, 2];
const FLOOD = 1_000;

/** One ECDSA key set for every test (ecdsaSchemes derives the same keys from the same salt). */
const schemes = ecdsaSchemes(N, "admission");

function walMessages(out: ConsensusOutput[]): { from: number; message: ConsensusMessage }[] {
  return out.flatMap((o) =>
    o.type === "wal" && o.record.kind === "message" ? [{ from: o.record.from, message: o.record.message }] : [],
  );
}

/** Commits sent to `to`, directly or through the block store, by height. */
function commitsServed(out: ConsensusOutput[], to: number): number[] {
  return out.flatMap((o) => {
    if (o.type === "serveCommit" && o.to === to) return [o.height];
    if (o.type === "send" && o.to === to && o.message.type === "commit") return [o.message.commit.block.height];
    return [];
  });
}

function sends(out: ConsensusOutput[], to: number, type: ConsensusMessage["type"]): number {
  return out.filter((o) => o.type === "send" && o.to === to && o.message.type === type).length;
}

class Admission {
  readonly d = new Driver(N, 0, schemes);
  readonly out: ConsensusOutput[] = [];
  #lastHash = "";

  deliver(from: number, message: unknown): ConsensusOutput[] {
    const out = this.d.deliver(from, message);
    this.out.push(...out);
    return out;
  }

  block(height = this.d.core.height): Block {
    return {
      height,
      prevHash: height === this.d.core.height ? this.#lastHash : "",
      lastAppHash: height === 1 ? "" : appHashAt(height - 1),
      proposer: height % N,
      txs: [`tx${height}`],
      evidence: [],
    };
  }

  /** The honest validators 1 and 2 decide the current height with this one (its proposer must be 1 or 2). */
  decide(): ConsensusOutput[] {
    const height = this.d.core.height;
    const block = this.block();
    const id = blockHash(block);
    const out = [...this.deliver(block.proposer, this.d.proposal(block.proposer, block))];
    for (const type of ["prevote", "precommit"] as const)
      for (const v of HONEST) out.push(...this.deliver(v, this.d.vote(v, type, id)));
    expect(this.d.core.height, `height ${height} decided`).to.equal(height + 1);
    this.#lastHash = id;
    return out;
  }

  /** Replays this run's WAL into a fresh core, as a restart does, and returns its outputs. */
  restore(): { fresh: Driver; out: ConsensusOutput[] } {
    const fresh = new Driver(N, 0, schemes);
    const records = this.out.flatMap((o): WalRecord[] => (o.type === "wal" ? [o.record] : []));
    return { fresh, out: fresh.core.restore(records) };
  }
}

/** A node key outside the validator set (the same derivation, one index further). */
const outsider = ecdsaSchemes(N + 1, "admission")[N]!;

/** A vote signed with the outsider's key, claiming to be `validator`'s. */
function outsiderVote(validator: number, unsigned: Omit<Vote, "validator" | "signature">): Vote {
  return { ...unsigned, validator, signature: outsider.sign(voteSignBytes(CHAIN, unsigned)) };
}

describe("BFT admission: what a Byzantine peer can make a validator write and send", function () {
  this.timeout(0);

  it("writes nothing to the WAL for messages of heights far ahead or behind, and still decides", function () {
    const a = new Admission();
    a.d.core.start();
    a.decide(); // now at height 2
    const before = a.out.length;
    for (let i = 0; i < 100; i++) {
      const height = 4 + i * 10; // more than one height ahead
      a.deliver(BYZANTINE, a.d.vote(BYZANTINE, "prevote", null, 0, height));
      a.deliver(BYZANTINE, { type: "syncRequest", height, round: 0 });
      a.deliver(BYZANTINE, { type: "votes", height, proposals: [], votes: [] });
      // Behind, in the round that decided it: late votes of a decided round draw nothing.
      a.deliver(BYZANTINE, a.d.vote(BYZANTINE, "precommit", null, 0, 1));
      a.deliver(BYZANTINE, { type: "votes", height: 1, proposals: [], votes: [] });
    }
    const flood = a.out.slice(before);
    expect(walMessages(flood)).to.deep.equal([]);
    // A peer showing a later height is asked for a sync once at this height, not once per message.
    expect(sends(flood, BYZANTINE, "syncRequest")).to.equal(1);
    expect(commitsServed(flood, BYZANTINE)).to.deep.equal([]);
    const honest = a.decide();
    expect(walMessages(honest).map((r) => r.from)).to.deep.equal([2, 1, 2, 1, 2]);
  });

  it("writes nothing for votes with bad signatures, at this height or the next, direct or relayed", function () {
    const a = new Admission();
    a.d.core.start();
    const id = blockHash(a.block());
    const before = a.out.length;
    let rejected = 0;
    for (let round = 0; round < 200; round++) {
      // A signature of another message: well formed, but not over this vote.
      const wrong = a.d.vote(BYZANTINE, "prevote", id, round + 1).signature;
      const bad = { ...a.d.vote(BYZANTINE, "prevote", id, round), signature: wrong };
      rejected += a.deliver(BYZANTINE, bad).filter((o) => o.type === "rejected").length;
      a.deliver(BYZANTINE, { ...bad, height: 2 }); // kept for the next height, checked (and refused) there
      a.deliver(BYZANTINE, { type: "votes", height: 1, proposals: [], votes: [{ ...bad, validator: 1 }] });
    }
    expect(rejected).to.equal(200);
    expect(walMessages(a.out.slice(before))).to.deep.equal([]);
    const honest = a.decide(); // height 2 then checks the 200 buffered votes
    expect(walMessages(honest).map((r) => r.from)).to.deep.equal([1, 1, 2, 1, 2]);
    expect(honest.filter((o) => o.type === "rejected")).to.have.length(200);
  });

  it("writes nothing for votes from outside the validator set", function () {
    const a = new Admission();
    a.d.core.start();
    const id = blockHash(a.block());
    const before = a.out.length;
    for (let round = 0; round < 100; round++) {
      const vote = { type: "prevote" as const, height: 1, round, blockHash: id };
      // A sender the transport should never deliver, a validator index beyond the set, and a key outside it.
      a.deliver(N, outsiderVote(N, vote));
      a.deliver(BYZANTINE, outsiderVote(N, vote));
      a.deliver(BYZANTINE, outsiderVote(BYZANTINE, vote));
    }
    expect(walMessages(a.out.slice(before))).to.deep.equal([]);
    expect(a.d.core.snapshot().votes).to.deep.equal([]);
    a.decide();
  });

  it("logs a repeated valid vote once", function () {
    const a = new Admission();
    a.d.core.start();
    const vote = a.d.vote(BYZANTINE, "prevote", null);
    const before = a.out.length;
    for (let i = 0; i < 50; i++) a.deliver(BYZANTINE, vote);
    expect(walMessages(a.out.slice(before))).to.deep.equal([{ from: BYZANTINE, message: vote }]);
  });

  it(`serves one commit per peer and height for old-height votes in ${FLOOD} distinct rounds`, function () {
    const a = new Admission();
    a.d.core.start();
    a.decide();
    a.decide(); // heights 1 and 2 decided, now at height 3
    const before = a.out.length;
    for (let round = 1; round <= FLOOD; round++) {
      a.deliver(BYZANTINE, a.d.vote(BYZANTINE, "prevote", null, round, 1));
      a.deliver(BYZANTINE, a.d.vote(BYZANTINE, "precommit", null, round, 2));
    }
    const flood = a.out.slice(before);
    expect(commitsServed(flood, BYZANTINE).sort()).to.deep.equal([1, 2]);
    expect(walMessages(flood)).to.deep.equal([]);
    // A stuck honest peer is still served, once, whatever the Byzantine one asked.
    expect(commitsServed(a.deliver(1, a.d.vote(1, "prevote", null, 1, 2)), 1)).to.deep.equal([2]);
  });

  it("answers repeated syncRequests once per peer and height, and again after its gossip timeout", function () {
    const a = new Admission();
    a.d.core.start();
    a.decide(); // at height 2
    a.deliver(2, a.d.proposal(2, a.block())); // something to relay at height 2
    const before = a.out.length;
    for (let i = 0; i < FLOOD; i++) {
      a.deliver(BYZANTINE, { type: "syncRequest", height: 1, round: i % 3 });
      a.deliver(BYZANTINE, { type: "syncRequest", height: 2, round: 0 });
    }
    const flood = a.out.slice(before);
    expect(commitsServed(flood, BYZANTINE)).to.deep.equal([1]);
    expect(sends(flood, BYZANTINE, "votes")).to.equal(1);
    expect(walMessages(flood)).to.deep.equal([]);
    // The gossip timeout opens a new window: an answer lost on the way (a peer that was down) is given again.
    a.d.core.step({ type: "timeout", height: 2, round: 0, step: "gossip" });
    const again = [
      ...a.deliver(BYZANTINE, { type: "syncRequest", height: 1, round: 0 }),
      ...a.deliver(BYZANTINE, { type: "syncRequest", height: 1, round: 0 }),
    ];
    expect(commitsServed(again, BYZANTINE)).to.deep.equal([1]);
    const block = a.block();
    for (const type of ["prevote", "precommit"] as const)
      for (const v of HONEST) a.deliver(v, a.d.vote(v, type, blockHash(block)));
    expect(a.d.core.height).to.equal(3);
  });

  it("logs relayed votes as their signers' and rebuilds the round from them after a restart", function () {
    const a = new Admission();
    a.d.core.start();
    const block = a.block();
    const id = blockHash(block);
    const proposal = a.d.proposal(1, block);
    const prevotes = HONEST.map((v) => a.d.vote(v, "prevote", id));
    // Validator 2 relays the proposal and both prevotes; the core prevotes, locks and precommits the block.
    const out = a.deliver(2, { type: "votes", height: 1, proposals: [proposal], votes: prevotes });
    expect(walMessages(out).map((r) => [r.from, r.message.type])).to.deep.equal([
      [1, "proposal"],
      [1, "prevote"],
      [2, "prevote"],
    ]);
    const { fresh, out: restored } = a.restore();
    const round0 = fresh.core.snapshot().votes[0]!;
    expect([round0.prevotes, round0.precommits]).to.deep.equal([3, 1]);
    // It re-sends exactly what it signed before, and signs nothing new.
    expect(restored.filter((o) => o.type === "wal")).to.deep.equal([]);
    const resent = restored.flatMap((o) => (o.type === "broadcast" && o.message.type !== "syncRequest" ? [o] : []));
    const signed = a.out.flatMap((o) => (o.type === "wal" && o.record.kind === "own" ? [o.record.message] : []));
    expect(resent.map((o) => o.message)).to.have.deep.members(signed);
  });
});
