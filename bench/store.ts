/**
 * Where lowdb stops being reasonable: `npm run bench:store`. lowdb rewrites its whole JSON file on every write, so the
 * cost of one write grows with the file. Measures a write and a read of one file holding N key records (the size of
 * one per-batch key file, or of a mapping kept in one file), and for comparison the record store an epoch keeps its
 * key-generation and handover records in (node/store/record-store.ts on SQLite with secure deletion): an append,
 * plain and synced, a compaction that erases a tenth of the records, and a reopen that reads them all back.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { Low } from "lowdb";
import { JSONFile } from "lowdb/node";

import { RecordStore } from "../node/store/record-store.ts";
import { SqliteStore } from "../node/store/sqlite-store.ts";

const dir = await mkdtemp(path.join(tmpdir(), "store-bench-"));
const record = (i: number) => ({
  keyIndex: i,
  publicKey: "04" + "ab".repeat(64),
  shareKeys: Array.from({ length: 5 }, () => "04" + "cd".repeat(64)),
  share: "ef".repeat(32),
  blinding: "12".repeat(32),
});

const rows: { records: number; megabytes: number; writeMs: number; readMs: number }[] = [];
for (const count of [100, 1_000, 10_000, 50_000, 100_000]) {
  const file = path.join(dir, `keys-${count}.json`);
  const data = { keys: Array.from({ length: count }, (_, i) => record(i)) };
  const db = new Low(new JSONFile<typeof data>(file), data);
  const t0 = performance.now();
  await db.write();
  const writeMs = performance.now() - t0;
  const reader = new Low(new JSONFile<typeof data>(file), { keys: [] });
  const t1 = performance.now();
  await reader.read();
  const readMs = performance.now() - t1;
  rows.push({ records: count, megabytes: JSON.stringify(data).length / 1e6, writeMs, readMs });
}

const openRecords = async () => {
  const kv = await SqliteStore.open(path.join(dir, "records.sqlite"), { secureDelete: true });
  return RecordStore.open<ReturnType<typeof record>>(kv, { afterCompaction: () => kv.truncateWal() });
};
let records = await openRecords();
const t2 = performance.now();
for (let i = 0; i < 1000; i++) await records.append(record(i));
await records.sync();
const appendUs = ((performance.now() - t2) / 1000) * 1000;
const t3 = performance.now();
for (let i = 0; i < 100; i++) await records.append(record(1000 + i), { sync: true });
const syncedAppendUs = ((performance.now() - t3) / 100) * 1000;
const t4 = performance.now();
const erased = await records.compact((r) => r.keyIndex % 10 === 0);
const compactMs = performance.now() - t4;
await records.close();
const t5 = performance.now();
records = await openRecords();
let read = 0;
for await (const _ of records.records()) read++;
const reopenMs = performance.now() - t5;
await records.close();
await rm(dir, { recursive: true, force: true });

console.log("records   MB      lowdb write ms   lowdb read ms");
for (const r of rows) {
  console.log(
    `${String(r.records).padStart(7)}  ${r.megabytes.toFixed(1).padStart(5)}  ${r.writeMs.toFixed(1).padStart(15)}  ${r.readMs.toFixed(1).padStart(14)}`,
  );
}
console.log(
  `record store: ${appendUs.toFixed(0)} µs per append, ${syncedAppendUs.toFixed(0)} µs per synced append; ` +
    `compacting ${erased} of 1,100 records ${compactMs.toFixed(1)} ms; reopening and reading ${read} ${reopenMs.toFixed(1)} ms`,
);
console.log(
  JSON.stringify({
    bench: "store",
    lowdb: rows.map((r) => ({ ...r, writeMs: Math.round(r.writeMs), readMs: Math.round(r.readMs) })),
    appendUs: Math.round(appendUs),
    syncedAppendUs: Math.round(syncedAppendUs),
    compactMs: Math.round(compactMs),
    reopenMs: Math.round(reopenMs),
  }),
);
