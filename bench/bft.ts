/**
 * Committed key assignments per second, commit latency and blocks per second of the BFT network: `npm run bench:bft`.
 * All validators run in this one process (one core) over the simulated network with no added delay, with real ECDSA
 * node signatures and a pre-filled pool of published keys. Clients submit assignments in waves, spread over the
 * validators; latency is from submission to the decision on the validator the client asked. The last line is JSON:
 * the native backend's figures, and noble's under `noble` (bench/backends.ts).
 */
import { onEachBackend } from "./backends.ts";
import { BftCluster } from "../test/sim/bft-cluster.ts";
import { ecdsaSchemes } from "../test/sim/ecdsa-schemes.ts";
import { assignTx, publishTx } from "../test/bft/helpers.ts";
import { Prng } from "../test/support/prng.ts";

const KEYS_PER_PUBLICATION = 256;

interface Figures {
  assignmentsPerSec: number;
  /** Per second of this process's CPU time: what a core of its own would give on a machine shared with others. */
  assignmentsPerCpuSec: number;
  p50Ms: number;
  p99Ms: number;
  blocksPerSec: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function run(n: number, assignments: number, wave: number): Figures {
  const cluster = new BftCluster({
    n,
    prng: new Prng(n),
    schemes: ecdsaSchemes(n, "bench"),
    faults: { lossRate: 0, duplicateRate: 0, minDelayMs: 0, maxDelayMs: 0, retransmitMs: 0 },
  });
  cluster.start();
  const keys = Math.ceil(assignments / KEYS_PER_PUBLICATION) * KEYS_PER_PUBLICATION;
  for (let start = 0; start < keys; start += KEYS_PER_PUBLICATION) {
    for (let v = 0; v < n; v++)
      cluster.validators[v]!.submit(publishTx(cluster.chainId, cluster.schemes, v, start, KEYS_PER_PUBLICATION));
    cluster.scheduler.run({
      done: () => cluster.validators.every((val) => val.app.publishedKeys >= start + KEYS_PER_PUBLICATION),
    });
  }

  const submittedAt = new Map<string, { at: number; via: number }>();
  const latencies: number[] = [];
  cluster.onDecision = (validator, commit) => {
    const now = performance.now();
    for (const tx of commit.block.txs) {
      const entry = submittedAt.get(tx);
      if (entry && entry.via === validator) {
        latencies.push(now - entry.at);
        submittedAt.delete(tx);
      }
    }
  };
  const startHeight = cluster.validators[0]!.disk.blocks.length;
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  let next = 0;
  while (next < assignments) {
    const end = Math.min(assignments, next + wave);
    for (; next < end; next++) {
      const tx = assignTx("bench", `user-${next}`);
      const via = next % n;
      submittedAt.set(tx, { at: performance.now(), via });
      cluster.validators[via]!.submit(tx);
    }
    // Run until the wave's first transactions commit, then send the next wave: the next height overlaps this one's tail.
    cluster.scheduler.run({ done: () => submittedAt.size <= (wave * 3) / 4 || cluster.scheduler.pending === 0 });
  }
  cluster.scheduler.run({ done: () => submittedAt.size === 0 });
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStarted);
  const blocks = cluster.validators[0]!.disk.blocks.length - startHeight;
  if (cluster.validators.some((v) => v.app.assignedKeys !== assignments))
    throw new Error("not every assignment committed");
  latencies.sort((a, b) => a - b);
  return {
    assignmentsPerSec: Math.round(assignments / seconds),
    assignmentsPerCpuSec: Math.round(assignments / ((cpu.user + cpu.system) / 1e6)),
    p50Ms: Math.round(percentile(latencies, 50)),
    p99Ms: Math.round(percentile(latencies, 99)),
    blocksPerSec: Math.round((blocks / seconds) * 10) / 10,
  };
}

const figures = await onEachBackend(() => {
  const n5 = run(5, Number(process.env.BENCH_ASSIGNMENTS ?? 6000), Number(process.env.BENCH_WAVE_N5 ?? 400));
  console.log(`n5: ${JSON.stringify(n5)}`);
  const n9 = run(9, Number(process.env.BENCH_ASSIGNMENTS ?? 6000), Number(process.env.BENCH_WAVE_N9 ?? 800));
  console.log(`n9: ${JSON.stringify(n9)}`);
  return { n5, n9 };
});
console.log(JSON.stringify({ bench: "bft", ...figures }));
