/**
 * Fault scenarios for the handover, each a function of a seed returning the problems found (empty = pass). Faults
 * are active for a window, then the network heals and crashed nodes restart, and every honest new node must hold a
 * verified new share of every key: unchanged public keys, shares on one fresh polynomial of degree k_new − 1 through
 * the old secret, Y'_j = g^(s'_j), and old shares that fit nothing new (PssCluster.check).
 */
import { bivariateRow, randomSymmetricBivariate } from "../../node/crypto/bivariate.ts";
import { commitFeldmanMatrix } from "../../node/crypto/commitments.ts";
import { randomScalar } from "../../node/crypto/field.ts";
import { G } from "../../node/crypto/point.ts";
import { matricesToWire, pointHex, scalarHex } from "../../node/dkg/wire.ts";
import type { PssMessage } from "../../node/pss/types.ts";
import { Prng } from "../support/prng.ts";
import { checksForSeed } from "../sim/checks.ts";
import type { NetworkFaults } from "../sim/network.ts";
import { PssCluster, thresholds, type DealerFilter, type OldKey } from "../sim/pss-cluster.ts";

const KEYS = 3;
const CHUNK_SIZE = 2;
const FAULT_WINDOW_MS = 10_000;
const LIVENESS_BOUND_MS = 120_000;

interface Setup {
  nOld: number;
  nNew: number;
  faults?: NetworkFaults;
  byzantine?: Map<number, DealerFilter>;
  silent?: number[];
  during?: (cluster: PssCluster, prng: Prng) => void;
}

function run(seed: number, setup: (prng: Prng) => Setup, options: { oldKeys?: OldKey[]; transition?: number } = {}) {
  const prng = new Prng(seed);
  const { nOld, nNew, faults, byzantine, silent, during } = setup(prng);
  const cluster = new PssCluster({
    old: thresholds(nOld),
    next: thresholds(nNew),
    prng,
    keys: KEYS,
    chunkSize: CHUNK_SIZE,
    faults,
    byzantine,
    silent: new Set(silent),
    checks: checksForSeed(seed),
    ...options,
  });
  cluster.start();
  during?.(cluster, prng);
  cluster.scheduler.run({ untilTime: FAULT_WINDOW_MS, done: () => cluster.newNodes.every((n) => n.done) });
  cluster.network.faults = { lossRate: 0, duplicateRate: 0, minDelayMs: 1, maxDelayMs: 10, retransmitMs: 200 };
  cluster.network.heal();
  for (const node of [...cluster.oldNodes, ...cluster.newNodes]) if (!node.up) node.boot();
  const outcome = cluster.scheduler.run({
    done: () => cluster.newNodes.every((n) => n.done),
    untilTime: cluster.scheduler.now + LIVENESS_BOUND_MS,
  });
  const problems = outcome === "done" ? [] : [`not every new node finished (${outcome})`];
  return { cluster, problems: [...problems, ...cluster.check(cluster.newNodes.map((n) => n.index))] };
}

const lossy = (prng: Prng): NetworkFaults => ({
  lossRate: 0.05 + prng.int(0, 20) / 100,
  duplicateRate: prng.int(0, 15) / 100,
  minDelayMs: 1,
  maxDelayMs: 20 + prng.int(0, 300),
  retransmitMs: 300,
});

/** Sends some new nodes rows that are off the committed polynomial. */
const badSubShares =
  (prng: Prng): DealerFilter =>
  (message, to) => {
    if (message.type !== "send" || !prng.chance(0.6)) return [message];
    const rows = message.rows.map((r) => [...r]);
    rows[0]![0] = scalarHex((BigInt("0x" + rows[0]![0]!) + 1n) % 2n ** 255n);
    void to;
    // The column changed alike (it is the row of a symmetric polynomial): only the commitments can tell.
    return [{ ...message, rows, cols: rows }];
  };

/** Reshares a value other than its share, consistently to every new node (the commitments miss Y_dealer). */
function wrongValue(prng: Prng): DealerFilter {
  const rng = (bytes: number) => Uint8Array.from({ length: bytes }, () => prng.int(0, 255));
  const dealings = new Map<number, bigint[][][]>();
  return (message, to, cluster) => {
    if (message.type !== "send") return [message];
    let polys = dealings.get(message.chunk);
    if (!polys) {
      polys = message.rows.map(() => randomSymmetricBivariate(randomScalar(rng), cluster.next.k, rng));
      dealings.set(message.chunk, polys);
    }
    const x = BigInt(to);
    return [
      {
        ...message,
        commitments: matricesToWire(polys.map((f) => commitFeldmanMatrix(f))),
        rows: polys.map((f) => bivariateRow(f, x).map(scalarHex)),
        cols: polys.map((f) => bivariateRow(f, x).map(scalarHex)),
      },
    ];
  };
}

/** Sends moved records with a wrong Y or a wrong public key. */
const wrongRecords =
  (prng: Prng): DealerFilter =>
  (message) => {
    if (message.type !== "records") return [message];
    const keys = message.keys.map((k) => ({ ...k, shareKeys: [...k.shareKeys] }));
    const forged = pointHex(G.multiply(BigInt(prng.int(2, 1_000_000))));
    if (prng.chance(0.5)) keys[0]!.publicKey = forged;
    else keys[0]!.shareKeys[prng.int(0, keys[0]!.shareKeys.length - 1)] = forged;
    return [{ ...message, keys }];
  };

/** Garbage of a random kind in place of a message, or the message duplicated with a field broken. */
const garbage =
  (prng: Prng): DealerFilter =>
  (message) => {
    const broken = { ...message } as Record<string, unknown>;
    const field = prng.pick(Object.keys(broken).filter((f) => f !== "type"));
    broken[field] = prng.pick([null, "zz", -1, [], {}, "04" + "0".repeat(128)]);
    return [message, broken as unknown as PssMessage];
  };

/** The last t_old old nodes misbehave, each with a filter drawn from `filters`. */
function byzantine(nOld: number, nNew: number, prng: Prng, filters: ((prng: Prng) => DealerFilter)[]): Setup {
  const t = thresholds(nOld).t;
  const bad = Array.from({ length: t }, (_, i) => nOld - i);
  return {
    nOld,
    nNew,
    faults: lossy(prng),
    byzantine: new Map(bad.map((b) => [b, prng.pick(filters)(prng)])),
  };
}

export type PssScenario = (seed: number) => string[];

export const PSS_SCENARIOS: Record<string, PssScenario> = {
  "n5 → n5, calm": (seed) => run(seed, () => ({ nOld: 5, nNew: 5 })).problems,
  "n5 → n7, lossy network": (seed) => run(seed, (prng) => ({ nOld: 5, nNew: 7, faults: lossy(prng) })).problems,
  "n7 → n5, lossy network": (seed) => run(seed, (prng) => ({ nOld: 7, nNew: 5, faults: lossy(prng) })).problems,
  "n9 → n5, lossy network": (seed) => run(seed, (prng) => ({ nOld: 9, nNew: 5, faults: lossy(prng) })).problems,
  "n5 → n5, a Byzantine dealer sends bad sub-shares": (seed) =>
    run(seed, (prng) => byzantine(5, 5, prng, [badSubShares])).problems,
  "n5 → n5, a Byzantine dealer reshares a wrong value": (seed) =>
    run(seed, (prng) => byzantine(5, 5, prng, [wrongValue])).problems,
  "n5 → n5, a Byzantine old node sends wrong moved records": (seed) =>
    run(seed, (prng) => byzantine(5, 5, prng, [wrongRecords])).problems,
  "n9 → n7, t_old Byzantine dealers of mixed kinds": (seed) =>
    run(seed, (prng) => byzantine(9, 7, prng, [badSubShares, wrongValue, wrongRecords, garbage])).problems,
  "n5 → n5, a silent old node": (seed) =>
    run(seed, (prng) => ({ nOld: 5, nNew: 5, faults: lossy(prng), silent: [prng.int(1, 5)] })).problems,
  "n5 → n5, an old node crashes mid-handover and restarts": (seed) =>
    run(seed, (prng) => ({
      nOld: 5,
      nNew: 5,
      faults: lossy(prng),
      during: (cluster) => {
        const node = cluster.oldNodes[prng.int(0, 4)]!;
        cluster.scheduler.after(prng.int(1, 40), () => (node.up = false));
        cluster.scheduler.after(prng.int(200, 3000), () => node.boot());
      },
    })).problems,
  // Operator i runs old node i and new node i (Torus's usual case): a machine that goes down takes both roles with it,
  // and a Byzantine operator's dealer lies. The disjoint case is every other scenario (distinct parties).
  "n5 → n5, the same operators: one machine crashes in both roles, another operator's dealer is Byzantine": (seed) =>
    run(seed, (prng) => {
      const setup = byzantine(5, 5, prng, [badSubShares, wrongValue, wrongRecords]);
      const operators = [1, 2, 3, 4, 5].filter((i) => !setup.byzantine!.has(i));
      const crashed = operators[prng.int(0, operators.length - 1)]!;
      return {
        ...setup,
        during: (cluster) => {
          const [old, fresh] = [cluster.oldNodes[crashed - 1]!, cluster.newNodes[crashed - 1]!];
          cluster.scheduler.after(prng.int(1, 80), () => {
            old.up = false;
            fresh.crash();
          });
          cluster.scheduler.after(prng.int(200, 3000), () => {
            old.boot();
            fresh.boot();
          });
        },
      };
    }).problems,
  "n5 → n5, a new node crashes mid-handover and restarts from its disk": (seed) =>
    run(seed, (prng) => ({
      nOld: 5,
      nNew: 5,
      faults: lossy(prng),
      during: (cluster) => {
        const node = cluster.newNodes[prng.int(0, 4)]!;
        cluster.scheduler.after(prng.int(1, 80), () => node.crash());
        cluster.scheduler.after(prng.int(200, 3000), () => node.boot());
      },
    })).problems,
  // Two new nodes are down until the others hold every key (more than t_new late, as while an operator's machine
  // restarts), and a dealer the new epoch decided on is gone for good by then: the late nodes rebuild their rows of
  // its sharing from their peers' echoes, whose commitments those peers must still give them (the e2e handover test
  // stalled on this, about one run in five).
  "n5 → n7, two new nodes late, a decided dealer gone before they start": (seed) => {
    const prng = new Prng(seed);
    const cluster = new PssCluster({
      old: thresholds(5),
      next: thresholds(7),
      prng,
      keys: KEYS,
      chunkSize: CHUNK_SIZE,
      checks: checksForSeed(seed),
    });
    cluster.start();
    const first = prng.int(1, 7);
    const late = [first, prng.pick([1, 2, 3, 4, 5, 6, 7].filter((i) => i !== first))];
    for (const index of late) cluster.newNodes[index - 1]!.crash();
    cluster.run(LIVENESS_BOUND_MS);
    const problems = cluster.newNodes.every((n) => !n.up || n.done) ? [] : ["the new nodes up did not finish"];
    cluster.oldNodes[prng.pick(prng.pick(cluster.log).dealers).dealer - 1]!.up = false;
    for (const index of late) cluster.newNodes[index - 1]!.boot();
    cluster.run(LIVENESS_BOUND_MS);
    if (!cluster.newNodes.every((n) => n.done)) problems.push("a late new node did not finish");
    return [...problems, ...cluster.check(cluster.newNodes.map((n) => n.index))];
  },
  "n5 → n5, aborted (too few new nodes up) and retried": (seed) => {
    // Attempt 1: only k_new − 1 new nodes ever run, so no resharing can gather k + t readies.
    const options = {
      old: thresholds(5),
      next: thresholds(5),
      keys: KEYS,
      chunkSize: CHUNK_SIZE,
      checks: checksForSeed(seed),
    };
    const first = new PssCluster({ ...options, prng: new Prng(seed), transition: 2 });
    first.start();
    for (const node of first.newNodes.slice(2)) node.crash();
    first.scheduler.run({ untilTime: 30_000 });
    const problems = first.newNodes.some((n) => n.done || n.keys.size > 0) ? ["attempt 1 completed a chunk"] : [];
    // Governance aborts; the new nodes erase what they received and the retry runs as a new transition. What attempt
    // 1 decided (nothing here) and its signed readies are bound to its transition number and count for nothing.
    const retry = new PssCluster({
      ...options,
      prng: new Prng(seed + 1_000_000),
      transition: 3,
      oldKeys: first.oldKeys,
    });
    retry.start();
    retry.run(LIVENESS_BOUND_MS);
    if (!retry.newNodes.every((n) => n.done)) problems.push("the retry did not finish");
    return [...problems, ...retry.check(retry.newNodes.map((n) => n.index))];
  },
};
