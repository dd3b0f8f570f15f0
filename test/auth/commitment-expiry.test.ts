/**
 * The commit–reveal records on the embedded store (the epoch's auth.sqlite) do not grow with history: after each
 * round of commitments and reveals expires and is reclaimed through the expiry index, the store holds no more rows
 * than before the round, over three rounds; a restart reads one key, not the records (expired or not); what has
 * expired is then reclaimed by reading only it; an eviction mark survives the restart. Until issue 17 every record
 * was appended to auth.log, never compacted, and read whole at each start.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import { CommitmentStore, type CommitmentRecord } from "../../node/auth/commitments.ts";
import type { KvReader, KvStore, RangeQuery, StoreEntry, StoreOp } from "../../node/store/kv-store.ts";
import { SqliteStore } from "../../node/store/sqlite-store.ts";
import { envCount } from "../support/prng.ts";

const LIFETIME = 60_000;
const N = envCount("COMMITMENT_EXPIRY_RECORDS", 200);
const SOURCES = 30;

/** The real engine, counting the entries it hands out through either view (a get that finds a value counts one). */
class ReadCounter implements KvStore {
  entriesRead = 0;
  readonly applied: KvReader;
  constructor(readonly inner: KvStore) {
    this.applied = this.#counting(inner.applied);
  }
  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.#counting(this.inner).get(key);
  }
  commit(ops: readonly StoreOp[]): Promise<void> {
    return this.inner.commit(ops);
  }
  apply(ops: readonly StoreOp[]): Promise<void> {
    return this.inner.apply(ops);
  }
  durable(): Promise<void> {
    return this.inner.durable();
  }
  range(query: RangeQuery): Promise<StoreEntry[]> {
    return this.#counting(this.inner).range(query);
  }
  count(query: Omit<RangeQuery, "limit" | "reverse">): Promise<number> {
    return this.inner.count(query);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  #counting(reader: KvReader): KvReader {
    return {
      get: async (key) => {
        const value = await reader.get(key);
        if (value) this.entriesRead++;
        return value;
      },
      range: async (query) => {
        const entries = await reader.range(query);
        this.entriesRead += entries.length;
        return entries;
      },
      count: (query) => reader.count(query),
    };
  }
}

describe("commit–reveal records on the embedded store: bounded by what is live, not by history", function () {
  this.timeout(60_000);
  let dir: string;
  let now = 1_000_000;
  const clock = () => now;
  let serial = 0;

  function commitment(source: string): CommitmentRecord {
    const id = (serial++).toString(16).padStart(64, "0");
    return {
      commitment: id,
      tempPubX: "1",
      tempPubY: "2",
      verifier: "dev",
      data: "d",
      signature: "s",
      source,
      expiresAt: now + LIFETIME,
    };
  }

  /** N commitments from SOURCES sources, every other one revealed. */
  async function round(store: CommitmentStore): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < N; i++) {
      const record = commitment(`10.0.0.${i % SOURCES}`);
      expect(await store.addCommitment(record)).to.equal("added");
      if (i % 2 === 0)
        await store.addReveal({ commitment: record.commitment, response: { i }, expiresAt: now + LIFETIME });
      ids.push(record.commitment);
    }
    return ids;
  }

  const rows = (kv: KvStore) => kv.count({ prefix: new Uint8Array() });

  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "auth-store-"));
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it("holds no more rows after each of three expired rounds than before them; a restart reads one key", async function () {
    const file = path.join(dir, "epoch-1", "auth.sqlite");
    let kv = new ReadCounter(await SqliteStore.open(file));
    let store = await CommitmentStore.open(kv, clock);
    const countersOnly = 1; // the one row of counters
    const peaks: number[] = [];
    for (let r = 0; r < 3; r++) {
      await round(store);
      peaks.push(await rows(kv));
      expect(store.size).to.equal(N + N / 2);
      now += LIFETIME;
      await store.reclaim();
      expect(await rows(kv), `rows after round ${r + 1} expired`).to.equal(countersOnly);
      expect([store.size, await store.openCommitments("10.0.0.1")]).to.deep.equal([0, 0]);
    }
    expect(peaks[2], "a round's rows do not grow with the rounds before it").to.equal(peaks[0]);

    // A fourth round expires while the node is down: the restart reads the counters, not the records.
    const ids = await round(store);
    const live = commitment("10.0.0.99");
    now += LIFETIME;
    live.expiresAt = now + LIFETIME;
    expect(await store.addCommitment(live)).to.equal("added"); // reclaims round 4 on the way
    const [expired] = await round(store); // round 5, expired while down
    now += LIFETIME - 1;
    await kv.close();
    now += 1;
    kv = new ReadCounter(await SqliteStore.open(file));
    store = await CommitmentStore.open(kv, clock);
    expect(kv.entriesRead, "entries read by a restart").to.equal(1);
    expect(store.size, "expired records are still held until reclaimed").to.equal(N + N / 2 + 1);
    expect(await store.commitment(expired!)).to.equal(undefined);
    expect(await store.commitment(ids[1]!)).to.equal(undefined);
    // Reclaiming reads the expired records' index entries and the open ones it closes, nothing of the live record.
    kv.entriesRead = 0;
    expect(await store.openCommitments("10.0.0.99")).to.equal(0); // live expired exactly now too (expiresAt ≤ now)
    expect(kv.entriesRead).to.be.at.most(N + N / 2 + 1 + N / 2 + 1 + 2 * SOURCES + 10);
    expect(await rows(kv)).to.equal(countersOnly);
    await kv.close();
  });

  it("remembers an evicted commitment across a restart: no second key is ever signed for it", async function () {
    const file = path.join(dir, "epoch-2", "auth.sqlite");
    let kv = await SqliteStore.open(file);
    let store = await CommitmentStore.open(kv, clock, 4);
    const flood = [commitment("flood"), commitment("flood"), commitment("flood"), commitment("flood")];
    for (const record of flood) expect(await store.addCommitment(record)).to.equal("added");
    expect(await store.addCommitment(commitment("user"))).to.equal("added");
    expect(await store.evicted(flood[0]!.commitment)).to.equal(true);
    await kv.close();
    kv = await SqliteStore.open(file);
    store = await CommitmentStore.open(kv, clock, 4);
    expect(await store.evicted(flood[0]!.commitment)).to.equal(true);
    expect(await store.addCommitment({ ...flood[0]!, tempPubX: "attacker", source: "other" })).to.equal("taken");
    expect([await store.openCommitments("flood"), await store.openCommitments("user"), store.size]).to.deep.equal([
      3, 1, 4,
    ]);
    now += LIFETIME;
    expect(await store.evicted(flood[0]!.commitment)).to.equal(false);
    await store.reclaim();
    expect(await rows(kv)).to.equal(1);
    await kv.close();
  });
});
