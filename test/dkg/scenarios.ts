/**
 * Fault scenarios for key generation, each a function of (n, t, seed) returning the problems found (empty = pass).
 * Every scenario generates two batches while its faults are active, then heals the network and restarts crashed
 * nodes, and requires of every honest node: keys for both batches, the same public key and Y vector as the others,
 * a share that is F(i) of the master polynomial of the decided dealers, a public key equal to g^F(0), and that any k
 * honest shares reconstruct F(0) while F has degree k − 1 (so k − 1 shares do not determine it).
 */
import { mulG } from "../../node/crypto/generators.ts";
import type { DkgMessage } from "../../node/dkg/types.ts";
import { pointHex, scalarHex } from "../../node/dkg/wire.ts";
import { Prng } from "../support/prng.ts";
import { checksForSeed } from "../sim/checks.ts";
import { DkgCluster, type DkgFilter } from "../sim/dkg-cluster.ts";
import type { NetworkFaults } from "../sim/network.ts";

const BATCHES = 2;
const FAULT_WINDOW_MS = 15_000;
const LIVENESS_BOUND_MS = 120_000;

interface Setup {
  faults?: NetworkFaults;
  byzantine?: Map<number, DkgFilter>;
  /** Nodes that may misbehave (left out of the checks). */
  faulty?: number[];
  during?: (cluster: DkgCluster, prng: Prng) => void;
}

function run(n: number, t: number, seed: number, setup: (prng: Prng) => Setup): string[] {
  const prng = new Prng(seed);
  const { faults, byzantine, faulty = [], during } = setup(prng);
  const checks = checksForSeed(seed);
  const cluster = new DkgCluster({ n, t, prng, batchSize: 1, keyBuffer: 100, faults, byzantine, checks });
  const honest = [...Array(n).keys()].map((i) => i + 1).filter((i) => !faulty.includes(i));
  cluster.start();
  cluster.demand(0);
  during?.(cluster, prng);
  cluster.scheduler.run({ untilTime: FAULT_WINDOW_MS });
  cluster.network.faults = { lossRate: 0, duplicateRate: 0, minDelayMs: 1, maxDelayMs: 10, retransmitMs: 200 };
  cluster.network.heal();
  for (const node of cluster.nodes) if (!node.up) node.boot();
  const done = () => honest.every((i) => [...Array(BATCHES).keys()].every((b) => cluster.nodes[i - 1]!.keys.has(b)));
  const outcome = cluster.scheduler.run({ done, untilTime: FAULT_WINDOW_MS + LIVENESS_BOUND_MS });
  if (outcome !== "done") return [`not every honest node finished both batches (${outcome})`];
  return [...Array(BATCHES).keys()].flatMap((b) => cluster.check(b, honest));
}

const lossy = (prng: Prng): NetworkFaults => ({
  lossRate: 0.05 + prng.int(0, 20) / 100,
  duplicateRate: prng.int(0, 15) / 100,
  minDelayMs: 1,
  maxDelayMs: 20 + prng.int(0, 300),
  retransmitMs: 300,
});

/** The last t nodes misbehave, each with the given filter. */
function byzantine(n: number, t: number, filter: (prng: Prng) => DkgFilter, prng: Prng): Setup {
  const bad = Array.from({ length: t }, (_, i) => n - i);
  return { faults: lossy(prng), byzantine: new Map(bad.map((b) => [b, filter(prng)])), faulty: bad };
}

/** Changes one field of a message to garbage of a random kind. */
function garble(message: DkgMessage, prng: Prng): unknown {
  const copy = JSON.parse(JSON.stringify(message)) as Record<string, unknown>;
  const keys = Object.keys(copy);
  const key = prng.pick(keys);
  const garbage: unknown[] = [
    null,
    -1,
    0,
    2 ** 60,
    "",
    "zz",
    "04" + "0".repeat(128),
    [],
    {},
    [[[]]],
    "0".repeat(64),
    true,
  ];
  copy[key] = prng.pick(garbage);
  return copy;
}

const offCurve = "04" + "1".repeat(128);
const identityLike = "04" + "0".repeat(128);

export const DKG_SCENARIOS: Record<string, (n: number, t: number, seed: number) => string[]> = {
  "message loss, duplication and reordering": (n, t, seed) => run(n, t, seed, (prng) => ({ faults: lossy(prng) })),

  "partition and heal": (n, t, seed) =>
    run(n, t, seed, (prng) => ({
      faults: lossy(prng),
      during: (cluster) => {
        const nodes = [...Array(n).keys()];
        const cut = prng.int(1, n - 1);
        cluster.scheduler.at(prng.int(0, 1000), () =>
          cluster.network.partition([nodes.slice(0, cut), nodes.slice(cut)]),
        );
        cluster.scheduler.at(prng.int(4000, FAULT_WINDOW_MS), () => cluster.network.heal());
      },
    })),

  "crash and restart from persisted state": (n, t, seed) =>
    run(n, t, seed, (prng) => ({
      faults: lossy(prng),
      during: (cluster) => {
        for (let c = 0; c < 3; c++) {
          const node = cluster.nodes[prng.int(0, n - 1)]!;
          cluster.scheduler.at(prng.int(0, FAULT_WINDOW_MS - 3000), () => {
            if (!node.up) return;
            node.crash();
            cluster.scheduler.after(prng.int(200, 3000), () => node.boot());
          });
        }
      },
    })),

  "crash in the middle of writing state": (n, t, seed) =>
    run(n, t, seed, (prng) => ({
      faults: lossy(prng),
      during: (cluster) => {
        for (const node of cluster.nodes) if (prng.chance(0.5)) node.crashAtWrite = prng.int(1, 12);
      },
    })),

  "t silent dealers (and otherwise silent nodes)": (n, t, seed) =>
    run(n, t, seed, (prng) => byzantine(n, t, () => () => [], prng)),

  "t dealers send inconsistent rows to up to t nodes": (n, t, seed) =>
    run(n, t, seed, (prng) =>
      byzantine(
        n,
        t,
        (p) => (message, to) => {
          if (message.type !== "send" || to > t) return [message];
          const rows = message.rows.map((row) => row.map((c, j) => (j === 0 ? scalarHex(BigInt("0x" + c) + 1n) : c)));
          return [{ ...message, rows: p.chance(0.5) ? rows : message.rows.map((r) => [...r].reverse()) }];
        },
        prng,
      ),
    ),

  "t dealers send malformed commitments (wrong size, identity, off-curve point)": (n, t, seed) =>
    run(n, t, seed, (prng) =>
      byzantine(
        n,
        t,
        (p) => (message) => {
          if (message.type !== "send") return [message];
          const kind = p.int(0, 2);
          const commitments =
            kind === 0
              ? message.commitments.map((m) => [...m, m[0]!])
              : message.commitments.map((m) =>
                  m.map((row, j) => row.map((pt, l) => (j + l === 0 ? (kind === 1 ? identityLike : offCurve) : pt))),
                );
          return [{ ...message, commitments }];
        },
        prng,
      ),
    ),

  "t nodes equivocate echoes and readies": (n, t, seed) =>
    run(n, t, seed, (prng) =>
      byzantine(
        n,
        t,
        (p) => (message) => {
          if (message.type !== "echo" && message.type !== "ready") return [message];
          const points = message.points.map((pt) => ({
            ...pt,
            row: scalarHex(BigInt("0x" + pt.row) + BigInt(p.int(1, 5))),
          }));
          return [{ ...message, points, hash: p.chance(0.3) ? "ab".repeat(32) : message.hash }];
        },
        prng,
      ),
    ),

  "t nodes publish −g^(s_i) or another node's g^(s_i)": (n, t, seed) =>
    run(n, t, seed, (prng) =>
      byzantine(
        n,
        t,
        (p) => (message) => {
          if (message.type !== "proofs") return [message];
          const proofs = message.proofs.map((proof) => ({
            ...proof,
            Y: p.chance(0.5) ? pointHex(mulG(1n).negate().add(mulG(2n))) : pointHex(mulG(BigInt(p.int(1, 1000)))),
          }));
          return [{ ...message, proofs }];
        },
        prng,
      ),
    ),

  "t nodes send garbage in every field, replays from other batches, sessions and epochs": (n, t, seed) =>
    run(n, t, seed, (prng) =>
      byzantine(
        n,
        t,
        (p) => (message) => {
          const replay = { ...message, ...(p.chance(0.5) ? { epoch: 7 } : { batch: message.batch + 1 }) };
          const otherDealer = "dealer" in message ? { ...message, dealer: (message.dealer % n) + 1 } : message;
          return [garble(message, p) as DkgMessage, replay, otherDealer, garble(message, p) as DkgMessage];
        },
        prng,
      ),
    ),

  "t nodes propose dealer sets without valid ready proofs, ahead of the honest ones": (n, t, seed) =>
    run(n, t, seed, (prng) =>
      byzantine(
        n,
        t,
        (p) => {
          const forged = new Set<number>();
          return (message, _to, cluster) => {
            if (!forged.has(message.batch)) {
              forged.add(message.batch);
              const dealers = Array.from({ length: n }, (_, d) => ({
                dealer: d + 1,
                hash: "cd".repeat(32),
                readies: p.chance(0.5)
                  ? []
                  : Array.from({ length: n }, (__, r) => ({ node: r + 1, signature: "00".repeat(32) })),
              }));
              cluster.propose({ type: "dealers", epoch: cluster.epoch, batch: message.batch, dealers });
            }
            return [message];
          };
        },
        prng,
      ),
    ),
};
