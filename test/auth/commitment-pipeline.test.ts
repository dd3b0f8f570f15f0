/**
 * The commit–reveal store's changes are pipelined on the embedded engine (node/auth/commitments.ts, kv-store.ts
 * "Pipelined writes"): concurrent changes share fsyncs instead of each waiting for its own before the next may start,
 * and still no caller hears an outcome — "added", "taken", a reveal recorded — before an fsync that started after
 * the write it rests on has returned. The fsyncs are held and released by the test (test/support/held-fsync.ts), and
 * every check is on the order of events, not on time.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import { CommitmentStore, type CommitmentRecord } from "../../node/auth/commitments.ts";
import { key } from "../../node/store/key-codec.ts";
import type { KvReader, KvStore, RangeQuery, StoreEntry, StoreOp } from "../../node/store/kv-store.ts";
import { SqliteStore } from "../../node/store/sqlite-store.ts";
import { HeldFsync, tick, type Timeline } from "../support/held-fsync.ts";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

/** The engine, noting on the timeline when each key was last applied. */
class ApplyRecorder implements KvStore {
  readonly appliedAt = new Map<string, number>();
  readonly applied: KvReader;
  constructor(
    private readonly inner: KvStore,
    private readonly timeline: Timeline,
  ) {
    this.applied = inner.applied;
  }
  async apply(ops: readonly StoreOp[]): Promise<void> {
    await this.inner.apply(ops);
    const at = this.timeline.mark();
    for (const op of ops) this.appliedAt.set(hex(op.key), at);
  }
  commit(ops: readonly StoreOp[]): Promise<void> {
    return this.inner.commit(ops);
  }
  durable(): Promise<void> {
    return this.inner.durable();
  }
  get(k: Uint8Array): Promise<Uint8Array | undefined> {
    return this.inner.get(k);
  }
  range(query: RangeQuery): Promise<StoreEntry[]> {
    return this.inner.range(query);
  }
  count(query: Omit<RangeQuery, "limit" | "reverse">): Promise<number> {
    return this.inner.count(query);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

describe("commit–reveal changes pipelined on the embedded store: shared fsyncs, nothing answered before durable", function () {
  let dir: string;
  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "commitment-pipeline-"));
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it("answers N concurrent changes with far fewer fsyncs, each only after an fsync begun after its record's write", async function () {
    const held = new HeldFsync();
    const file = path.join(dir, "auth.sqlite");
    const kv = new ApplyRecorder(await SqliteStore.open(file, { fsync: held.fsync }), held.timeline);
    const now = 1_000_000;
    const store = await CommitmentStore.open(kv, () => now);
    const N = 32;
    const records: CommitmentRecord[] = Array.from({ length: N }, (_, i) => ({
      commitment: i.toString(16).padStart(64, "0"),
      tempPubX: "1",
      tempPubY: "2",
      verifier: "dev",
      data: "d",
      signature: `s${i}`,
      expiresAt: now + 60_000,
      source: `10.0.0.${i % 4}`,
    }));
    // Each call, with the key of the record its outcome rests on (the commitment a "taken" was told of, too).
    const calls = [
      ...records.map((r) => ({ rests: key("c", r.commitment), outcome: store.addCommitment(r) })),
      // Raced requests for commitments recorded above, not yet durable: "taken", on the strength of those writes.
      ...records.slice(0, 4).map((r) => ({
        rests: key("c", r.commitment),
        outcome: store.addCommitment({ ...r, tempPubX: "other", source: "10.0.0.9" }),
      })),
      ...records.slice(0, N / 2).map((r) => ({
        rests: key("r", r.commitment),
        outcome: store.addReveal({ commitment: r.commitment, response: { ok: r.signature }, expiresAt: r.expiresAt }),
      })),
    ];
    const answeredAt: number[] = [];
    calls.forEach((call, i) => void call.outcome.then(() => (answeredAt[i] = held.timeline.mark())));
    const all = Promise.all(calls.map((c) => c.outcome));
    let done = false;
    void all.finally(() => (done = true));
    while (!done) {
      held.release();
      await tick();
    }
    const outcomes = await all;
    expect(outcomes.slice(0, N)).to.deep.equal(Array(N).fill("added"));
    expect(outcomes.slice(N, N + 4)).to.deep.equal(Array(4).fill("taken"));
    // 52 changes; one at a time they would have made 52 fsyncs.
    expect(held.fsyncs.length, "fsyncs").to.be.within(1, 4);
    calls.forEach((call, i) => {
      const written = kv.appliedAt.get(hex(call.rests));
      expect(written, `call ${i}'s record was written`).to.be.a("number");
      expect(held.covered(written!, answeredAt[i]!), `call ${i} answered only once its record was durable`).to.equal(
        true,
      );
    });
    await kv.close();
    // And it all is there after a restart.
    const engine = await SqliteStore.open(file);
    const reopened = await CommitmentStore.open(engine, () => now);
    expect(reopened.size).to.equal(N + N / 2);
    expect(await reopened.openCommitments("10.0.0.0")).to.equal(N / 4 / 2);
    await engine.close();
  });
});
