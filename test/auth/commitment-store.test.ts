/**
 * The commit–reveal store under a flood of made-up commitments (issue 19, item 2): open commitments counted per
 * source, across a restart too; at the cap, room made by evicting the oldest open commitment of the largest source,
 * never one of a source at or under its fair share; expiry reclaimed from the front of insertion order.
 */
import { expect } from "chai";

import { CommitmentStore, type CommitmentRecord } from "../../node/auth/commitments.ts";
import { key } from "../../node/store/key-codec.ts";
import { MemoryStore } from "../../node/store/memory-store.ts";
import { envCount, Prng } from "../support/prng.ts";

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
  it("counts open commitments per source; a reveal or an expiry closes one", async function () {
    const c = clock();
    const store = new CommitmentStore(new MemoryStore(), c.now, 100);
    const a1 = record(c.now(), "a");
    await store.addCommitment(a1);
    await store.addCommitment(record(c.now(), "a"));
    await store.addCommitment(record(c.now(), "b"));
    expect([
      await store.openCommitments("a"),
      await store.openCommitments("b"),
      await store.openCommitments("x"),
    ]).to.deep.equal([2, 1, 0]);
    await store.addReveal({ commitment: a1.commitment, response: {}, expiresAt: c.now() + LIFETIME });
    expect(await store.openCommitments("a")).to.equal(1);
    expect(await store.commitment(a1.commitment)).to.deep.equal(a1); // still answered as a repeat
    c.advance(LIFETIME);
    expect([await store.openCommitments("a"), await store.openCommitments("b"), store.size]).to.deep.equal([0, 0, 0]);
  });

  it("at the cap, evicts the oldest open commitment of the largest source to admit a source under its share", async function () {
    const c = clock();
    const store = new CommitmentStore(new MemoryStore(), c.now, 10);
    const flood = Array.from({ length: 9 }, () => record(c.now(), "attacker"));
    for (const r of flood) expect(await store.addCommitment(r)).to.equal("added");
    const user = record(c.now(), "user");
    expect(await store.addCommitment(user)).to.equal("added");
    expect(store.size).to.equal(10);
    // Full: the attacker (9 of 10, fair share 5) gives way to another user, oldest first.
    const other = record(c.now(), "other");
    expect(await store.addCommitment(other)).to.equal("added");
    expect(store.size).to.equal(10);
    expect(await store.commitment(flood[0]!.commitment)).to.equal(undefined);
    expect(await store.commitment(flood[1]!.commitment)).to.deep.equal(flood[1]);
    expect(await store.openCommitments("attacker")).to.equal(8);
    // The attacker itself, over its share, cannot evict anyone: it is refused and nothing changes.
    expect(await store.addCommitment(record(c.now(), "attacker"))).to.equal("full");
    expect(await store.openCommitments("attacker")).to.equal(8);
    // Many sources flooding together: the user's single commitment is never the one evicted.
    for (let i = 0; i < 20; i++) await store.addCommitment(record(c.now(), `s${i}`));
    expect(await store.commitment(user.commitment)).to.deep.equal(user);
    expect(await store.commitment(other.commitment)).to.deep.equal(other);
    expect(store.size).to.equal(10);
  });

  it("remembers an evicted commitment until it would have expired, so that no second key is signed for it", async function () {
    const c = clock();
    const store = new CommitmentStore(new MemoryStore(), c.now, 10, 2);
    const flood = Array.from({ length: 10 }, () => record(c.now(), "attacker"));
    for (const r of flood) await store.addCommitment(r);
    expect(await store.addCommitment(record(c.now(), "user"))).to.equal("added");
    expect(await store.commitment(flood[0]!.commitment)).to.equal(undefined);
    expect([await store.evicted(flood[0]!.commitment), await store.evicted(flood[1]!.commitment)]).to.deep.equal([
      true,
      false,
    ]);
    // At most maxEvicted marks: past that the store refuses rather than forget what it signed.
    expect(await store.addCommitment(record(c.now(), "user2"))).to.equal("added");
    expect(await store.addCommitment(record(c.now(), "late"))).to.equal("full");
    expect(await store.openCommitments("attacker")).to.equal(8);
    c.advance(LIFETIME);
    expect(await store.evicted(flood[0]!.commitment)).to.equal(false);
    expect(await store.addCommitment(record(c.now(), "late"))).to.equal("added");
  });

  it("refuses at the cap when every source holds at most its fair share (or records have no source)", async function () {
    const c = clock();
    const store = new CommitmentStore(new MemoryStore(), c.now, 4);
    for (const source of ["a", "a", "b", "b"])
      expect(await store.addCommitment(record(c.now(), source))).to.equal("added");
    // Three sources would make the share 1: a and b hold 2 each, above it, so c gets in by evicting a's oldest.
    expect(await store.addCommitment(record(c.now(), "c"))).to.equal("added");
    // Now a:1 b:2 c:1; d makes four sources (share 1): b gives way.
    expect(await store.addCommitment(record(c.now(), "d"))).to.equal("added");
    expect(await Promise.all(["a", "b", "c", "d"].map((s) => store.openCommitments(s)))).to.deep.equal([1, 1, 1, 1]);
    expect(await store.addCommitment(record(c.now(), "e"))).to.equal("full");
    const legacy = new CommitmentStore(new MemoryStore(), c.now, 2);
    await legacy.addCommitment(record(c.now(), undefined));
    await legacy.addCommitment(record(c.now(), undefined));
    expect(await legacy.addCommitment(record(c.now(), "a"))).to.equal("full");
  });

  it("reclaims expired records from the front of the queue when a record is added", async function () {
    const c = clock();
    const store = new CommitmentStore(new MemoryStore(), c.now, 3);
    const old = [record(c.now(), "a"), record(c.now(), "a")];
    for (const r of old) await store.addCommitment(r);
    await store.addReveal({ commitment: "r", response: {}, expiresAt: c.now() + LIFETIME });
    c.advance(LIFETIME / 2);
    const young = record(c.now(), "a");
    c.advance(LIFETIME / 2);
    expect(await store.addCommitment(young)).to.equal("added");
    expect(store.size).to.equal(1);
    expect(await store.openCommitments("a")).to.equal(1);
  });

  it("keeps each source's count across a restart (a new store over the same engine); sourceless records count against none", async function () {
    const c = clock();
    const kv = new MemoryStore();
    const before = new CommitmentStore(kv, c.now, 100);
    const a = record(c.now(), "a");
    for (const r of [a, record(c.now(), "a"), record(c.now(), undefined), record(c.now() - LIFETIME, "b")])
      expect(await before.addCommitment(r)).to.equal("added");
    await before.addReveal({ commitment: a.commitment, response: {}, expiresAt: c.now() + LIFETIME });
    const store = await CommitmentStore.open(kv, c.now, 100);
    expect(await store.openCommitments("a")).to.equal(1);
    expect(await store.openCommitments("b")).to.equal(0);
    expect(store.size).to.equal(4);
    expect(await store.reveal(a.commitment)).to.deep.equal({
      commitment: a.commitment,
      response: {},
      expiresAt: c.now() + LIFETIME,
    });
  });

  it("records a commitment once: a racing second request, a revealed or an evicted commitment is taken", async function () {
    const c = clock();
    const store = new CommitmentStore(new MemoryStore(), c.now, 2);
    const first = record(c.now(), "a", "raced");
    const second = { ...record(c.now(), "b", "raced"), tempPubX: "attacker" };
    expect(await Promise.all([store.addCommitment(first), store.addCommitment(second)])).to.deep.equal([
      "added",
      "taken",
    ]);
    expect(await store.commitment("raced")).to.deep.equal(first);
    await store.addReveal({ commitment: "revealed", response: {}, expiresAt: c.now() + LIFETIME });
    expect(await store.addCommitment(record(c.now(), "a", "revealed"))).to.equal("taken");
    expect(await store.addCommitment(record(c.now(), "c"))).to.equal("full");
    expect(await store.openCommitments("b")).to.equal(0);
  });

  it("refuses a source at its quota, atomically with recording (concurrent requests cannot pass it together)", async function () {
    const c = clock();
    const store = new CommitmentStore(new MemoryStore(), c.now, 100);
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => store.addCommitment(record(c.now(), "a"), 3)));
    expect(outcomes).to.deep.equal(["added", "added", "added", "quota", "quota"]);
    expect([await store.openCommitments("a"), store.size]).to.deep.equal([3, 3]);
  });
  it("keeps one expiry entry per record and mark, and every count equal to its rows, over seeded random operations", async function () {
    // White-box: the rows by table letter (node/auth/commitments.ts's key layout).
    const c = clock();
    const kv = new MemoryStore();
    const store = new CommitmentStore(kv, c.now, 20, 8);
    const rows = (...parts: (string | number)[]) => kv.count({ prefix: key(...parts) });
    const rng = new Prng(envCount("COMMITMENT_STORE_SEED", 17));
    const sources = ["a", "b", "c", "d", "e"];
    const made: string[] = [];
    for (let step = 0; step < envCount("COMMITMENT_STORE_STEPS", 1500); step++) {
      const op = rng.int(0, 9);
      if (op < 5) {
        const source = rng.chance(0.1) ? undefined : rng.pick(sources.slice(0, rng.int(1, sources.length)));
        const r = record(c.now(), source);
        made.push(r.commitment);
        await store.addCommitment(r, 6);
      } else if (op < 8 && made.length > 0) {
        const commitment = rng.chance(0.8) ? rng.pick(made) : `unknown${step}`;
        await store.addReveal({ commitment, response: { step }, expiresAt: c.now() + LIFETIME });
      } else c.advance(rng.int(0, LIFETIME / 4));
      const open = await Promise.all(sources.map((s) => store.openCommitments(s)));
      const [commitments, reveals, marks, expiries, counts, sizes] = await Promise.all(
        ["c", "r", "e", "x", "n", "s"].map((table) => rows(table)),
      );
      const where = `step ${step} (seed COMMITMENT_STORE_SEED=${rng.seed})`;
      expect(store.size, where).to.equal(commitments! + reveals!);
      // The cap admits commitments (a reveal follows a verified login and is always kept).
      expect(commitments, where).to.be.at.most(20);
      expect(marks, where).to.be.at.most(8);
      expect(expiries, where).to.equal(commitments! + reveals! + marks!);
      for (const [i, s] of sources.entries()) expect(await rows("o", s), `${where} ${s}`).to.equal(open[i]);
      expect([counts, sizes], where).to.deep.equal(Array(2).fill(open.filter((n) => n > 0).length));
      expect(Math.max(...open), where).to.be.at.most(6);
    }
  });
});
