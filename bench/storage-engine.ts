/**
 * The embedded engine's figures through the storage interface: `npm run bench:storage`. Fills a fresh store with N
 * records (`BENCH_STORAGE_RECORDS`, default 1,000,000; 160-byte incompressible values under ordered 12-byte keys) in
 * batches of 1,000, then measures point lookups of random existing keys (p50, p99), bytes on disk per record, and
 * single-record durable commits (what one commit–reveal record costs) by durability mode, and the commit–reveal store's
 * throughput: logins (addCommitment then addReveal) a second from 16 callers at once (`BENCH_STORAGE_LOGINS`, default
 * 2,000). The same workload was run against LevelDB (classic-level) to choose the engine: README, "Storage".
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm, stat, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { CommitmentStore } from "../node/auth/commitments.ts";
import { key } from "../node/store/key-codec.ts";
import { SqliteStore } from "../node/store/sqlite-store.ts";

const records = Number(process.env.BENCH_STORAGE_RECORDS ?? 1_000_000);
const BATCH = 1000;
const LOOKUPS = 100_000;
const SINGLE_COMMITS = 1000;
const LOGINS = Number(process.env.BENCH_STORAGE_LOGINS ?? 2000);
const CALLERS = 16;

const dir = await mkdtemp(path.join(tmpdir(), "storage-bench-"));
const file = path.join(dir, "bench.sqlite");
const store = await SqliteStore.open(file);

const t0 = performance.now();
for (let first = 0; first < records; first += BATCH) {
  const values = randomBytes(160 * BATCH);
  const ops = [];
  for (let i = first; i < Math.min(records, first + BATCH); i++) {
    const offset = (i - first) * 160;
    ops.push({ type: "put" as const, key: key("k", i), value: values.subarray(offset, offset + 160) });
  }
  await store.commit(ops);
}
const insertSeconds = (performance.now() - t0) / 1000;
const insertPerSec = Math.round(records / insertSeconds);
console.log(`inserted ${records} records in batches of ${BATCH}: ${insertSeconds.toFixed(1)} s, ${insertPerSec}/s`);

const latencies = new Float64Array(LOOKUPS);
for (let i = 0; i < LOOKUPS; i++) {
  const k = key("k", Math.floor(Math.random() * records));
  const start = performance.now();
  const value = await store.get(k);
  latencies[i] = performance.now() - start;
  if (value?.length !== 160) throw new Error("a stored record is missing");
}
latencies.sort();
const lookupP50Ms = latencies[Math.floor(LOOKUPS * 0.5)]!;
const lookupP99Ms = latencies[Math.floor(LOOKUPS * 0.99)]!;
console.log(`point lookups: p50 ${(lookupP50Ms * 1000).toFixed(1)} µs, p99 ${(lookupP99Ms * 1000).toFixed(1)} µs`);

await store.close();
let bytes = 0;
for (const name of await readdir(dir)) bytes += (await stat(path.join(dir, name))).size;
const bytesPerRecord = Math.round(bytes / records);
console.log(`on disk: ${(bytes / 1e6).toFixed(1)} MB, ${bytesPerRecord} bytes per record (160-byte value)`);

/**
 * Single-record commits (a commit–reveal record is about 700 bytes) in a store of its own, by durability mode: the
 * latency of one commit alone, the event loop's time held per commit (node:sqlite is synchronous: FULL fsyncs inside
 * it, "grouped" fsyncs on the thread pool), and commits per second with 16 writers at once (one fsync may cover many).
 */
async function singleCommits(durability: "grouped" | "full" | "none") {
  const target = await SqliteStore.open(path.join(dir, `single-${durability}.sqlite`), { durability });
  const value = randomBytes(700);
  let held = 0;
  const start = performance.now();
  for (let i = 0; i < SINGLE_COMMITS; i++) {
    const before = performance.now();
    const committed = target.commit([{ type: "put", key: key("single", i), value }]);
    held += performance.now() - before;
    await committed;
  }
  const latencyMs = (performance.now() - start) / SINGLE_COMMITS;
  const startConcurrent = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async (_, writer) => {
      for (let i = 0; i < SINGLE_COMMITS / 16; i++)
        await target.commit([{ type: "put", key: key("concurrent", writer, i), value }]);
    }),
  );
  const concurrentPerSec = Math.round(SINGLE_COMMITS / ((performance.now() - startConcurrent) / 1000));
  await target.close();
  const figures = { latencyMs: round(latencyMs), loopHeldMs: round(held / SINGLE_COMMITS), concurrentPerSec };
  console.log(`single-record commits, ${durability}: ${JSON.stringify(figures)}`);
  return figures;
}
const round = (ms: number) => Number(ms.toFixed(3));
const commits = {
  grouped: await singleCommits("grouped"),
  full: await singleCommits("full"),
  // No fsync at all: survives kill -9, not a power loss (sqlite-store.ts).
  none: await singleCommits("none"),
};

/**
 * The commit–reveal store on a fresh auth store ("grouped" durability): CALLERS callers at once, each a client source
 * of its own, each doing logins one after the other (addCommitment, then addReveal for it); its changes run one at a
 * time, and each caller is answered once its change is durable. Also the fsyncs the WAL took per change.
 */
async function commitmentStore() {
  let fsyncs = 0;
  const fsync = (wal: FileHandle) => (fsyncs++, wal.sync());
  const kv = await SqliteStore.open(path.join(dir, "auth.sqlite"), { fsync });
  const store = await CommitmentStore.open(kv, () => Date.now());
  const signature = randomBytes(65).toString("hex");
  const start = performance.now();
  fsyncs = 0;
  await Promise.all(
    Array.from({ length: CALLERS }, async (_, caller) => {
      for (let i = caller; i < LOGINS; i += CALLERS) {
        const commitment = i.toString(16).padStart(64, "0");
        const expiresAt = Date.now() + 600_000;
        const record = { commitment, tempPubX: "1", tempPubY: "2", verifier: "bench", data: "d", signature, expiresAt };
        const outcome = await store.addCommitment({ ...record, source: `10.0.0.${caller}` });
        if (outcome !== "added") throw new Error(`login ${i}: ${outcome}`);
        await store.addReveal({ commitment, response: { signature }, expiresAt });
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  await kv.close();
  const figures = {
    loginsPerSec: Math.round(LOGINS / seconds),
    changesPerSec: Math.round((2 * LOGINS) / seconds),
    changesPerFsync: Number(((2 * LOGINS) / Math.max(fsyncs, 1)).toFixed(1)),
  };
  console.log(`commitment store, ${CALLERS} callers, addCommitment + addReveal: ${JSON.stringify(figures)}`);
  return figures;
}
const commitments = await commitmentStore();
await rm(dir, { recursive: true, force: true });

console.log(
  JSON.stringify({
    bench: "storage",
    engine: "node:sqlite",
    records,
    insertPerSec,
    lookupP50Ms: Number(lookupP50Ms.toFixed(4)),
    lookupP99Ms: Number(lookupP99Ms.toFixed(4)),
    commits,
    bytesPerRecord,
    commitmentStore: commitments,
  }),
);
