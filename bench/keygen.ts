/**
 * Key generation throughput: `npm run bench:keygen`. The whole protocol (dealing, AVSS echo/ready, dealer-set
 * decision, share-key proofs, public keys) for n5/t1/k3 and n9/t2/k5 with honest nodes, all in this one process (one
 * core) over the simulated network with no added delay. Prints keys per second, messages and bytes per key, and the
 * wall time per batch; the last line is JSON: the native backend's figures, and noble's under `noble`
 * (bench/backends.ts; BENCH_BACKENDS=native runs one).
 */
import { onEachBackend } from "./backends.ts";
import { DkgCluster } from "../test/sim/dkg-cluster.ts";
import { Prng } from "../test/support/prng.ts";

const BATCH_SIZE = Number(process.env.BENCH_BATCH_SIZE ?? 16);
const BATCHES = Number(process.env.BENCH_BATCHES ?? 3);

function run(n: number, t: number) {
  const cluster = new DkgCluster({
    n,
    t,
    prng: new Prng(n),
    batchSize: BATCH_SIZE,
    keyBuffer: 0,
    maxConcurrentBatches: 1,
    orderingDelayMs: 0,
    faults: { lossRate: 0, duplicateRate: 0, minDelayMs: 0, maxDelayMs: 0, retransmitMs: 0 },
  });
  cluster.start();
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const batchTimes: number[] = [];
  for (let b = 0; b < BATCHES; b++) {
    const batchStart = performance.now();
    cluster.demand(-1); // below the buffer: start one batch (one at a time, for the latency per batch)
    cluster.scheduler.run({ done: () => cluster.nodes.every((node) => node.keys.has(b)) });
    if (!cluster.nodes.every((node) => node.keys.has(b))) throw new Error(`batch ${b} did not finish`);
    batchTimes.push(performance.now() - batchStart);
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStarted);
  const keys = BATCH_SIZE * cluster.k * BATCHES; // each sharing yields k keys by extraction
  for (let b = 0; b < BATCHES; b++) {
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
    msgsPerKey: Math.round(cluster.network.sent / keys),
    bytesPerKey: Math.round(cluster.network.bytes / keys),
    batchLatencyMs: Math.round(batchTimes.reduce((a, b) => a + b, 0) / batchTimes.length),
  };
}

console.log(`batches of ${BATCH_SIZE} sharings per dealer (× k keys), ${BATCHES} batches per cluster, one core`);
const figures = await onEachBackend(() => {
  const n5 = run(5, 1);
  console.log(`n5: ${JSON.stringify(n5)}`);
  const n9 = run(9, 2);
  console.log(`n9: ${JSON.stringify(n9)}`);
  return { n5, n9 };
});
console.log(JSON.stringify({ bench: "keygen", ...figures }));
