/**
 * The commit–reveal store under a flood of made-up commitments (issue 19, item 2): open commitments counted per
 * source, across a restart too; at the cap, room made by evicting the oldest open commitment of the largest source,
 * never one of a source at or under its fair share; expiry reclaimed from the front of insertion order.
 */
import { expect } from "chai";

import { CommitmentStore, type AuthRecord, type CommitmentRecord } from "../../node/auth/commitments.ts";

const LIFETIME = 1000;

function clock() {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

let counter = 0;
function record(at: number, source: string | undefined, commitment = `c${counter++}`): CommitmentRecord {
  return {
    commitment,
    tempPubX: "1",
    tempPubY: "2",
    verifier: "dev",
    data: "d",
    signature: "s",
    expiresAt: at + LIFETIME,
    ...(source === undefined ? {} : { source }),
  };
}

describe("the commitment store: quotas per source, fair eviction at the cap, expiry queue", function () {
  it("counts open commitments per source; a reveal or an expiry closes one", function () {
    const c = clock();
    const store = new CommitmentStore(c.now, 100);
    const a1 = record(c.now(), "a");
    store.addCommitment(a1);
    store.addCommitment(record(c.now(), "a"));
    store.addCommitment(record(c.now(), "b"));
    expect([store.openCommitments("a"), store.openCommitments("b"), store.openCommitments("x")]).to.deep.equal([
      2, 1, 0,
    ]);
    store.addReveal({ commitment: a1.commitment, response: {}, expiresAt: c.now() + LIFETIME });
    expect(store.openCommitments("a")).to.equal(1);
    expect(store.commitment(a1.commitment)).to.equal(a1); // still answered as a repeat
    c.advance(LIFETIME);
    expect([store.openCommitments("a"), store.openCommitments("b"), store.size]).to.deep.equal([0, 0, 0]);
  });

  it("at the cap, evicts the oldest open commitment of the largest source to admit a source under its share", function () {
    const c = clock();
    const store = new CommitmentStore(c.now, 10);
    const flood = Array.from({ length: 9 }, () => record(c.now(), "attacker"));
    for (const r of flood) expect(store.addCommitment(r)).to.equal(true);
    const user = record(c.now(), "user");
    expect(store.addCommitment(user)).to.equal(true);
    expect(store.size).to.equal(10);
    // Full: the attacker (9 of 10, fair share 5) gives way to another user, oldest first.
    const other = record(c.now(), "other");
    expect(store.addCommitment(other)).to.equal(true);
    expect(store.size).to.equal(10);
    expect(store.commitment(flood[0]!.commitment)).to.equal(undefined);
    expect(store.commitment(flood[1]!.commitment)).to.equal(flood[1]);
    expect(store.openCommitments("attacker")).to.equal(8);
    // The attacker itself, over its share, cannot evict anyone: it is refused and nothing changes.
    expect(store.addCommitment(record(c.now(), "attacker"))).to.equal(false);
    expect(store.openCommitments("attacker")).to.equal(8);
    // Many sources flooding together: the user's single commitment is never the one evicted.
    for (let i = 0; i < 20; i++) store.addCommitment(record(c.now(), `s${i}`));
    expect(store.commitment(user.commitment)).to.equal(user);
    expect(store.commitment(other.commitment)).to.equal(other);
    expect(store.size).to.equal(10);
  });

  it("remembers an evicted commitment until it would have expired, so that no second key is signed for it", function () {
    const c = clock();
    const store = new CommitmentStore(c.now, 10, 2);
    const flood = Array.from({ length: 10 }, () => record(c.now(), "attacker"));
    for (const r of flood) store.addCommitment(r);
    expect(store.addCommitment(record(c.now(), "user"))).to.equal(true);
    expect(store.commitment(flood[0]!.commitment)).to.equal(undefined);
    expect([store.evicted(flood[0]!.commitment), store.evicted(flood[1]!.commitment)]).to.deep.equal([true, false]);
    // At most maxEvicted marks: past that the store refuses rather than forget what it signed.
    expect(store.addCommitment(record(c.now(), "user2"))).to.equal(true);
    expect(store.addCommitment(record(c.now(), "late"))).to.equal(false);
    expect(store.openCommitments("attacker")).to.equal(8);
    c.advance(LIFETIME);
    expect(store.evicted(flood[0]!.commitment)).to.equal(false);
    expect(store.addCommitment(record(c.now(), "late"))).to.equal(true);
  });

  it("refuses at the cap when every source holds at most its fair share (or records have no source)", function () {
    const c = clock();
    const store = new CommitmentStore(c.now, 4);
    for (const source of ["a", "a", "b", "b"]) expect(store.addCommitment(record(c.now(), source))).to.equal(true);
    // Three sources would make the share 1: a and b hold 2 each, above it, so c gets in by evicting a's oldest.
    expect(store.addCommitment(record(c.now(), "c"))).to.equal(true);
    // Now a:1 b:2 c:1; d makes four sources (share 1): b gives way.
    expect(store.addCommitment(record(c.now(), "d"))).to.equal(true);
    expect(["a", "b", "c", "d"].map((s) => store.openCommitments(s))).to.deep.equal([1, 1, 1, 1]);
    expect(store.addCommitment(record(c.now(), "e"))).to.equal(false);
    const legacy = new CommitmentStore(c.now, 2);
    legacy.addCommitment(record(c.now(), undefined));
    legacy.addCommitment(record(c.now(), undefined));
    expect(legacy.addCommitment(record(c.now(), "a"))).to.equal(false);
  });

  it("reclaims expired records from the front of the queue when a record is added", function () {
    const c = clock();
    const store = new CommitmentStore(c.now, 3);
    const old = [record(c.now(), "a"), record(c.now(), "a")];
    for (const r of old) store.addCommitment(r);
    store.addReveal({ commitment: "r", response: {}, expiresAt: c.now() + LIFETIME });
    c.advance(LIFETIME / 2);
    const young = record(c.now(), "a");
    c.advance(LIFETIME / 2);
    expect(store.addCommitment(young)).to.equal(true);
    expect(store.size).to.equal(1);
    expect(store.openCommitments("a")).to.equal(1);
  });

  it("keeps each source's count across a restart, and loads logs written before sources were kept", function () {
    const c = clock();
    const a = record(c.now(), "a");
    const records: AuthRecord[] = [
      { kind: "commitment", ...a },
      { kind: "commitment", ...record(c.now(), "a") },
      { kind: "commitment", ...record(c.now(), undefined) },
      { kind: "reveal", commitment: a.commitment, response: {}, expiresAt: c.now() + LIFETIME },
      { kind: "commitment", ...record(c.now() - LIFETIME, "b") },
    ];
    const store = new CommitmentStore(c.now, 100);
    store.load(records);
    expect(store.openCommitments("a")).to.equal(1);
    expect(store.openCommitments("b")).to.equal(0);
    expect(store.size).to.equal(4);
  });
});
