/**
 * The restart half of `npm run bench:scale` (bench/scale.ts spawns it on the storage it filled; not run alone): a fresh
 * process opens the epoch's storage as a node does (the data dir's deployment binding, the curve backend,
 * EpochStorage.open on either engine: scale-storage.ts, buildCores over the loaded app state), wires the JSON-RPC methods (node/api/methods.ts) to a
 * KeyService over that storage as node/runtime/api-service.ts does — no chain, no p2p, no HTTP server — and answers
 * lookups.
 *
 * Measures: the time from its spawn (the parent's clock, passed in) until its first VerifierLookupRequest is answered,
 * split into node's own start, the imports, the storage's open, the cores and the lookup; its RSS while serving; p50
 * and p99 of random lookups by user (VerifierLookupRequest) and by public key (KeyLookupRequest) through the methods,
 * of the stored queries alone (appQueries.lookup, keyByPublicKey) and of share reads (keyStore.findKey), and what the
 * slowest of them waited for. Every answer is checked (user i holds key i). Prints one JSON line.
 */
import { readFile } from "node:fs/promises";
import { PerformanceObserver } from "node:perf_hooks";

import { pino } from "pino";

import { createMethods } from "../node/api/methods.ts";
import type { KeyService } from "../node/api/service.ts";
import { pointFromCoordinates } from "../node/crypto/point.ts";
import { signTorus } from "../node/crypto/signature.ts";
import { installConfiguredBackend } from "../node/native/select.ts";
import { buildCores } from "../node/runtime/epoch-cores.ts";
import type { DeploymentIdentity } from "../node/store/deployment-binding.ts";
import { testEpochView } from "../test/support/epoch-view.ts";
import { DEV_VERIFIER_CONFIG } from "../test/support/node-config.ts";
import { openBenchStorage } from "./scale-storage.ts";

const importedAt = performance.now();

interface Config {
  dataDir: string;
  /** The database of the public stores, when the bench measures the PostgreSQL engine. */
  databaseUrl: string | undefined;
  samples: string;
  keys: number;
  lookups: number;
  epoch: { epoch: number; n: number; t: number; k: number };
  deployment: DeploymentIdentity;
  verifier: string;
  /** The parent's Date.now() when it spawned this process. */
  spawnedAt: number;
}

const config = JSON.parse(process.argv[2]!) as Config;
const { keys, epoch, deployment, verifier } = config;
const userId = (i: number) => `user${i}@example.com`;
const randomKey = () => Math.floor(Math.random() * keys);

// ---------------------------------------------------------------------------------------------------------------
// The restart: what a node does before it answers a client, minus the chain and the peers
// ---------------------------------------------------------------------------------------------------------------

// As node/cli.ts: the configured curve backend (native by default) before any core is built.
installConfiguredBackend({ backend: "native", allowSlowFallback: true });
const opened = await openBenchStorage({
  dataDir: config.dataDir,
  databaseUrl: config.databaseUrl,
  epoch: epoch.epoch,
  deployment,
  log: pino({ level: "silent" }),
});
const { storage } = opened;
const openedAt = performance.now();

// This node is node 1 of an epoch whose node keys are 1·G … n·G (the view a registry would read from the chain).
const secretOf = (index: number) => BigInt(index);
const view = testEpochView({ ...epoch, secretOf, portOf: (i) => 9000 + i });
const { app } = buildCores(view, undefined, secretOf(1), { batchSize: 4 }, deployment, storage.onDisk.appState);
const nodeKeys = view.nodes.map((n) => pointFromCoordinates(n.pubKx, n.pubKy, `node ${n.index} key`));
const service: KeyService = {
  self: { index: 1, publicKey: nodeKeys[0]! },
  epoch: { number: epoch.epoch, n: epoch.n, t: epoch.t, nodeKeys },
  deployment,
  refusing: () => undefined,
  handingOverTo: () => app.frozen?.nextEpoch,
  freeKeys: () => app.freeKeys,
  lookup: (v, id) => storage.appQueries.lookup(v, id),
  assign: () => Promise.reject(new Error("no BFT network in this bench")),
  keyByPublicKey: (publicKey) => storage.appQueries.keyByPublicKey(publicKey),
  keyShare: async (keyIndex) => {
    const key = await storage.keyStore.findKey(keyIndex);
    return key && BigInt("0x" + key.share);
  },
  commitments: storage.commitments,
  sign: (data) => signTorus(secretOf(1), data),
  peerSignatures: () => Promise.resolve([]),
  tokenWindow: () => ({}),
};
const methods = createMethods(service, {
  verifiers: [{ ...DEV_VERIFIER_CONFIG, name: verifier }],
  keyAssignPerSecond: 10,
  commitmentsPerSecond: 10,
});
const coresAt = performance.now();

/** A JSON-RPC call as node/api/jrpc.ts dispatches it once the HTTP envelope is read: admit, check params, handle. */
async function rpc(name: string, params: Record<string, string>): Promise<unknown> {
  const method = methods.get(name)!;
  const refusal = method.admit();
  if (refusal) throw refusal;
  const checked = method.params(params);
  if ("refused" in checked) throw checked.refused;
  return await method.handle(checked.params, { ip: "127.0.0.1" });
}

/** VerifierLookupRequest for user i, checked: user i holds key i. */
async function lookupUser(i: number): Promise<void> {
  const result = (await rpc("VerifierLookupRequest", { verifier, verifier_id: userId(i) })) as {
    keys: { key_index: string }[];
  };
  if (result.keys[0]!.key_index !== i.toString(16)) throw new Error(`user ${i}: ${JSON.stringify(result)}`);
}

await lookupUser(randomKey());
const answeredAt = performance.now();
const restartSeconds = (performance.timeOrigin + answeredAt - config.spawnedAt) / 1000;

// ---------------------------------------------------------------------------------------------------------------
// Serving: latencies and RSS
// ---------------------------------------------------------------------------------------------------------------

const samples = JSON.parse(await readFile(config.samples, "utf8")) as { keyIndex: number; x: string; y: string }[];
const randomSample = () => samples[Math.floor(Math.random() * samples.length)]!;

/** Garbage-collection pauses, summed per `latency` run. */
const gc = { count: 0, ms: 0, maxMs: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gc.count++;
    gc.ms += entry.duration;
    gc.maxMs = Math.max(gc.maxMs, entry.duration);
  }
}).observe({ entryTypes: ["gc"] });

/**
 * What the slowest calls spent their time on, to say why a p99 is what it is: the slowest 1 % of calls, the share of
 * their wall time this process was on a CPU (the rest it waited: for a core on a loaded machine, or for the disk), and
 * over the whole run the involuntary context switches (preemptions), major page faults and reads from the disk, and
 * the garbage collector's pauses.
 */
export interface Tail {
  onCpuShare: number;
  preemptions: number;
  majorFaults: number;
  diskReads: number;
  gcPauses: number;
  gcMs: number;
  gcMaxMs: number;
}

/** p50 and p99 of `count` calls of `run`, one at a time, and what the slowest of them waited for. */
async function latency(count: number, run: () => Promise<void>): Promise<{ p50Ms: number; p99Ms: number; tail: Tail }> {
  const wall = new Float64Array(count);
  const cpu = new Float64Array(count);
  // GC entries reach the observer on a later turn of the event loop, which the calls (promises) never yield to.
  const settled = () => new Promise((resolve) => setTimeout(resolve, 20));
  await settled();
  const usage = process.resourceUsage();
  Object.assign(gc, { count: 0, ms: 0, maxMs: 0 });
  for (let i = 0; i < count; i++) {
    const cpuBefore = process.cpuUsage();
    const start = performance.now();
    await run();
    wall[i] = performance.now() - start;
    const { user, system } = process.cpuUsage(cpuBefore);
    cpu[i] = (user + system) / 1000;
  }
  const after = process.resourceUsage();
  await settled();
  const order = Array.from(wall.keys()).sort((a, b) => wall[a]! - wall[b]!);
  const at = (p: number) => Number(wall[order[Math.min(count - 1, Math.floor(count * p))]!]!.toFixed(4));
  const slowest = order.slice(Math.floor(count * 0.99));
  const sum = (xs: Float64Array) => slowest.reduce((total, i) => total + xs[i]!, 0);
  const tail: Tail = {
    onCpuShare: Number(Math.min(1, sum(cpu) / sum(wall)).toFixed(2)),
    preemptions: after.involuntaryContextSwitches - usage.involuntaryContextSwitches,
    majorFaults: after.majorPageFault - usage.majorPageFault,
    diskReads: after.fsRead - usage.fsRead,
    gcPauses: gc.count,
    gcMs: Number(gc.ms.toFixed(1)),
    gcMaxMs: Number(gc.maxMs.toFixed(2)),
  };
  return { p50Ms: at(0.5), p99Ms: at(0.99), tail };
}

const byUser = await latency(config.lookups, () => lookupUser(randomKey()));
const rssMB = Math.round(process.memoryUsage().rss / 2 ** 20);
const byPublicKey = await latency(config.lookups, async () => {
  const { keyIndex, x, y } = randomSample();
  const result = (await rpc("KeyLookupRequest", { pub_key_X: x, pub_key_Y: y })) as {
    Index: string;
    Verifiers: Record<string, string[]>;
  };
  if (result.Index !== keyIndex.toString(16) || result.Verifiers[verifier]![0] !== userId(keyIndex))
    throw new Error(`public key of key ${keyIndex}: ${JSON.stringify(result)}`);
});
const queryByUser = await latency(config.lookups, async () => {
  const i = randomKey();
  if ((await storage.appQueries.lookup(verifier, userId(i)))?.keyIndex !== i) throw new Error(`user ${i}: no key`);
});
const queryByPublicKey = await latency(config.lookups, async () => {
  const { keyIndex, x, y } = randomSample();
  if ((await storage.appQueries.keyByPublicKey({ x, y }))?.keyIndex !== keyIndex)
    throw new Error(`public key of key ${keyIndex}: not found`);
});
const shareRead = await latency(config.lookups, async () => {
  const i = randomKey();
  const key = await storage.keyStore.findKey(i);
  if (key?.keyIndex !== i || key.share.length !== 64) throw new Error(`key ${i}: no share`);
});
const rssPeakMB = Math.round(process.resourceUsage().maxRSS / 1024);
await opened.close();

console.log(
  JSON.stringify({
    restartSeconds,
    phasesMs: {
      boot: performance.timeOrigin - config.spawnedAt,
      imports: importedAt,
      open: openedAt - importedAt,
      cores: coresAt - openedAt,
      firstLookup: answeredAt - coresAt,
    },
    rssMB,
    rssPeakMB,
    lookups: config.lookups,
    byUser,
    byPublicKey,
    queryByUser,
    queryByPublicKey,
    shareRead,
  }),
);
