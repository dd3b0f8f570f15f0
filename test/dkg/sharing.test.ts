import { expect } from "chai";

import { bivariateRow, randomBivariate, randomSymmetricBivariate } from "../../node/crypto/bivariate.ts";
import { commitPedersenMatrix } from "../../node/crypto/commitments.ts";
import { Sharing, type OwnRows } from "../../node/dkg/sharing.ts";
import { commitmentHash, matricesToWire } from "../../node/dkg/wire.ts";
import { Prng } from "../support/prng.ts";

// One dealer's sharing of one key at n5 k3 t1, as node 2 sees it.
const n = 5;
const k = 3;
const t = 1;
const self = 2;
const prng = new Prng(7);
const rng = (bytes: number) => Uint8Array.from({ length: bytes }, () => prng.nextUint32() & 0xff);
const f = randomSymmetricBivariate(11n, k, rng);
const fb = randomSymmetricBivariate(13n, k, rng);
const commitments = [commitPedersenMatrix(f, fb)];
const id = { epoch: 1, batch: 0, dealer: 1 };
const hash = commitmentHash(id, commitments);

function ownRows(i: number): OwnRows {
  const x = BigInt(i);
  return {
    hash,
    rows: [bivariateRow(f, x)],
    rowBlindings: [bivariateRow(fb, x)],
  };
}

/** Rows and columns as text: a failed comparison of bigints would not reach mocha's report from its worker. */
const hex = (own: OwnRows | undefined) =>
  JSON.stringify(own, (_, v: unknown) => (typeof v === "bigint" ? v.toString(16) : v));

/** A sharing whose host writes down what it is asked to do, in order. */
function sharing() {
  const calls: string[] = [];
  let signed = 0;
  const session = new Sharing(self, k, {
    n,
    t,
    echoThreshold: Math.max(Math.ceil((n + t + 1) / 2), k),
    keys: 1,
    sendPoints: (m, type) => calls.push(`${type} to ${m}`),
    askCommitments: (from, h) => calls.push(`ask ${from} for ${h === hash ? "the dealer's" : "other"} commitments`),
    reject: (from, reason) => calls.push(`reject ${from}: ${reason}`),
    signReady: (h) => `signature ${++signed} of ${h === hash ? "the dealer's" : "another"} hash`,
    persist: () => calls.push("persist"),
    completed: () => calls.push("completed"),
  });
  return { session, calls };
}

/** The host calls of an echo or a ready: the record first, then the points to every node. */
const persistedThenToAll = (type: "echo" | "ready") => [
  "persist",
  ...Array.from({ length: n }, (_, i) => `${type} to ${i + 1}`),
];

/** What node `from` echoes or readies to this node, from its own row and column. */
function pointsFrom(from: number) {
  const peer = sharing().session;
  peer.onSend(hash, commitments, ownRows(from));
  return peer.pointsForPeer(self);
}

describe("one dealer's sharing (AVSS echo and ready)", function () {
  it("echoes the dealer's send, readies on an echo quorum, completes on k + t readies, each persisted first", function () {
    const { session, calls } = sharing();
    session.onSend(hash, commitments, ownRows(self));
    expect(calls.splice(0)).to.deep.equal(persistedThenToAll("echo"));
    for (const from of [1, 3, 4]) session.onPoints(from, "echo", hash, pointsFrom(from));
    expect(calls.splice(0)).to.deep.equal([]);
    session.onPoints(5, "echo", hash, pointsFrom(5));
    expect(calls.splice(0)).to.deep.equal(persistedThenToAll("ready"));
    // Its own ready comes back to it like any other (through the host's loopback); here four peers' do.
    for (const from of [1, 3, 4]) session.onPoints(from, "ready", hash, pointsFrom(from), `sig${from}`);
    expect(calls.splice(0)).to.deep.equal([]);
    session.onPoints(5, "ready", hash, pointsFrom(5), "sig5");
    expect(calls.splice(0)).to.deep.equal(["persist", "completed"]);
    expect(session.readyProofs()).to.deep.equal([1, 3, 4, 5].map((node) => ({ node, signature: `sig${node}` })));
    // Its own ready's signature is the host's, asked for once however often the ready is sent.
    expect([session.readySignature, session.readySignature]).to.deep.equal([
      "signature 1 of the dealer's hash",
      "signature 1 of the dealer's hash",
    ]);
  });

  it("rebuilds its row and column from k readies when the dealer never sent them", function () {
    const { session, calls } = sharing();
    for (const from of [1, 3, 4]) session.onPoints(from, "ready", hash, pointsFrom(from), `sig${from}`);
    // The commitments are unknown here: the points wait for them, each sender asked once.
    expect(calls.splice(0)).to.deep.equal([1, 3, 4].map((from) => `ask ${from} for the dealer's commitments`));
    session.onCommitments(3, hash, commitments);
    expect(calls.slice(0, 6)).to.deep.equal(persistedThenToAll("ready"));
    expect(hex(session.own)).to.equal(hex(ownRows(self)));
  });

  it("refuses points that do not match the commitments, and commitments nobody asked for", function () {
    const { session, calls } = sharing();
    session.onSend(hash, commitments, ownRows(self));
    calls.splice(0);
    const wrong = pointsFrom(3).map((p) => ({ ...p, row: p.row + 1n, col: p.col + 1n }));
    session.onPoints(3, "echo", hash, wrong);
    // f(2, 4) and f(4, 2) are one value of a symmetric polynomial: halves that differ are refused.
    const halves = pointsFrom(4).map((p) => ({ ...p, col: p.col + 1n }));
    session.onPoints(4, "ready", hash, halves, "sig4");
    session.onCommitments(4, "ff".repeat(32), commitments);
    expect(calls).to.deep.equal([
      "reject 3: echo points do not match the commitments",
      "reject 4: ready points do not match the commitments",
      "reject 4: commitments nobody asked for",
    ]);
    expect(session.has("echo", hash, 3)).to.equal(false);
    expect(session.has("ready", hash, 4)).to.equal(false);
  });

  it("takes only commitments of a symmetric polynomial from a peer's answer", function () {
    const { session, calls } = sharing();
    const asymmetric = [commitPedersenMatrix(randomBivariate(11n, k, rng), randomBivariate(13n, k, rng))];
    const asymmetricHash = commitmentHash(id, asymmetric);
    session.onPoints(3, "echo", asymmetricHash, pointsFrom(3));
    session.onCommitments(3, asymmetricHash, asymmetric);
    expect(calls).to.deep.equal([
      "ask 3 for other commitments",
      "reject 3: commitments of a polynomial that is not symmetric",
    ]);
    expect(session.commitments.has(asymmetricHash)).to.equal(false);
  });

  it("bounds what one peer can make it hold, so that a Byzantine peer cannot crowd out honest points or commitments", function () {
    const { session, calls } = sharing();
    // A Byzantine peer echoes and readies points of made-up hashes, and answers each request with made-up commitments
    // of that hash, before the dealer's send arrives.
    const made = Array.from({ length: 8 }, (_, fake) => [
      commitPedersenMatrix(randomSymmetricBivariate(BigInt(fake + 100), k, rng), randomSymmetricBivariate(1n, k, rng)),
    ]);
    for (const commitments of made) {
      const fakeHash = commitmentHash(id, commitments);
      session.onPoints(5, "echo", fakeHash, pointsFrom(5));
      session.onPoints(5, "ready", fakeHash, pointsFrom(5), "sig5");
      session.onCommitments(5, fakeHash, commitments);
    }
    expect(session.commitments.size, "commitments learned from peer 5").to.equal(2);
    expect(session.parked.filter((p) => p.from === 5)).to.have.length(4);
    // Two hashes learned; the next two wait with their points; the last four's points are not even kept.
    expect(calls.filter((c) => c === "reject 5: commitments of too many hashes")).to.have.length(2);
    expect(calls.filter((c) => c === "reject 5: commitments nobody asked for")).to.have.length(4);
    // An honest peer's ready still waits for the dealer's commitments, which that peer's answer brings.
    session.onPoints(3, "ready", hash, pointsFrom(3), "sig3");
    session.onCommitments(3, hash, commitments);
    expect(session.has("ready", hash, 3)).to.equal(true);
    // The dealer's send always counts: shares are computed from its commitments, and a restart reads them back.
    session.onSend(hash, commitments, ownRows(self));
    expect(session.record().commitments).to.deep.equal(matricesToWire(commitments));
    expect(calls.filter((c) => c.startsWith("echo"))).to.have.length(n);
  });

  it("restores from its record what it needs to answer peers and compute shares", function () {
    const { session } = sharing();
    session.onSend(hash, commitments, ownRows(self));
    for (const from of [1, 3, 4, 5]) session.onPoints(from, "echo", hash, pointsFrom(from));
    for (const from of [1, 3, 4, 5]) session.onPoints(from, "ready", hash, pointsFrom(from), `sig${from}`);
    const record = JSON.parse(JSON.stringify(session.record())) as ReturnType<Sharing["record"]>;
    const restored = sharing();
    restored.session.restore(record);
    expect(hex(restored.session.own)).to.equal(hex(session.own));
    expect(matricesToWire(restored.session.commitments.get(hash)!)).to.deep.equal(matricesToWire(commitments));
    expect([restored.session.echoed, restored.session.readied, restored.session.completed]).to.deep.equal([
      hash,
      hash,
      hash,
    ]);
    expect(restored.session.readyProofs()).to.deep.equal(session.readyProofs());
    restored.session.resendTo(4);
    expect(restored.calls).to.deep.equal(["echo to 4", "ready to 4"]);
  });
});
