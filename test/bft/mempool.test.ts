import { expect } from "chai";

import { Mempool } from "../../node/bft/mempool.ts";

describe("mempool", function () {
  const accept = () => ({ ok: true }) as const;

  it("deduplicates, caps count, bytes and per-sender, and reaps oldest first", function () {
    const pool = new Mempool(accept, { maxTxs: 4, maxBytes: 1000, maxPerSender: 2, maxTxBytes: 10 });
    expect(pool.add("x".repeat(11), "s1")).to.deep.equal({ ok: false, reason: "too large" });
    expect(pool.add("a", "s1")).to.deep.equal({ ok: true });
    expect(pool.add("a", "s2")).to.deep.equal({ ok: false, reason: "duplicate" });
    expect(pool.add("b", "s1").ok).to.equal(true);
    expect(pool.add("c", "s1")).to.deep.equal({ ok: false, reason: "sender limit" });
    expect(pool.add("c", "s2").ok).to.equal(true);
    expect(pool.add("d", "s3").ok).to.equal(true);
    expect(pool.add("e", "s4")).to.deep.equal({ ok: false, reason: "full" });
    expect(pool.reap(3, 1000)).to.deep.equal(["a", "b", "c"]);
    expect(pool.reap(10, 2)).to.deep.equal(["a", "b"]);
  });

  it("keeps a share of the clients' cap for other sources: one source cannot take every client slot", function () {
    const pool = new Mempool(accept, { maxTxs: 100, maxBytes: 1000, maxPerSender: 4, maxPerSource: 2, maxTxBytes: 10 });
    expect(pool.add("a1", "client", "1.2.3.4").ok).to.equal(true);
    expect(pool.add("a2", "client", "1.2.3.4").ok).to.equal(true);
    expect(pool.add("a3", "client", "1.2.3.4")).to.deep.equal({ ok: false, reason: "source limit" });
    expect(pool.add("b1", "client", "5.6.7.8").ok).to.equal(true);
    // The same source counts per sender: a peer's relay of a transaction is not the client's.
    expect(pool.add("a3", "peer-2", "1.2.3.4").ok).to.equal(true);
    // Once a source's transaction is decided, its slot is free again.
    pool.update(["a1"]);
    expect(pool.add("a4", "client", "1.2.3.4").ok).to.equal(true);
    expect(pool.add("c1", "client", "9.9.9.9").ok).to.equal(true);
    expect(pool.add("c2", "client", "9.9.9.9")).to.deep.equal({ ok: false, reason: "sender limit" });
  });

  it("refuses what the app does not admit, with its reason", function () {
    const pool = new Mempool((tx) => (tx === "bad" ? { ok: false, detail: "nope" } : { ok: true }));
    expect(pool.add("bad", "s")).to.deep.equal({ ok: false, reason: "invalid", detail: "nope" });
  });

  it("drops committed transactions and those the new state refuses, and frees the sender's quota", function () {
    let refused = new Set<string>();
    const pool = new Mempool((tx) => (refused.has(tx) ? { ok: false, detail: "stale" } : { ok: true }), {
      maxTxs: 10,
      maxBytes: 1000,
      maxPerSender: 2,
      maxTxBytes: 100,
    });
    pool.add("a", "s");
    pool.add("b", "s");
    refused = new Set(["b"]);
    pool.update(["a"]);
    expect(pool.size).to.equal(0);
    expect(pool.add("c", "s").ok).to.equal(true);
  });
});
