/**
 * The chain store's figures on the embedded engine: `npx tsx bench/chain-store.ts`. Decides HEIGHTS heights
 * (`BENCH_CHAIN_HEIGHTS`, default 2,000) on a fresh `chain.sqlite` the way a validator's driver writes them: per height
 * WAL_PER_HEIGHT records (peer votes unsynced, then its own vote synced, as the core asks), then `commitBlock` with
 * the block (TXS transactions of 200 bytes, 4 precommits) and one app row. Prints heights a second, the synced WAL
 * append and the block commit latencies (median, p99), the file's size and the time a reopen takes.
 */
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import type { WalRecord } from "../node/bft/consensus.ts";
import { blockHash } from "../node/bft/encoding.ts";
import type { Block, Vote } from "../node/bft/types.ts";
import { ChainStore, type ChainHead } from "../node/store/chain-store.ts";
import { key } from "../node/store/key-codec.ts";
import { SqliteStore } from "../node/store/sqlite-store.ts";

const HEIGHTS = Number(process.env.BENCH_CHAIN_HEIGHTS ?? 2000);
const WAL_PER_HEIGHT = 8;
const TXS = 20;
const VALIDATORS = 4;

const dir = await mkdtemp(path.join(tmpdir(), "chain-bench-"));
const file = path.join(dir, "chain.sqlite");
let chain = await ChainStore.open(await SqliteStore.open(file));

const vote = (height: number, validator: number, hash: string | null): Vote => ({
  type: "precommit",
  height,
  round: 0,
  blockHash: hash,
  validator,
  signature: "ab".repeat(65),
});
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)]!;

const syncedWal: number[] = [];
const commits: number[] = [];
let head: ChainHead = await chain.head();
const t0 = performance.now();
for (let i = 0; i < HEIGHTS; i++) {
  const height = head.height + 1;
  const block: Block = {
    height,
    prevHash: head.lastBlockHash,
    lastAppHash: head.appHash,
    proposer: height % VALIDATORS,
    txs: Array.from({ length: TXS }, (_, t) => `${height}-${t}-`.padEnd(200, "x")),
    evidence: [],
  };
  const hash = blockHash(block);
  for (let w = 0; w < WAL_PER_HEIGHT; w++) {
    const record: WalRecord = { kind: "message", from: w % VALIDATORS, message: vote(height, w % VALIDATORS, hash) };
    const sync = w === WAL_PER_HEIGHT - 1;
    const start = performance.now();
    await chain.appendWal(record, { sync });
    if (sync) syncedWal.push(performance.now() - start);
  }
  const precommits = Array.from({ length: VALIDATORS }, (_, v) => vote(height, v, hash));
  const next = { height, lastBlockHash: hash, appHash: `app-${height}` };
  const start = performance.now();
  await chain.commitBlock({ block, round: 0, precommits }, next, [
    { type: "put", key: key("app", height), value: key(height) },
  ]);
  commits.push(performance.now() - start);
  head = next;
}
const seconds = (performance.now() - t0) / 1000;
await chain.close();

let bytes = 0;
for (const name of await readdir(dir)) bytes += (await stat(path.join(dir, name))).size;
const r0 = performance.now();
chain = await ChainStore.open(await SqliteStore.open(file));
const reopenMs = performance.now() - r0;
if ((await chain.head()).height !== HEIGHTS) throw new Error("the head is not the last height");
await chain.close();
await rm(dir, { recursive: true, force: true });

console.log(
  `${HEIGHTS} heights (${WAL_PER_HEIGHT} WAL records, ${TXS} txs of 200 bytes each): ${(HEIGHTS / seconds).toFixed(0)} heights/s`,
);
console.log(`synced WAL append: p50 ${median(syncedWal).toFixed(2)} ms, p99 ${p99(syncedWal).toFixed(2)} ms`);
console.log(`commitBlock (durable): p50 ${median(commits).toFixed(2)} ms, p99 ${p99(commits).toFixed(2)} ms`);
console.log(`on disk: ${(bytes / 1e6).toFixed(1)} MB; reopen: ${reopenMs.toFixed(1)} ms`);
