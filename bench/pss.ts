/**
 * Handover throughput: `npm run bench:pss`. Hands over BENCH_PSS_KEYS keys (default 1,000) for n5 → n5 and n9 → n9
 * with honest nodes, all in this one process (one core) over the simulated network with no added delay: the records
 * move, every old node reshares every key by AVSS, the new nodes agree the dealers per chunk and combine. Prints
 * seconds, bytes and messages per key, keys per second, and where the time goes; the last line is JSON: the native
 * backend's figures, and noble's under `noble` (bench/backends.ts).
 */
import { onEachBackend } from "./backends.ts";
import type { ReceiverRecord } from "../node/pss/receiver-records.ts";
import { PssCluster, thresholds } from "../test/sim/pss-cluster.ts";
import { Prng } from "../test/support/prng.ts";

const KEYS = Number(process.env.BENCH_PSS_KEYS ?? 1000);
const CHUNK_SIZE = Number(process.env.BENCH_PSS_CHUNK ?? 25);
/** Sizes to run (n → n), e.g. BENCH_PSS_N=9. */
const SIZES = (process.env.BENCH_PSS_N ?? "5,9").split(",").map(Number);

function run(n: number) {
  const cluster = new PssCluster({
    old: thresholds(n),
    next: thresholds(n),
    prng: new Prng(n),
    keys: KEYS,
    chunkSize: CHUNK_SIZE,
    orderingDelayMs: 0,
    faults: { lossRate: 0, duplicateRate: 0, minDelayMs: 0, maxDelayMs: 0, retransmitMs: 0 },
  });
  // Where the time goes: the dealers' work, and the new nodes' per kind of input.
  const split = new Map<string, number>();
  const timed = <T>(label: string, work: () => T): T => {
    const start = performance.now();
    try {
      return work();
    } finally {
      split.set(label, (split.get(label) ?? 0) + performance.now() - start);
    }
  };
  for (const node of cluster.newNodes) {
    const receive = node.receive.bind(node);
    node.receive = (from, message) =>
      timed(`new: ${(message as { type: string }).type}`, () => {
        receive(from, message);
      });
  }
  // Decisions reach the new nodes through the ordering service: the combination of sub-shares happens there.
  cluster.propose = (decision) =>
    cluster.scheduler.after(cluster.orderingDelayMs, () =>
      timed("new: decision, combine", () => {
        cluster.log.push(decision);
        for (const node of cluster.newNodes) node.apply(node.core.step({ type: "decided", decision }));
      }),
    );
  for (const node of cluster.oldNodes) {
    const boot = node.boot.bind(node);
    node.boot = () => timed("old: deal and send", boot);
    const receive = node.receive.bind(node);
    node.receive = (from, message) => timed("old: resend", () => receive(from, message));
  }
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  cluster.start();
  cluster.run();
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStarted);
  const accounted = [...split.values()].reduce((a, b) => a + b, 0) / 1000;
  split.set("network (JSON), scheduler", (seconds - accounted) * 1000);
  if (!cluster.newNodes.every((node) => node.done)) throw new Error(`n${n}: the handover did not finish`);
  const problems = cluster.check(cluster.newNodes.map((node) => node.index));
  if (problems.length > 0) throw new Error(`n${n}: ${problems.slice(0, 3).join("; ")}`);
  const decided = (records: ReceiverRecord[]) => records.filter((r) => r.kind === "decision").length;
  return {
    seconds,
    // This process's CPU time: what a core of its own would take on a machine shared with others.
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    bytesPerKey: Math.round(cluster.network.bytes / KEYS),
    messagesPerKey: Number((cluster.network.sent / KEYS).toFixed(2)),
    keysPerSec: Number((KEYS / seconds).toFixed(2)),
    chunks: decided(cluster.newNodes[0]!.disk),
    split: Object.fromEntries([...split].map(([label, ms]) => [label, Number((ms / 1000).toFixed(2))])),
  };
}

const pick = (r: ReturnType<typeof run>) => ({
  seconds: Number(r.seconds.toFixed(2)),
  cpuSeconds: Number(r.cpuSeconds.toFixed(2)),
  bytesPerKey: r.bytesPerKey,
  keysPerSec: r.keysPerSec,
});
const figures = await onEachBackend(() => {
  const results: Record<string, ReturnType<typeof pick>> = {};
  for (const n of SIZES) {
    const r = run(n);
    results[`n${n}`] = pick(r);
    console.log(
      `n${n} → n${n}: ${KEYS} keys in ${r.seconds.toFixed(1)} s (${r.cpuSeconds.toFixed(1)} s of CPU) = ${r.keysPerSec} keys/s, ` +
        `${(r.bytesPerKey / 1000).toFixed(1)} kB and ${r.messagesPerKey} messages per key, ${r.chunks} chunks of ${CHUNK_SIZE}`,
    );
    for (const [label, s] of Object.entries(r.split)) {
      console.log(`  ${label.padEnd(24)} ${s.toFixed(2)} s (${((100 * s) / r.seconds).toFixed(0)} %)`);
    }
  }
  return results;
});
console.log(JSON.stringify({ bench: "pss", keys: KEYS, ...figures }));
