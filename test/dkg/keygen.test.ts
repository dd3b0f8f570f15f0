import { expect } from "chai";
import fc from "fast-check";

import { systemRng } from "../../node/crypto/field.ts";
import { runCheck } from "../../node/dkg/checks.ts";
import { KeyGenerator, type KeygenOutput } from "../../node/dkg/keygen.ts";
import type { DkgMessage, SendMessage } from "../../node/dkg/types.ts";
import { Prng, envCount } from "../support/prng.ts";
import { fastSchemes } from "../sim/fast-signer.ts";

const schemes = fastSchemes(5, "keygen-unit");
function node(
  self: number,
  seed = self,
  buffer = { keyBuffer: 2, refillMark: undefined as number | undefined },
  deferChecks = false,
) {
  const prng = new Prng(seed);
  return new KeyGenerator({
    epoch: 1,
    n: 5,
    t: 1,
    k: 3,
    self,
    batchSize: 2,
    keyBuffer: buffer.keyBuffer,
    refillMark: buffer.refillMark,
    signingDomain: "keygen-unit",
    maxConcurrentBatches: 1,
    resendMs: 1000,
    signer: {
      sign: (m) => schemes[self - 1]!.sign(m),
      verify: (v, m, s) => schemes[0]!.verify(v - 1, m, s),
    },
    rng: (bytes) => Uint8Array.from({ length: bytes }, () => prng.nextUint32() & 0xff),
    deferChecks,
  });
}

const sends = (out: KeygenOutput[]) =>
  out.flatMap((o) => (o.type === "send" ? [{ to: o.to, message: o.message }] : []));
const rejected = (out: KeygenOutput[]) => out.filter((o) => o.type === "rejected");

describe("key generation core", function () {
  it("persists its dealing before it sends any row of it", function () {
    const out = node(1).step({ type: "demand", unassigned: 0 });
    const persisted = out.findIndex((o) => o.type === "persist" && o.record.kind === "dealing");
    const firstSend = out.findIndex((o) => o.type === "send" && o.message.type === "send");
    expect(persisted).to.be.greaterThan(-1);
    expect(persisted).to.be.lessThan(firstSend);
  });

  it("after a restart re-sends the very same dealing, never a second polynomial for the batch", function () {
    const dealer = node(1);
    const out = dealer.step({ type: "demand", unassigned: 0 });
    const records = out.flatMap((o) => (o.type === "persist" ? [o.record] : []));
    const before = sends(out).find((s) => s.to === 2)!.message;
    const restarted = node(1, 999); // other randomness: a fresh dealing would differ
    restarted.restore(JSON.parse(JSON.stringify(records)) as typeof records);
    const resent = sends(restarted.step({ type: "message", from: 2, message: { type: "resend", epoch: 1, batch: 0 } }));
    expect(resent.find((s) => s.message.type === "send")?.message).to.deep.equal(before);
  });

  it("refuses a send from a node that is not its dealer, and one whose rows do not match its commitments", function () {
    const dealing = sends(node(1).step({ type: "demand", unassigned: 0 }));
    const toTwo = dealing.find((s) => s.to === 2)!.message as SendMessage;
    const receiver = node(2);
    receiver.step({ type: "demand", unassigned: 0 });
    expect(rejected(receiver.step({ type: "message", from: 3, message: toTwo }))).to.have.length(1);
    const reversed = toTwo.rows.map((r) => [...r].reverse());
    const reasons = (message: SendMessage) => {
      const out = receiver.step({ type: "message", from: 1, message });
      expect(sends(out)).to.deep.equal([]); // no echo for a bad send
      return rejected(out).map((r) => r.type === "rejected" && r.reason);
    };
    expect(reasons({ ...toTwo, rows: reversed, cols: reversed })).to.deep.equal([
      "rows or columns do not match the commitments",
    ]);
    // The polynomials are symmetric: a column that is not the row, or a matrix that is not symmetric, is refused
    // before any curve work.
    expect(reasons({ ...toTwo, rows: reversed })).to.deep.equal(["a column that is not the row"]);
    const transposed = toTwo.commitments.map((m) => m.map((row, j) => row.map((_, l) => m[l]![j]!)));
    const swapped = toTwo.commitments.map((m) => [m[1]!, m[0]!, ...m.slice(2)]);
    expect(transposed).to.deep.equal(toTwo.commitments); // an honest dealer's matrices are symmetric
    expect(reasons({ ...toTwo, commitments: swapped })).to.deep.equal([
      "commitments[0] is not symmetric: entry [1][0] differs from [0][1]",
    ]);
  });

  it("refuses a ready with a bad signature", function () {
    const receiver = node(2);
    receiver.step({ type: "demand", unassigned: 0 });
    const ready: DkgMessage = {
      type: "ready",
      epoch: 1,
      batch: 0,
      dealer: 1,
      hash: "ab".repeat(32),
      points: Array.from({ length: 2 }, () => ({
        row: "01".padStart(64, "0"),
        rowBlinding: "02".padStart(64, "0"),
        col: "03".padStart(64, "0"),
        colBlinding: "04".padStart(64, "0"),
      })),
      signature: "00".repeat(32),
    };
    expect(rejected(receiver.step({ type: "message", from: 3, message: ready }))).to.have.length(1);
  });

  it("keeps what honest peers send for a batch it has not started, however much a Byzantine one sent first", function () {
    // Dealer 1 deals batch 1 once two peers (t + 1) ask for it.
    const dealer = node(1);
    const dealt = [3, 4].flatMap((from) =>
      sends(dealer.step({ type: "message", from, message: { type: "resend", epoch: 1, batch: 1 } })),
    );
    const toTwo = dealt.find((s) => s.to === 2 && s.message.type === "send" && s.message.batch === 1)!.message;
    // Node 2 has not started batch 1 when node 5 floods it with echoes for it.
    const receiver = node(2);
    const points = Array.from({ length: 2 }, () => ({
      row: "01".padStart(64, "0"),
      rowBlinding: "02".padStart(64, "0"),
      col: "03".padStart(64, "0"),
      colBlinding: "04".padStart(64, "0"),
    }));
    for (let i = 1; i <= 2_000; i++) {
      const hash = i.toString(16).padStart(64, "0");
      receiver.step({
        type: "message",
        from: 5,
        message: { type: "echo", epoch: 1, batch: 1, dealer: 3, hash, points },
      });
    }
    // Dealer 1's send makes two peers at work on batch 1: it starts, and its waiting messages are taken.
    const echoes = sends(receiver.step({ type: "message", from: 1, message: toTwo })).filter(
      (s) => s.message.type === "echo" && s.message.batch === 1 && s.message.dealer === 1,
    );
    expect(echoes.map((s) => s.to)).to.deep.equal([1, 3, 4, 5]);
  });

  it("does not start a batch a single peer asks for (t + 1 must), so one node cannot make it deal", function () {
    const receiver = node(2);
    const ask = (from: number) =>
      receiver.step({ type: "message", from, message: { type: "resend", epoch: 1, batch: 2 } });
    ask(3);
    expect(receiver.nextBatch).to.equal(0);
    ask(4);
    expect(receiver.nextBatch).to.equal(3);
  });

  it("never throws on garbage from a peer", function () {
    const receiver = node(2);
    receiver.step({ type: "demand", unassigned: 0 });
    const valid = sends(node(1).step({ type: "demand", unassigned: 0 })).find((s) => s.to === 2)!.message;
    const garbage = fc.oneof(
      fc.anything(),
      fc
        .tuple(fc.constantFrom(...Object.keys(valid)), fc.anything())
        .map(([key, value]) => ({ ...valid, [key]: value })),
    );
    fc.assert(
      fc.property(garbage, fc.integer({ min: -1, max: 7 }), (message, from) => {
        receiver.step({ type: "message", from, message });
        receiver.step({ type: "decided", decision: message });
      }),
      { numRuns: envCount("PROPERTY_RUNS", 100) * 5, seed: envCount("PROPERTY_SEED", 5) },
    );
  });

  it("starts a batch only when the keys ahead fall below the refill mark", function () {
    const buffered = node(1, 1, { keyBuffer: 12, refillMark: 6 });
    const started = (unassigned: number) =>
      buffered.step({ type: "demand", unassigned }).some((o) => o.type === "persist" && o.record.kind === "dealing");
    expect(started(6)).to.equal(false); // at the mark: nothing to do
    expect(started(5)).to.equal(true); // below it: one batch (2 sharings × k = 6 keys) now under way
    expect(started(0)).to.equal(false); // 0 + 6 under way ≥ the mark
  });

  it("refuses share index 0 (a dealer or sender 0) and counts a repeated echo once", function () {
    const receiver = node(2);
    receiver.step({ type: "demand", unassigned: 0 });
    const zeroDealer = { type: "commitmentRequest", epoch: 1, batch: 0, dealer: 0, hash: "ab".repeat(32) };
    expect(rejected(receiver.step({ type: "message", from: 3, message: zeroDealer }))).to.have.length(1);
    expect(receiver.step({ type: "message", from: 0, message: zeroDealer })).to.deep.equal([]);
    // Node 1 deals; node 2 echoes; a copy of node 1's echo delivered twice does not count twice.
    const dealing = sends(node(1).step({ type: "demand", unassigned: 0 }));
    receiver.step({ type: "message", from: 1, message: dealing.find((d) => d.to === 2)!.message });
    const echoer = node(3);
    echoer.step({ type: "demand", unassigned: 0 });
    const echoes = sends(echoer.step({ type: "message", from: 1, message: dealing.find((d) => d.to === 3)!.message }));
    const echoToTwo = echoes.find((e) => e.to === 2 && e.message.type === "echo")!.message;
    expect(
      receiver.step({ type: "message", from: 3, message: echoToTwo }).filter((o) => o.type === "send"),
    ).to.deep.equal([]);
    expect(receiver.step({ type: "message", from: 3, message: echoToTwo })).to.deep.equal([]);
  });

  describe("key generation with deferred checks", function () {
    const echoes = (out: KeygenOutput[]) => out.filter((o) => o.type === "send" && o.message.type === "echo");
    const checksOf = (out: KeygenOutput[]) => out.flatMap((o) => (o.type === "check" ? [o] : []));
    /** Runs the jobs `out` asks for and enters their results, as a shell with a pool does, until none is left. */
    const settled = (core: KeyGenerator, out: KeygenOutput[]) => {
      const all = [...out];
      for (let jobs = checksOf(out); jobs.length > 0;) {
        const next = jobs.flatMap(({ id, job }) =>
          core.step({ type: "checked", id, result: runCheck(job, systemRng) }),
        );
        all.push(...next);
        jobs = checksOf(next);
      }
      return all;
    };
    const dealingOf = (index: number) => {
      const dealer = node(index, index, undefined, true);
      return settled(dealer, dealer.step({ type: "demand", unassigned: 0 }));
    };

    it("deals once its commitments come back from the job, and persists the polynomials before", function () {
      const dealer = node(1, 1, undefined, true);
      const out = dealer.step({ type: "demand", unassigned: 0 });
      expect(out.filter((o) => o.type === "send")).to.deep.equal([]);
      expect(out.some((o) => o.type === "persist" && o.record.kind === "dealing")).to.equal(true);
      const [deal] = checksOf(out);
      expect(deal?.job.kind).to.equal("deal");
      const sent = dealer.step({ type: "checked", id: deal!.id, result: runCheck(deal!.job, systemRng) });
      expect(sent.flatMap((o) => (o.type === "send" && o.message.type === "send" ? [o.to] : []))).to.deep.equal([
        2, 3, 4, 5,
      ]); // its own send goes by loopback
      // A restart deals the same polynomials from the record: the same commitments.
      const again = node(1, 1, undefined, true);
      again.restore(out.flatMap((o) => (o.type === "persist" ? [o.record] : [])));
      const resent = again.step({ type: "message", from: 2, message: { type: "resend", epoch: 1, batch: 0 } });
      const first = sent.find((o) => o.type === "send" && o.to === 2);
      const second = resent.find((o) => o.type === "send" && o.to === 2);
      expect(second?.type === "send" && second.message.type === "send" && second.message.commitments).to.deep.equal(
        first?.type === "send" && first.message.type === "send" && first.message.commitments,
      );
    });

    it("echoes a peer's send only once the verdict on its rows came back, and one check for resent copies", function () {
      const dealing = dealingOf(1);
      const toTwo = dealing.flatMap((o) => (o.type === "send" && o.to === 2 ? [o.message] : []))[0] as SendMessage;
      const receiver = node(2, 2, undefined, true);
      receiver.step({ type: "demand", unassigned: 0 });
      const first = receiver.step({ type: "message", from: 1, message: toTwo });
      expect(echoes(first)).to.deep.equal([]);
      const [check] = checksOf(first);
      expect(check?.job.kind).to.equal("rows");
      expect(checksOf(receiver.step({ type: "message", from: 1, message: toTwo }))).to.deep.equal([]); // resent copy
      const out = receiver.step({ type: "checked", id: check!.id, result: runCheck(check!.job, systemRng) });
      expect(echoes(out)).to.have.length(4); // to every peer (its own goes by loopback)
    });

    it("refuses a send whose verdict failed, and checks the dealer's next copy afresh", function () {
      const dealing = dealingOf(1);
      const toTwo = dealing.flatMap((o) => (o.type === "send" && o.to === 2 ? [o.message] : []))[0] as SendMessage;
      const receiver = node(2, 2, undefined, true);
      receiver.step({ type: "demand", unassigned: 0 });
      const reversed = toTwo.rows.map((r) => [...r].reverse());
      const [bad] = checksOf(
        receiver.step({ type: "message", from: 1, message: { ...toTwo, rows: reversed, cols: reversed } }),
      );
      const refused = receiver.step({ type: "checked", id: bad!.id, result: runCheck(bad!.job, systemRng) });
      expect(refused.filter((o) => o.type === "rejected").map((o) => o.type === "rejected" && o.reason)).to.deep.equal([
        "rows or columns do not match the commitments",
      ]);
      expect(echoes(refused)).to.deep.equal([]);
      const [good] = checksOf(receiver.step({ type: "message", from: 1, message: toTwo }));
      expect(echoes(receiver.step({ type: "checked", id: good!.id, result: { ok: true } }))).to.have.length(4);
    });
  });
});
