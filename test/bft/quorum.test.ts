import { expect } from "chai";

import { blockHash } from "../../node/bft/encoding.ts";
import { maxFaulty, quorum, skipThreshold } from "../../node/bft/quorum.ts";
import type { ConsensusOutput } from "../../node/bft/consensus.ts";
import { Driver, ownVotes } from "./driver.ts";

describe("BFT quorums", function () {
  it("uses ⌊2n/3⌋ + 1 and ⌊n/3⌋ + 1, never 2f + 1 computed from f", function () {
    expect([4, 5, 7, 9].map(quorum)).to.deep.equal([3, 4, 5, 7]);
    expect([4, 5, 7, 9].map(skipThreshold)).to.deep.equal([2, 2, 3, 4]);
    // 2f + 1 would be 3 at n5 and 5 at n9: two such quorums could intersect only in a Byzantine validator.
    expect([5, 9].map((n) => 2 * maxFaulty(n) + 1)).to.deep.equal([3, 5]);
    for (let n = 1; n <= 100; n++)
      expect(2 * quorum(n) - n, `quorums of n=${n} overlap`).to.be.greaterThan(maxFaulty(n));
  });

  for (const n of [5, 7, 9]) {
    describe(`n = ${n} (quorum ${quorum(n)})`, function () {
      function proposed() {
        const d = new Driver(n, 0);
        d.mempool.add("tx", "test");
        d.core.start();
        const block = d.block();
        const out = d.deliver(1, d.proposal(1, block));
        expect(ownVotes(out, "prevote").map((v) => v.blockHash)).to.deep.equal([blockHash(block)]);
        return { d, id: blockHash(block) };
      }

      it("does not lock or precommit on quorum − 1 prevotes, and does on a quorum", function () {
        const { d, id } = proposed();
        const others = d.others();
        let out: ConsensusOutput[] = [];
        // Own prevote plus quorum − 2 others: quorum − 1 in all.
        for (const v of others.slice(0, quorum(n) - 2)) out.push(...d.deliver(v, d.vote(v, "prevote", id)));
        expect(ownVotes(out, "precommit")).to.deep.equal([]);
        out = d.deliver(others[quorum(n) - 2]!, d.vote(others[quorum(n) - 2]!, "prevote", id));
        expect(ownVotes(out, "precommit").map((v) => v.blockHash)).to.deep.equal([id]);
      });

      it("does not commit on quorum − 1 precommits, and does on a quorum", function () {
        const { d, id } = proposed();
        const others = d.others();
        for (const v of others.slice(0, quorum(n) - 1)) d.deliver(v, d.vote(v, "prevote", id));
        const decided = (out: ConsensusOutput[]) => out.filter((o) => o.type === "decided");
        let out: ConsensusOutput[] = [];
        for (const v of others.slice(0, quorum(n) - 2)) out.push(...d.deliver(v, d.vote(v, "precommit", id)));
        expect(decided(out)).to.deep.equal([]);
        expect(d.core.height).to.equal(1);
        out = d.deliver(others[quorum(n) - 2]!, d.vote(others[quorum(n) - 2]!, "precommit", id));
        expect(decided(out)).to.have.length(1);
        expect(d.core.height).to.equal(2);
      });

      it("does not commit on quorum − 1 precommits of other validators without its own", function () {
        const d = new Driver(n, 0);
        d.core.start();
        const block = d.block();
        d.deliver(1, d.proposal(1, block));
        const others = d.others();
        for (const v of others.slice(0, quorum(n) - 1)) d.deliver(v, d.vote(v, "precommit", blockHash(block)));
        expect(d.core.height).to.equal(1);
        d.deliver(others[quorum(n) - 1]!, d.vote(others[quorum(n) - 1]!, "precommit", blockHash(block)));
        expect(d.core.height).to.equal(2);
      });

      it("skips to a later round on ⌊n/3⌋ + 1 of its messages, not on ⌊n/3⌋", function () {
        const d = new Driver(n, 0);
        d.mempool.add("tx", "test");
        d.core.start();
        const others = d.others(1);
        for (const v of others.slice(0, skipThreshold(n) - 1)) d.deliver(v, d.vote(v, "prevote", null, 3));
        expect(d.core.round).to.equal(0);
        d.deliver(others[skipThreshold(n) - 1]!, d.vote(others[skipThreshold(n) - 1]!, "prevote", null, 3));
        expect(d.core.round).to.equal(3);
      });
    });
  }
});
