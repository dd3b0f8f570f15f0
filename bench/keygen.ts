/**
 * Key generation throughput: `npm run bench:keygen`. The whole protocol (dealing, AVSS echo/ready, dealer-set
 * decision, share-key proofs, public keys) for n5/t1/k3 and n9/t2/k5 with honest nodes, all in this one process (one
 * core) over the simulated network with no added delay, after untimed batches that warm the code up. Prints keys per
 * second, messages and bytes per key, and the wall time per batch; the last line is JSON: the native backend's figures, and noble's under `noble`
 * (bench/backends.ts; BENCH_BACKENDS=native runs one).
 *
 * Then, on the native backend, the same clusters with their checks on a worker pool (node/runtime/check-pool.ts) of
 * BENCH_WORKERS threads (default: one per core), as a node with `crypto.workers` runs them, and with as many batches
 * under way as a node keeps: `allCores` in the JSON. It runs in BENCH_ROUNDS rounds (default 3), each of one core (one
 * batch at a time, and as many under way as with the pool) and then the pool, one right after the other: the
 * machine's speed moves over minutes, and the two sides of a round see the same machine. A round's ratio is the pool's
 * keys per second against the better of its two one-core figures; the JSON gives the round with the median ratio
 * (`ratio`, `oneCoreKeysPerSec`, the pool's figures) and every round's ratio (`ratios`). The pool's verdicts enter the
 * cores as inputs (test/sim/checks.ts); the scheduler runs in slices between which the event loop takes the workers'
 * answers, as a node's would.
 */
import { availableParallelism } from "node:os";

import pino from "pino";

import { CheckPool } from "../node/runtime/check-pool.ts";
import { KEYGEN_CONCURRENT_BATCHES } from "../node/runtime/keygen-driver.ts";
import { onEachBackend } from "./backends.ts";
import { DkgCluster } from "../test/sim/dkg-cluster.ts";
import { Prng } from "../test/support/prng.ts";

const BATCH_SIZE = Number(process.env.BENCH_BATCH_SIZE ?? 16);
const BATCHES = Number(process.env.BENCH_BATCHES ?? 3);
/**
 * Timed batches with several under way at once: at least 10. The window's two ends each cut through a batch under way
 * (its work before the clock starts is not counted, its successor's before the clock stops is), which moves the
 * figure by up to a batch's worth either way: a third of three batches, a tenth of ten.
 */
const CONCURRENT_BATCHES = Math.max(BATCHES, 10);
const WORKERS = Number(process.env.BENCH_WORKERS ?? availableParallelism());
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
if (!Number.isSafeInteger(ROUNDS) || ROUNDS < 1) throw new Error("BENCH_ROUNDS must be a positive integer");
const round2 = (x: number) => Math.round(x * 100) / 100;
/** Scheduler events between two turns of the event loop in the all-cores run. */
const SLICE_EVENTS = 16;

/**
 * One cluster's run. `concurrent` batches are kept under way at once: 1 gives the latency per batch; a node keeps
 * `KEYGEN_CONCURRENT_BATCHES` going, so that one batch's checks on the workers overlap
 * another's messages on the main thread.
 */
async function run(n: number, t: number, { pool, concurrent = 1 }: { pool?: CheckPool; concurrent?: number } = {}) {
  const timed = concurrent === 1 ? BATCHES : CONCURRENT_BATCHES;
  const keysPerBatch = BATCH_SIZE * (Math.floor(n / 2) + 1);
  const cluster = new DkgCluster({
    n,
    t,
    prng: new Prng(n),
    batchSize: BATCH_SIZE,
    keyBuffer: concurrent === 1 ? 0 : keysPerBatch,
    maxConcurrentBatches: concurrent,
    orderingDelayMs: 0,
    faults: { lossRate: 0, duplicateRate: 0, minDelayMs: 0, maxDelayMs: 0, retransmitMs: 0 },
    ...(pool ? { checks: { kind: "pool", pool } as const } : {}),
  });
  // Below the buffer by a batch's keys for each batch that should be under way: the nodes start batches until
  // `concurrent` are (a node's buffer does this as assignments drain it).
  const topUp = () => cluster.demand(concurrent === 1 ? -1 : -keysPerBatch);
  const finished = (b: number) => () => cluster.nodes.every((node) => node.keys.has(b));
  const runBatch = async (b: number) => {
    topUp();
    const done = finished(b);
    if (!pool) cluster.scheduler.run({ done });
    while (pool && !done()) {
      // What is due now, a slice at a time; the simulated clock moves on (to a resend timer) only when no check is
      // out on the pool, as a node's timers would not fire within the milliseconds its workers take.
      const { scheduler, checks } = cluster;
      const outcome = scheduler.run({ done, untilTime: scheduler.now, maxEvents: SLICE_EVENTS });
      if (concurrent > 1) topUp();
      if (outcome === "events") await new Promise((resolve) => setImmediate(resolve));
      else if (checks.outstanding > 0) await checks.finished();
      else if (scheduler.run({ done, maxEvents: 1 }) === "idle") break;
    }
    if (!done()) throw new Error(`batch ${b} did not finish`);
  };
  cluster.start();
  // The first batches are not timed: they warm the code up (and the pool's threads), as a node that has run a while
  // has it. With batches under way at once, the first `concurrent` start together, and the second of them would be
  // nearly done when the clock starts; once they are, the batches under way are staggered as in a running node (the
  // work done on the next before the clock starts is about the work left on the last when it stops).
  const warmUp = concurrent;
  for (let b = 0; b < warmUp; b++) await runBatch(b);
  const before = { sent: cluster.network.sent, bytes: cluster.network.bytes };
  const started = performance.now();
  const loopStarted = performance.eventLoopUtilization();
  const cpuStarted = process.cpuUsage();
  const batchTimes: number[] = [];
  for (let b = warmUp; b < warmUp + timed; b++) {
    const batchStart = performance.now();
    await runBatch(b);
    batchTimes.push(performance.now() - batchStart);
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStarted);
  const keys = BATCH_SIZE * cluster.k * timed; // each sharing yields k keys by extraction
  for (let b = 0; b < warmUp + timed; b++) {
    const problems = cluster.check(
      b,
      cluster.nodes.map((node) => node.index),
    );
    if (problems.length > 0) throw new Error(problems.join("; "));
  }
  return {
    keysPerSec: Math.round((keys / seconds) * 100) / 100,
    // Per second of this process's CPU time: the figure a core of its own would give on a machine shared with others.
    keysPerCpuSec: Math.round((keys / ((cpu.user + cpu.system) / 1e6)) * 100) / 100,
    msgsPerKey: Math.round((cluster.network.sent - before.sent) / keys),
    bytesPerKey: Math.round((cluster.network.bytes - before.bytes) / keys),
    batchLatencyMs: Math.round(batchTimes.reduce((a, b) => a + b, 0) / batchTimes.length),
    // With the pool: how much of the time the main thread was busy (1 = it is what limits the run).
    ...(pool ? { mainThreadBusy: round2(performance.eventLoopUtilization(loopStarted).utilization) } : {}),
  };
}

console.log(`batches of ${BATCH_SIZE} sharings per dealer (× k keys), ${BATCHES} timed batches per cluster, one core`);
const figures = await onEachBackend(async (backend) => {
  const n5 = await run(5, 1);
  console.log(`n5: ${JSON.stringify(n5)}`);
  const n9 = await run(9, 2);
  console.log(`n9: ${JSON.stringify(n9)}`);
  if (backend !== "native" || WORKERS === 0) return { n5, n9 };
  const pool = await CheckPool.start(WORKERS, { backend, allowSlowFallback: false }, pino({ level: "warn" }));
  try {
    console.log(
      `all cores: checks on ${WORKERS} worker threads, ${KEYGEN_CONCURRENT_BATCHES} batches under way (a node's setting), ` +
        `${CONCURRENT_BATCHES} timed, in ${ROUNDS} rounds of one core (one batch at a time, and as many under way) ` +
        `and then the pool`,
    );
    const allCores = async (n: number, t: number) => {
      const rounds = [];
      for (let r = 1; r <= ROUNDS; r++) {
        const sequential = await run(n, t);
        const sameLoad = await run(n, t, { concurrent: KEYGEN_CONCURRENT_BATCHES });
        const pooled = await run(n, t, { pool, concurrent: KEYGEN_CONCURRENT_BATCHES });
        // Against the better of the two one-core figures, so that the ratio owes nothing to the batches' concurrency.
        const oneCore = Math.max(sequential.keysPerSec, sameLoad.keysPerSec);
        const ratio = round2(pooled.keysPerSec / oneCore);
        console.log(
          `n${n} round ${r}: pool ${JSON.stringify(pooled)}; one core ${sequential.keysPerSec} keys/s one batch at a ` +
            `time, ${sameLoad.keysPerSec} with ${KEYGEN_CONCURRENT_BATCHES} under way: ${ratio}× one core`,
        );
        rounds.push({ ...pooled, oneCoreKeysPerSec: oneCore, ratio });
      }
      const ratios = rounds.map((r) => r.ratio);
      const median = [...rounds].sort((a, b) => a.ratio - b.ratio)[Math.floor((rounds.length - 1) / 2)]!;
      console.log(`n${n}: ${median.ratio}× one core (the median round; rounds ${ratios.join(", ")})`);
      return { ...median, ratios };
    };
    return { n5, n9, allCores: { n5: await allCores(5, 1), n9: await allCores(9, 2), workers: WORKERS } };
  } finally {
    await pool.close();
  }
});
console.log(JSON.stringify({ bench: "keygen", ...figures }));
