/**
 * One node's state at scale on each storage engine (issues 17 and 18): `npm run bench:scale`. For the embedded engine,
 * then for PostgreSQL (`BENCH_SCALE_ENGINES` picks: "embedded,postgres" by default), fills one node's epoch storage
 * with N keys (`BENCH_SCALE_KEYS`, default 1,000,000) through the stores' own write paths, then restarts on it in a
 * fresh child process (bench/scale-child.ts) and measures what a node that holds that many keys costs:
 *
 * - key shares: a GeneratedKey per key (well-formed: random scalars below the curve order, a public key and n = 5
 *   share keys that are curve points but not a real sharing), saved in batches of KEY_BATCH through the KeyStore
 *   (`keys.sqlite`);
 * - the app state: every key published by a quorum of validators' signed votes and assigned to a user of its own, by
 *   a KeyMappingApp over the stored state, block by block as the BFT driver finalizes (load the block's reads, execute,
 *   commit the block, its head and the app's changes through ChainStore.commitBlock) — `chain.sqlite`;
 * - N commit–reveal records (N / 2 logins, each a commitment and its reveal) through the CommitmentStore's pipelined
 *   changes, expiring far in the future (`auth.sqlite`).
 *
 * The child measures the restart (its spawn to the first answered lookup, after the production EpochStorage.open and
 * buildCores), its RSS while serving lookups, the latency of lookups by user and by public key (the JSON-RPC methods
 * over a KeyService on the storage, and the stored queries alone) and of share reads, p50 and p99, with what the
 * slowest 1 % waited for (a core, the disk, the garbage collector). Checks free disk first (from the bytes a first
 * slice took), works in a directory under os.tmpdir() and deletes it at the end, also on failure or interrupt. Prints
 * a table per engine, then one JSON line with the figures of each. `BENCH_SCALE_CPU_PROF=<dir>` profiles the child
 * (node --cpu-prof) into <dir>.
 *
 * PostgreSQL: the bench starts a server of its own under the temporary directory (scripts/lib/postgres-server.ts, as
 * the tests do, but with fsync on, as a node's server runs), the public stores in a database of it and the secrets in
 * the local files; it fails rather than print a line without the PostgreSQL figures. RSS is the node process's only;
 * bytes on disk count the local files and the database's table, TOAST and index.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdtemp, readdir, rm, stat, statfs, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";

import { pino } from "pino";

import { commitmentData } from "../node/auth/commit-reveal.ts";
import { CommitmentStore, DEFAULT_MAX_RECORDS } from "../node/auth/commitments.ts";
import { KeyMappingApp } from "../node/app/key-mapping-app.ts";
import { assignTx, encodeTx, publishKeysSignBytes, type PublicKeyHex } from "../node/app/transactions.ts";
import { blockHash, voteSignBytes } from "../node/bft/encoding.ts";
import { quorum } from "../node/bft/quorum.ts";
import type { Block, Commit, Vote } from "../node/bft/types.ts";
import { commitmentDomainFields, encodeDomain } from "../node/crypto/domain.ts";
import { G, Point } from "../node/crypto/point.ts";
import type { GeneratedKey } from "../node/dkg/types.ts";
import { EpochStorage } from "../node/runtime/epoch-storage.ts";
import { changeOps, loadReads } from "../node/store/app-state-store.ts";
import { jsonBytes } from "../node/store/key-codec.ts";
import { PostgresServer } from "../scripts/lib/postgres-server.ts";
import { fastSchemes } from "../test/sim/fast-signer.ts";
import { TEST_DEPLOYMENT } from "../test/support/test-deployment.ts";
import type { Tail } from "./scale-child.ts";
import { databaseBytes, ENGINES, openBenchStorage, type Engine } from "./scale-storage.ts";

const KEYS = Number(process.env.BENCH_SCALE_KEYS ?? 1_000_000);
if (!Number.isSafeInteger(KEYS) || KEYS < 1) throw new Error(`BENCH_SCALE_KEYS must be a positive integer`);
const RUN_ENGINES = (process.env.BENCH_SCALE_ENGINES ?? ENGINES.join(",")).split(",") as Engine[];
for (const engine of RUN_ENGINES)
  if (!ENGINES.includes(engine))
    throw new Error(`BENCH_SCALE_ENGINES must list engines of ${ENGINES.join(", ")}, not "${engine}"`);

/** The epoch: n5/t1/k3, this node is node 1. */
const EPOCH = { epoch: 1, n: 5, t: 1, k: 3 };
/** Keys per KeyStore batch and per publication vote (TX_LIMITS.maxKeysPerPublication). */
const KEY_BATCH = 256;
/** Keys per slice: one block publishes a slice's keys (16 publications × a quorum of votes) and assigns the last's. */
const SLICE = 4096;
/** The fill after which the disk needed is estimated (a "small first slice" of the data). */
const ESTIMATE_AFTER = Math.min(KEYS, 4 * SLICE);
/** Free disk left untouched whatever the estimate says. */
const DISK_RESERVE = 256 * 2 ** 20;
/** Random lookups per kind in the child, and how many public keys the parent samples for them. */
const LOOKUPS = 20_000;
const VERIFIER = "dev";
const userId = (i: number) => `user${i}@example.com`;

const deployment = TEST_DEPLOYMENT;
const chainId = encodeDomain({ deployment, epoch: EPOCH.epoch });
const schemes = fastSchemes(EPOCH.n, "bench-scale");
const QUORUM = quorum(EPOCH.n);
const silent = pino({ level: "silent" });

const Fp = Point.Fp;
const ORDER = Point.Fn.ORDER;
const hex64 = (v: bigint) => v.toString(16).padStart(64, "0");
const round = (x: number, digits = 3) => Number(x.toFixed(digits));
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const thousands = (x: number) => Math.round(x).toLocaleString("en-US");

/**
 * Distinct curve points by addition only: `width` lanes start at B, B + G, …, B + (width − 1)·G (B random), and each
 * step adds width·G to every lane, in affine coordinates with one batched inversion for all lanes (Montgomery's
 * trick), about 4 µs a point against about 140 µs for a projective addition and its own normalisation. Every point is
 * B + m·G for a different m, so all are distinct.
 */
class PointLanes {
  readonly xs: bigint[] = [];
  readonly ys: bigint[] = [];
  readonly #step: { x: bigint; y: bigint };
  readonly #den: bigint[];

  constructor(readonly width: number) {
    const lanes: Point[] = [];
    let p = G.multiply(randomScalar());
    for (let j = 0; j < width; j++) {
      lanes.push(p);
      p = p.add(G);
    }
    // To affine: x = X/Z, y = Y/Z (noble's projective coordinates), with one inversion for every lane.
    const inverses = Fp.invertBatch(lanes.map((l) => l.Z));
    lanes.forEach((l, j) => {
      this.xs.push(Fp.mul(l.X, inverses[j]!));
      this.ys.push(Fp.mul(l.Y, inverses[j]!));
    });
    this.#step = G.multiply(BigInt(width)).toAffine();
    this.#den = new Array<bigint>(width);
  }

  /** Every lane += width·G: the next `width` points. */
  advance(): void {
    const { xs, ys } = this;
    const { x: sx, y: sy } = this.#step;
    for (let j = 0; j < this.width; j++) this.#den[j] = Fp.sub(xs[j]!, sx);
    const inverses = Fp.invertBatch(this.#den);
    for (let j = 0; j < this.width; j++) {
      const lambda = Fp.mul(Fp.sub(ys[j]!, sy), inverses[j]!);
      const x = Fp.sub(Fp.sub(Fp.sqr(lambda), xs[j]!), sx);
      ys[j] = Fp.sub(Fp.mul(lambda, Fp.sub(xs[j]!, x)), ys[j]!);
      xs[j] = x;
    }
  }

  /** Lane j's point as uncompressed hex (04 ‖ x ‖ y). */
  hex(j: number): string {
    return "04" + hex64(this.xs[j]!) + hex64(this.ys[j]!);
  }
}

/** A uniformly random scalar in [1, q). */
function randomScalar(): bigint {
  for (;;) {
    const k = BigInt("0x" + randomBytes(32).toString("hex"));
    if (k > 0n && k < ORDER) return k;
  }
}

/** Every file under `dir` with its size. */
async function filesOf(dir: string): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    sizes.set(path.relative(dir, file), (await stat(file)).size);
  }
  return sizes;
}
const total = (sizes: Map<string, number>) => [...sizes.values()].reduce((a, b) => a + b, 0);

async function freeBytes(dir: string): Promise<number> {
  const fs = await statfs(dir);
  return fs.bavail * fs.bsize;
}

class NotEnoughDisk extends Error {
  override readonly name = "NotEnoughDisk";
}

// ---------------------------------------------------------------------------------------------------------------
// The data directory: under os.tmpdir(), removed at the end, on failure and on SIGINT/SIGTERM.
// ---------------------------------------------------------------------------------------------------------------

const tmp = tmpdir();
const freeAtStart = await freeBytes(tmp);
if (freeAtStart < DISK_RESERVE + ESTIMATE_AFTER * 16_384)
  throw new NotEnoughDisk(
    `refusing to start: ${mb(freeAtStart)} MB free in ${tmp}, not even enough for the first ${ESTIMATE_AFTER} keys ` +
      `(set TMPDIR to a larger disk)`,
  );
const benchDir = await mkdtemp(path.join(tmp, "scale-bench-"));
/** The PostgreSQL server, started for the first PostgreSQL run. */
let postgres: PostgresServer | undefined;
const removeNow = () => rmSync(benchDir, { recursive: true, force: true });
const onSignal = (signal: NodeJS.Signals) => {
  removeNow();
  console.error(`\n${signal}: removed ${benchDir}`);
  void (postgres?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
};
process.once("SIGINT", onSignal);
process.once("SIGTERM", onSignal);

try {
  console.log(
    `scale bench: ${thousands(KEYS)} keys for one node (n${EPOCH.n}/t${EPOCH.t}/k${EPOCH.k}) in ${benchDir}, ` +
      `${mb(freeAtStart)} MB free there, load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(" ")}`,
  );
  const figures: Partial<Record<Engine, Record<string, unknown>>> = {};
  for (const engine of RUN_ENGINES) {
    const target = await prepareTarget(engine);
    console.log(`\n== ${engine}${target.databaseUrl ? ` (public stores in ${target.databaseUrl})` : ""}`);
    const fill = await fillStorage(target);
    const measured = await measureRestart(target);
    figures[engine] = report(fill, measured);
    // The figures are taken: the disk goes to the next engine.
    await rm(target.dir, { recursive: true, force: true });
  }
  console.log(
    JSON.stringify({ bench: "scale", keys: KEYS, ...figures, loadAverage: loadavg().map((l) => round(l, 1)) }),
  );
} finally {
  await rm(benchDir, { recursive: true, force: true });
  await postgres?.stop();
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
}

// ---------------------------------------------------------------------------------------------------------------
// The engine's storage: a data directory of its own, and for PostgreSQL a database
// ---------------------------------------------------------------------------------------------------------------

interface Target {
  engine: Engine;
  /** Everything of this engine's run under the bench's directory (the data directory, the samples). */
  dir: string;
  dataDir: string;
  epochDir: string;
  databaseUrl: string | undefined;
}

async function prepareTarget(engine: Engine): Promise<Target> {
  const dir = path.join(benchDir, engine);
  const dataDir = path.join(dir, "data");
  let databaseUrl: string | undefined;
  if (engine === "postgres") {
    postgres ??= await PostgresServer.start({ fsync: true });
    databaseUrl = await postgres.createDatabase("scale");
  }
  return { engine, dir, dataDir, epochDir: EpochStorage.dirOf(dataDir, EPOCH.epoch), databaseUrl };
}

/** The bytes the engine's storage takes: the epoch directory's files by name, and the database's rows. */
async function storedBytes(target: Target): Promise<Map<string, number>> {
  const sizes = await filesOf(target.epochDir);
  if (target.databaseUrl) sizes.set("PostgreSQL (chain, auth)", await databaseBytes(target.databaseUrl));
  return sizes;
}

// ---------------------------------------------------------------------------------------------------------------
// The fill
// ---------------------------------------------------------------------------------------------------------------

interface FillFigures {
  seconds: number;
  keys: { seconds: number; pointSeconds: number; logicalBytes: number };
  app: { seconds: number; blocks: number; blockBytes: number; rowBytes: number };
  auth: { seconds: number; records: number };
  /** Bytes a key took on disk after the first slice, from which the disk needed was estimated. */
  firstSliceBytesPerKey: number | undefined;
}

async function fillStorage(target: Target): Promise<FillFigures> {
  const { dataDir, databaseUrl } = target;
  const opened = await openBenchStorage({ dataDir, databaseUrl, epoch: EPOCH.epoch, deployment, log: silent });
  try {
    return await fillInto(target, opened.storage);
  } finally {
    await opened.close();
  }
}

async function fillInto(target: Target, storage: EpochStorage): Promise<FillFigures> {
  const app = new KeyMappingApp({
    chainId,
    validators: EPOCH.n,
    epoch: EPOCH.epoch,
    k: EPOCH.k,
    t: EPOCH.t,
    keysPerBatch: KEY_BATCH,
    verify: (validator, message, signature) => schemes[0]!.verify(validator, message, signature),
    state: storage.onDisk.appState,
  });
  // The production store caps live records at DEFAULT_MAX_RECORDS (and would evict or refuse past it); this one holds
  // all N, through the same code.
  const commitments = await CommitmentStore.open(storage.auth, () => Date.now(), Math.max(DEFAULT_MAX_RECORDS, KEYS));
  const lanes = new PointLanes(SLICE);
  const figures: FillFigures = {
    seconds: 0,
    keys: { seconds: 0, pointSeconds: 0, logicalBytes: 0 },
    app: { seconds: 0, blocks: 0, blockBytes: 0, rowBytes: 0 },
    auth: { seconds: 0, records: 0 },
    firstSliceBytesPerKey: undefined,
  };
  // Public keys of LOOKUPS random key indexes, for the child's lookups by public key (drawn as the keys are made).
  const sampleIndexes = new Set<number>();
  while (sampleIndexes.size < Math.min(KEYS, LOOKUPS)) sampleIndexes.add(Math.floor(Math.random() * KEYS));
  const samples: { keyIndex: number; x: string; y: string }[] = [];

  let head = await storage.chain.head();
  /** Users the next block assigns: those of the slice published by the block before. */
  let toAssign = { first: 0, count: 0 };
  const start = performance.now();
  let lastProgress = start;

  /** One decided block through the driver's finalize: load its reads, execute, commit it with its changes. */
  const decide = async (txs: string[], check: (results: ReturnType<KeyMappingApp["finalizeBlock"]>) => void) => {
    const height = head.height + 1;
    const block: Block = {
      height,
      prevHash: head.lastBlockHash,
      lastAppHash: head.appHash,
      proposer: height % EPOCH.n,
      txs,
      evidence: [],
    };
    const hash = blockHash(block);
    const precommits = Array.from({ length: QUORUM }, (_, validator): Vote => {
      const vote = { type: "precommit" as const, height, round: 0, blockHash: hash };
      return { ...vote, validator, signature: schemes[validator]!.sign(voteSignBytes(chainId, vote)) };
    });
    const commit: Commit = { block, round: 0, precommits };
    await loadReads(app.state, storage.chain.applied, app.readsOf(block.txs));
    const finalized = app.finalizeBlock(block);
    check(finalized);
    const next = { height, lastBlockHash: hash, appHash: finalized.appHash };
    const ops = changeOps(app.state.takeChanges());
    await storage.chain.commitBlock(commit, next, ops);
    head = next;
    figures.app.blocks++;
    figures.app.blockBytes += jsonBytes(commit).length;
    for (const op of ops) figures.app.rowBytes += op.key.length + (op.type === "put" ? op.value.length : 0);
  };

  const assignTxs = ({ first, count }: { first: number; count: number }) =>
    Array.from({ length: count }, (_, i) => assignTx(VERIFIER, userId(first + i)));
  /** Every result OK, and the assignments (after `skip` publication votes) gave user i key i. */
  const checkResults =
    (skip: number, firstUser: number) =>
    ({ results }: ReturnType<KeyMappingApp["finalizeBlock"]>) =>
      results.forEach((r, i) => {
        const expected = i < skip ? undefined : firstUser + i - skip;
        if (r.code !== "OK" || (expected !== undefined && r.keyIndex !== expected))
          throw new Error(`block ${head.height + 1}, tx ${i}: ${JSON.stringify(r)} (expected key ${expected})`);
      });

  for (let first = 0; first < KEYS; first += SLICE) {
    const count = Math.min(SLICE, KEYS - first);

    // Key shares: six points per key by addition (the public key, then Y_1..Y_5), random share and blinding.
    let t = performance.now();
    const keys: GeneratedKey[] = Array.from({ length: count }, (_, i) => ({
      keyIndex: first + i,
      publicKey: "",
      shareKeys: [],
      share: "",
      blinding: "",
    }));
    for (let step = 0; step <= EPOCH.n; step++) {
      lanes.advance();
      for (let i = 0; i < count; i++) {
        if (step === 0) keys[i]!.publicKey = lanes.hex(i);
        else keys[i]!.shareKeys.push(lanes.hex(i));
      }
    }
    for (const key of keys) {
      key.share = hex64(randomScalar());
      key.blinding = hex64(randomScalar());
      if (sampleIndexes.has(key.keyIndex))
        samples.push({ keyIndex: key.keyIndex, x: key.publicKey.slice(2, 66), y: key.publicKey.slice(66) });
    }
    figures.keys.pointSeconds += (performance.now() - t) / 1000;
    const saved: Promise<void>[] = [];
    for (let b = 0; b < count; b += KEY_BATCH) {
      const batch = keys.slice(b, b + KEY_BATCH);
      for (const key of batch) figures.keys.logicalBytes += jsonBytes(key).length;
      saved.push(storage.keyStore.saveBatch((first + b) / KEY_BATCH, batch));
    }
    await Promise.all(saved);
    figures.keys.seconds += (performance.now() - t) / 1000;

    // The app: this slice's publications (a quorum of signed votes per batch of keys), then the last slice's users.
    t = performance.now();
    const txs: string[] = [];
    for (let b = 0; b < count; b += KEY_BATCH) {
      const publicKeys: PublicKeyHex[] = keys
        .slice(b, b + KEY_BATCH)
        .map((k) => ({ x: k.publicKey.slice(2, 66), y: k.publicKey.slice(66) }));
      const body = { startIndex: first + b, publicKeys };
      const signBytes = publishKeysSignBytes(chainId, body);
      for (let validator = 0; validator < QUORUM; validator++)
        txs.push(encodeTx({ type: "publishKeys", body, validator, signature: schemes[validator]!.sign(signBytes) }));
    }
    const publications = txs.length;
    txs.push(...assignTxs(toAssign));
    await decide(txs, checkResults(publications, toAssign.first));
    toAssign = { first, count };
    figures.app.seconds += (performance.now() - t) / 1000;

    // Commit–reveal records: one per key, as logins of a commitment and its reveal (the slice starts even).
    t = performance.now();
    await Promise.all(loginsOf(commitments, first, count));
    figures.auth.records += count;
    figures.auth.seconds += (performance.now() - t) / 1000;

    const done = first + count;
    if (done === ESTIMATE_AFTER && done < KEYS) figures.firstSliceBytesPerKey = await checkDisk(target, done);
    const now = performance.now();
    if (now - lastProgress > 15_000 || done === KEYS) {
      lastProgress = now;
      const seconds = (now - start) / 1000;
      console.log(
        `  ${thousands(done)} keys in ${seconds.toFixed(0)} s (${thousands(done / seconds)}/s; shares ` +
          `${figures.keys.seconds.toFixed(0)} s, app ${figures.app.seconds.toFixed(0)} s, auth ` +
          `${figures.auth.seconds.toFixed(0)} s), load ${loadavg()[0]!.toFixed(1)}`,
      );
      if ((await freeBytes(tmp)) < DISK_RESERVE)
        throw new NotEnoughDisk(`the disk of ${tmp} is nearly full (another process?): stopping the fill`);
    }
  }
  // The last slice's users, in a block of their own.
  const t = performance.now();
  await decide(assignTxs(toAssign), checkResults(0, toAssign.first));
  figures.app.seconds += (performance.now() - t) / 1000;
  figures.seconds = (performance.now() - start) / 1000;

  if (app.assignedKeys !== KEYS || app.freeKeys !== 0) throw new Error(`assigned ${app.assignedKeys} of ${KEYS} keys`);
  if (commitments.size !== KEYS) throw new Error(`${commitments.size} commit–reveal records, not ${KEYS}`);
  await writeFile(path.join(target.dir, "samples.json"), JSON.stringify(samples));
  return figures;
}

/** The logins whose records are number first .. first + count − 1 (record 2ℓ: login ℓ's commitment, 2ℓ + 1: its reveal). */
function loginsOf(commitments: CommitmentStore, first: number, count: number): Promise<void>[] {
  const domain = commitmentDomainFields(deployment, EPOCH.epoch);
  const expiresAt = Date.now() + 10 * 365 * 86_400_000;
  const logins: Promise<void>[] = [];
  for (let record = first; record < first + count; record += 2) {
    const login = record / 2;
    const revealed = record + 1 < first + count;
    const [commitment, tempPubX, tempPubY] = [0, 1, 2].map(() => randomBytes(32).toString("hex")) as [
      string,
      string,
      string,
    ];
    const data = commitmentData(commitment, tempPubX, tempPubY, VERIFIER, Math.floor(Date.now() / 1000), domain);
    const signature = randomBytes(65).toString("hex");
    const source = `10.${(login >> 16) & 255}.${(login >> 8) & 255}.${login & 255}`;
    // The answer a ShareRequest records: the key and the share ECIES-encrypted to the temporary key (its sizes).
    const response = {
      keys: [
        {
          Index: login.toString(16),
          PublicKey: { X: randomBytes(32).toString("hex"), Y: randomBytes(32).toString("hex") },
          Threshold: 1,
          Verifiers: { [VERIFIER]: [userId(login)] },
          Share: btoa(randomBytes(48).toString("hex")),
          Metadata: {
            iv: randomBytes(16).toString("hex"),
            ephemPublicKey: "04" + randomBytes(64).toString("hex"),
            mac: randomBytes(32).toString("hex"),
            mode: "AES256",
          },
        },
      ],
    };
    logins.push(
      (async () => {
        const record = { commitment, tempPubX, tempPubY, verifier: VERIFIER, data, signature, expiresAt, source };
        const outcome = await commitments.addCommitment(record);
        if (outcome !== "added") throw new Error(`commitment ${login}: ${outcome}`);
        if (revealed) await commitments.addReveal({ commitment, response, expiresAt });
      })(),
    );
  }
  return logins;
}

/** After the first slice: the bytes a key took so far, times the keys to come, must fit the free disk. */
async function checkDisk(target: Target, done: number): Promise<number> {
  const bytesPerKey = total(await storedBytes(target)) / done;
  // A quarter more than the first slice says, as the B-trees deepen and the WAL files keep their largest size.
  const neededBytes = Math.ceil(bytesPerKey * (KEYS - done) * 1.25) + DISK_RESERVE;
  const free = await freeBytes(tmp);
  console.log(
    `  disk: ${Math.round(bytesPerKey)} bytes a key after the first ${thousands(done)} keys, so about ` +
      `${mb(neededBytes)} MB more needed; ${mb(free)} MB free in ${tmp}`,
  );
  if (free < neededBytes)
    throw new NotEnoughDisk(
      `refusing to fill ${thousands(KEYS)} keys: they need about ${mb(neededBytes)} MB more in ${tmp} ` +
        `(${Math.round(bytesPerKey)} bytes a key measured on the first ${thousands(done)}), and ${mb(free)} MB are ` +
        `free. Set TMPDIR to a larger disk or lower BENCH_SCALE_KEYS.`,
    );
  return bytesPerKey;
}

// ---------------------------------------------------------------------------------------------------------------
// The restart, in a fresh child process
// ---------------------------------------------------------------------------------------------------------------

interface Latency {
  p50Ms: number;
  p99Ms: number;
  /** The slowest 1 %: the share of their time on a CPU; over the run, preemptions, faults, disk reads, GC. */
  tail: Tail;
}

/** What bench/scale-child.ts prints as its last line. */
interface ChildFigures {
  restartSeconds: number;
  phasesMs: { boot: number; imports: number; open: number; cores: number; firstLookup: number };
  rssMB: number;
  rssPeakMB: number;
  lookups: number;
  byUser: Latency;
  byPublicKey: Latency;
  queryByUser: Latency;
  queryByPublicKey: Latency;
  shareRead: Latency;
}

async function measureRestart(target: Target): Promise<{ files: Map<string, number>; child: ChildFigures }> {
  const files = await storedBytes(target);
  // The same node and loader (tsx) as this process: its execArgv carries tsx's hooks.
  const args = [...process.execArgv];
  if (process.env.BENCH_SCALE_CPU_PROF) args.push("--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_SCALE_CPU_PROF}`);
  const config = {
    dataDir: target.dataDir,
    databaseUrl: target.databaseUrl,
    samples: path.join(target.dir, "samples.json"),
    keys: KEYS,
    lookups: LOOKUPS,
    epoch: EPOCH,
    deployment,
    verifier: VERIFIER,
    spawnedAt: Date.now(),
  };
  args.push(path.join(import.meta.dirname, "scale-child.ts"), JSON.stringify(config));
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", resolve);
  });
  if (code !== 0) throw new Error(`the child exited with ${code}:\n${out}`);
  const lines = out.trim().split("\n");
  for (const line of lines.slice(0, -1)) console.log(`  child: ${line}`);
  return { files, child: JSON.parse(lines.at(-1)!) as ChildFigures };
}

// ---------------------------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------------------------

/** Prints one engine's tables; returns its figures for the JSON line. */
function report(
  fill: FillFigures,
  { files, child }: { files: Map<string, number>; child: ChildFigures },
): Record<string, unknown> {
  const bytes = total(files);
  const bytesPerKey = Math.round(bytes / KEYS);
  const byStore = new Map<string, number>();
  for (const [name, size] of files) {
    // A store's file with its -wal and -shm files; a directory as one.
    const store = name.split(path.sep)[0]!.replace(/-(wal|shm)$/, "");
    byStore.set(store, (byStore.get(store) ?? 0) + size);
  }
  const perKey = (b: number) => Math.round(b / KEYS);
  const rate = (seconds: number) => thousands(KEYS / seconds);
  const row = (cells: string[], widths: number[]) =>
    console.log("  " + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "));

  console.log(`\nfill of ${thousands(KEYS)} keys (${fill.app.blocks} blocks):`);
  const fw = [52, 9, 12];
  row(["", "seconds", "keys/s"], fw);
  row([`key shares, KeyStore.saveBatch of ${KEY_BATCH}`, fill.keys.seconds.toFixed(1), rate(fill.keys.seconds)], fw);
  row([`  of which making them (points by addition, scalars)`, fill.keys.pointSeconds.toFixed(1), ""], fw);
  row([`app: publications + assignments, commitBlock`, fill.app.seconds.toFixed(1), rate(fill.app.seconds)], fw);
  row(
    [`commit–reveal records (${thousands(KEYS / 2)} logins)`, fill.auth.seconds.toFixed(1), rate(fill.auth.seconds)],
    fw,
  );
  row([`whole fill`, fill.seconds.toFixed(1), rate(fill.seconds)], fw);

  console.log(`\non disk (${mb(bytes)} MB, ${bytesPerKey} bytes a key):`);
  const dw = [52, 9, 12];
  row(["", "MB", "bytes/key"], dw);
  for (const [store, size] of [...byStore].sort((a, b) => b[1] - a[1]))
    row([store, mb(size), String(perKey(size))], dw);
  row([`  logical: blocks (chain store)`, mb(fill.app.blockBytes), String(perKey(fill.app.blockBytes))], dw);
  row([`  logical: app rows (chain store)`, mb(fill.app.rowBytes), String(perKey(fill.app.rowBytes))], dw);
  row([`  logical: key shares (keys.sqlite)`, mb(fill.keys.logicalBytes), String(perKey(fill.keys.logicalBytes))], dw);

  const p = child.phasesMs;
  console.log(
    `\nrestart, spawn to the first answered lookup: ${child.restartSeconds.toFixed(2)} s (node start ${p.boot.toFixed(0)} ms, ` +
      `imports ${p.imports.toFixed(0)} ms, EpochStorage.open ${p.open.toFixed(0)} ms, buildCores and the methods ` +
      `${p.cores.toFixed(0)} ms, the lookup ${p.firstLookup.toFixed(1)} ms)`,
  );
  console.log(
    `RSS while serving: ${child.rssMB} MB after ${thousands(child.lookups)} lookups (peak ${child.rssPeakMB} MB)`,
  );
  console.log(`\nlatency over ${thousands(child.lookups)} random lookups each:`);
  const lw = [52, 9, 9, 8, 12, 7, 11, 12];
  row(["", "p50 ms", "p99 ms", "on CPU", "preemptions", "faults", "disk reads", "GC (max ms)"], lw);
  const lat = (name: string, { p50Ms, p99Ms, tail: t }: Latency) =>
    row(
      [
        name,
        p50Ms.toFixed(3),
        p99Ms.toFixed(3),
        `${Math.round(t.onCpuShare * 100)} %`,
        String(t.preemptions),
        String(t.majorFaults),
        String(t.diskReads),
        `${t.gcPauses} (${t.gcMaxMs.toFixed(1)})`,
      ],
      lw,
    );
  lat("VerifierLookupRequest (by user), JSON-RPC method", child.byUser);
  lat("KeyLookupRequest (by public key), JSON-RPC method", child.byPublicKey);
  lat("  appQueries.lookup alone", child.queryByUser);
  lat("  appQueries.keyByPublicKey alone", child.queryByPublicKey);
  lat("keyStore.findKey (share read)", child.shareRead);
  console.log(
    `  (on CPU: the share of the slowest 1 % of calls' time this process ran, the rest it waited for a core or the\n` +
      `  disk; over each run of ${thousands(child.lookups)}: involuntary context switches, major page faults, blocks ` +
      `read from the disk, GC pauses)`,
  );

  // The engine's figures for the last line (the first six are the issue's).
  return {
    restartSeconds: round(child.restartSeconds, 2),
    rssMB: child.rssMB,
    lookupP50Ms: child.byUser.p50Ms,
    lookupP99Ms: child.byUser.p99Ms,
    bytesPerKey,
    insertPerSec: Math.round(KEYS / fill.seconds),
    lookupP99Tail: child.byUser.tail,
    lookupByPublicKeyP50Ms: child.byPublicKey.p50Ms,
    lookupByPublicKeyP99Ms: child.byPublicKey.p99Ms,
    queryLookupP50Ms: child.queryByUser.p50Ms,
    queryLookupP99Ms: child.queryByUser.p99Ms,
    shareReadP50Ms: child.shareRead.p50Ms,
    shareReadP99Ms: child.shareRead.p99Ms,
    rssPeakMB: child.rssPeakMB,
    restartPhasesMs: Object.fromEntries(Object.entries(child.phasesMs).map(([phase, ms]) => [phase, round(ms, 1)])),
    fillSeconds: round(fill.seconds, 1),
    sharesPerSec: Math.round(KEYS / fill.keys.seconds),
    appKeysPerSec: Math.round(KEYS / fill.app.seconds),
    authRecordsPerSec: Math.round(KEYS / fill.auth.seconds),
    firstSliceBytesPerKey: fill.firstSliceBytesPerKey && Math.round(fill.firstSliceBytesPerKey),
    bytesPerKeyByStore: Object.fromEntries([...byStore].map(([store, size]) => [store, perKey(size)])),
  };
}
