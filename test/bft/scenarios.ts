/**
 * Fault scenarios for the BFT simulation, each a function of (n, seed) that returns the problems it found (empty =
 * pass). Every scenario publishes a pool of keys, submits assignments while its faults are active, stops the faults,
 * and then requires: safety (honest validators decided the same blocks and app hashes at every height) and liveness
 * (a probe assignment submitted after the faults commits on every honest validator within a bounded time).
 */
import { blockHash, proposalSignBytes, voteSignBytes } from "../../node/bft/encoding.ts";
import { maxFaulty } from "../../node/bft/quorum.ts";
import type { ConsensusMessage, SignatureScheme, Vote } from "../../node/bft/types.ts";
import { Prng } from "../support/prng.ts";
import { BftCluster, type ByzantineFilter, type ClusterOptions } from "../sim/bft-cluster.ts";
import { fastSchemes } from "../sim/fast-signer.ts";
import type { NetworkFaults } from "../sim/network.ts";
import { assignTx, publishTx } from "./helpers.ts";

const KEYS = 40;
const FAULT_WINDOW_MS = 20_000;
const LIVENESS_BOUND_MS = 120_000;

export interface ScenarioResult {
  problems: string[];
  cluster: BftCluster;
  honest: number[];
}

interface Setup {
  faults?: NetworkFaults;
  byzantine?: Map<number, ByzantineFilter>;
  /** Validators that may misbehave (excluded from the honest set the checks are made on). */
  faulty?: number[];
  /** Runs during the fault window; schedule crashes, partitions, etc. */
  during?: (cluster: BftCluster, prng: Prng) => void;
}

/** Signature schemes for n validators: the fast keyed hash by default, real ECDSA for a few seeds. */
export type SchemeFactory = (n: number) => SignatureScheme[];

/** How the scenario's cluster runs beyond its faults (with deferred finalization, say). */
export type ScenarioOptions = Pick<ClusterOptions, "deferFinalize">;

function runScenario(
  n: number,
  seed: number,
  makeSchemes: SchemeFactory,
  options: ScenarioOptions,
  setup: (prng: Prng) => Setup,
): ScenarioResult {
  const prng = new Prng(seed);
  const { faults, byzantine, faulty = [], during } = setup(prng);
  const cluster = new BftCluster({ n, prng, schemes: makeSchemes(n), faults, byzantine, ...options });
  const honest = [...Array(n).keys()].filter((v) => !faulty.includes(v));
  const problems: string[] = [];
  cluster.start();
  // Each validator publishes its vote for the key batch, and (as the key generation does) resubmits it until the keys
  // are published, since a validator that is down at that moment cannot.
  for (let v = 0; v < n; v++) {
    const tx = publishTx(cluster.chainId, cluster.schemes, v, 0, KEYS);
    const attempt = () => {
      if (cluster.validators[v]!.app?.publishedKeys === KEYS) return;
      cluster.validators[v]!.submit(tx);
      cluster.scheduler.after(1000, attempt);
    };
    cluster.scheduler.at(prng.int(0, 2000), attempt);
  }
  const users = 12;
  for (let u = 0; u < users; u++) {
    const via = prng.int(0, n - 1);
    cluster.scheduler.at(prng.int(0, FAULT_WINDOW_MS), () =>
      cluster.validators[via]!.submit(assignTx("google", `user${u}`)),
    );
  }
  during?.(cluster, prng);
  cluster.scheduler.run({ untilTime: FAULT_WINDOW_MS });

  // Faults stop: calm network, everyone up, partitions healed.
  cluster.network.faults = { lossRate: 0, duplicateRate: 0, minDelayMs: 1, maxDelayMs: 10, retransmitMs: 200 };
  cluster.network.heal();
  cluster.scheduler.run({ untilTime: FAULT_WINDOW_MS + 2 * cluster.restartDelayMs });
  for (const v of cluster.validators) if (!v.up) v.boot();

  // Liveness: a probe assignment, submitted to every honest validator (a client retries against all nodes), commits
  // everywhere within the bound; so do all earlier assignments that were admitted.
  const stop = cluster.scheduler.now;
  const everyone = () => honest.every((v) => cluster.validators[v]!.app.lookup("probe", "after-faults") !== undefined);
  submitUntilAssigned(cluster, honest, "probe", "after-faults");
  const outcome = cluster.scheduler.run({ done: everyone, untilTime: stop + LIVENESS_BOUND_MS });
  if (outcome !== "done")
    problems.push(`liveness: the probe did not commit everywhere within ${LIVENESS_BOUND_MS} ms (${outcome})`);

  problems.push(...cluster.safetyViolations(honest));
  const doubleSigners = cluster.doubleSigned.filter((d) => honest.some((v) => d.startsWith(`validator ${v} `)));
  problems.push(...doubleSigners.map((d) => `honest validator double-signed: ${d}`));
  // Linearizability of assignments: every OK result for a user, on any validator at any height, names one key.
  const keyOf = new Map<string, number>();
  cluster.decisions.forEach((atHeight) =>
    atHeight?.forEach((decision, validator) => {
      if (!honest.includes(validator)) return;
      decision.block.txs.forEach((tx, i) => {
        const result = decision.results[i] as { code: string; keyIndex?: number };
        const parsed = JSON.parse(tx) as { type: string; verifier?: string; verifierId?: string };
        if (parsed.type !== "assign" || result.code !== "OK") return;
        const user = `${parsed.verifier}/${parsed.verifierId}`;
        const before = keyOf.get(user);
        if (before === undefined) keyOf.set(user, result.keyIndex!);
        else if (before !== result.keyIndex) problems.push(`user ${user} got keys ${before} and ${result.keyIndex}`);
      });
    }),
  );
  return { problems, cluster, honest };
}

/**
 * Submits an assignment to the given validators and, like a real client, again every second until they all hold it
 * (a node refuses it while it is down, or has no free key yet).
 */
function submitUntilAssigned(cluster: BftCluster, via: number[], verifier: string, verifierId: string): void {
  const attempt = () => {
    const pending = via.filter((v) => cluster.validators[v]!.app?.lookup(verifier, verifierId) === undefined);
    if (pending.length === 0) return;
    for (const v of pending) cluster.validators[v]!.submit(assignTx(verifier, verifierId));
    cluster.scheduler.after(1000, attempt);
  };
  attempt();
}

const lossy = (prng: Prng): NetworkFaults => ({
  lossRate: 0.05 + prng.int(0, 20) / 100,
  duplicateRate: prng.int(0, 15) / 100,
  minDelayMs: 1,
  maxDelayMs: 20 + prng.int(0, 200),
  retransmitMs: 300,
});

/** The Byzantine validators of a scenario: the last f, so the proposer rotation meets them every height. */
function byzantineSet(n: number): number[] {
  const f = maxFaulty(n);
  return [...Array(f).keys()].map((i) => n - 1 - i);
}

function signedVote(cluster: BftCluster, from: number, vote: Omit<Vote, "signature" | "validator">): Vote {
  return { ...vote, validator: from, signature: cluster.schemes[from]!.sign(voteSignBytes(cluster.chainId, vote)) };
}

function shuffle<T>(items: T[], prng: Prng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = prng.int(0, i);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

function randomHash(prng: Prng): string {
  return Array.from({ length: 8 }, () => prng.nextUint32().toString(16).padStart(8, "0")).join("");
}

export type Scenario = (n: number, seed: number, schemes?: SchemeFactory, options?: ScenarioOptions) => ScenarioResult;

export const SCENARIOS: Record<string, Scenario> = {
  "message loss, duplication and reordering": (n, seed, schemes = fastSchemes, options = {}) =>
    runScenario(n, seed, schemes, options, (prng) => ({ faults: lossy(prng) })),

  // Crashes are not Byzantine: any validators may crash and restart, even several at once.
  "crash and restart": (n, seed, schemes = fastSchemes, options = {}) =>
    runScenario(n, seed, schemes, options, (prng) => ({
      faults: lossy(prng),
      during: (cluster) => {
        for (let c = 0; c < 4; c++) {
          const who = prng.int(0, n - 1);
          cluster.scheduler.at(prng.int(500, FAULT_WINDOW_MS - 3000), () => {
            const v = cluster.validators[who]!;
            if (!v.up) return;
            v.crash();
            cluster.scheduler.after(prng.int(200, 3000), () => v.boot());
          });
        }
      },
    })),

  // A paused validator keeps its state and later processes everything that arrived meanwhile, late timers included.
  "pause and resume": (n, seed, schemes = fastSchemes, options = {}) =>
    runScenario(n, seed, schemes, options, (prng) => ({
      faults: lossy(prng),
      during: (cluster) => {
        for (let p = 0; p < 4; p++) {
          const v = cluster.validators[prng.int(0, n - 1)]!;
          cluster.scheduler.at(prng.int(0, FAULT_WINDOW_MS - 12_000), () => {
            v.pause();
            cluster.scheduler.after(prng.int(1000, 10_000), () => v.resume());
          });
        }
      },
    })),

  "partition and heal": (n, seed, schemes = fastSchemes, options = {}) =>
    runScenario(n, seed, schemes, options, (prng) => ({
      faults: lossy(prng),
      during: (cluster) => {
        const order = shuffle([...Array(n).keys()], prng);
        const cut = prng.int(1, n - 1);
        const start = prng.int(0, 5000);
        cluster.scheduler.at(start, () => cluster.network.partition([order.slice(0, cut), order.slice(cut)]));
        // The same user asks every validator, on both sides of the partition, at once: one key, whatever happens.
        cluster.scheduler.at(start + 100, () => submitUntilAssigned(cluster, order, "google", "contested"));
        cluster.scheduler.at(prng.int(8000, FAULT_WINDOW_MS), () => cluster.network.heal());
      },
    })),

  "f Byzantine validators double-prevote": (n, seed, schemes = fastSchemes, options = {}) => {
    const bad = byzantineSet(n);
    return runScenario(n, seed, schemes, options, (prng) => {
      const filter: ByzantineFilter = (message, to, cluster) => {
        if (message.type !== "prevote" || to % 2 === 0) return [message];
        return [
          signedVote(cluster, message.validator, {
            type: "prevote",
            height: message.height,
            round: message.round,
            blockHash: prng.chance(0.5) ? null : randomHash(prng),
          }),
        ];
      };
      return { faults: lossy(prng), byzantine: new Map(bad.map((v) => [v, filter])), faulty: bad };
    });
  },

  "f Byzantine validators send conflicting proposals": (n, seed, schemes = fastSchemes, options = {}) => {
    const bad = byzantineSet(n);
    return runScenario(n, seed, schemes, options, (prng) => {
      const filter: ByzantineFilter = (message, to, cluster) => {
        if (message.type !== "proposal" || to % 2 === 0) return [message];
        const block = {
          ...message.block,
          txs: [...message.block.txs].reverse().slice(0, prng.int(0, message.block.txs.length)),
        };
        const unsigned = {
          height: message.height,
          round: message.round,
          validRound: message.validRound,
          blockHash: blockHash(block),
        };
        const signature = cluster.schemes[message.validator]!.sign(proposalSignBytes(cluster.chainId, unsigned));
        return [{ ...message, block, signature }];
      };
      return { faults: lossy(prng), byzantine: new Map(bad.map((v) => [v, filter])), faulty: bad };
    });
  },

  "f Byzantine validators send random precommits": (n, seed, schemes = fastSchemes, options = {}) => {
    const bad = byzantineSet(n);
    return runScenario(n, seed, schemes, options, (prng) => {
      const filter: ByzantineFilter = (message, _to, cluster) => {
        if (message.type !== "prevote" && message.type !== "precommit" && message.type !== "proposal") return [message];
        const extra: ConsensusMessage = signedVote(cluster, message.validator, {
          type: "precommit",
          height: message.height,
          round: message.round + prng.int(0, 1),
          blockHash: randomHash(prng),
        });
        return prng.chance(0.5) ? [extra] : [message, extra];
      };
      return { faults: lossy(prng), byzantine: new Map(bad.map((v) => [v, filter])), faulty: bad };
    });
  },

  "a validator whose disk lost its last record": (n, seed, schemes = fastSchemes, options = {}) =>
    runScenario(n, seed, schemes, options, (prng) => ({
      faults: lossy(prng),
      // It may sign again what it forgot it signed: it counts as faulty, and the others must stay safe.
      faulty: [0],
      during: (cluster) => {
        for (let c = 0; c < 3; c++) {
          cluster.scheduler.at(prng.int(1000, FAULT_WINDOW_MS - 3000), () => {
            const v = cluster.validators[0]!;
            if (!v.up) return;
            v.crash();
            v.disk.loseLastRecord();
            cluster.scheduler.after(prng.int(200, 2000), () => v.boot());
          });
        }
      },
    })),
};

/**
 * A short run (publish keys, assign three users) in which validator 1 crashes at its `write`-th WAL append (a torn
 * frame if `torn`) and restarts. Returns the problems and how many WAL appends validator 1 made in all.
 */
export function crashAtWrite(
  n: number,
  write: number,
  torn: boolean,
  options: ScenarioOptions = {},
): { problems: string[]; writes: number } {
  const prng = new Prng(write);
  const cluster = new BftCluster({ n, prng, schemes: fastSchemes(n), ...options });
  const honest = [...Array(n).keys()];
  const disk = cluster.validators[1]!.disk;
  disk.crashAtWrite = write;
  disk.tearOnCrash = torn;
  cluster.start();
  for (let v = 0; v < n; v++) cluster.validators[v]!.submit(publishTx(cluster.chainId, cluster.schemes, v, 0, 4));
  for (let u = 0; u < 3; u++) {
    cluster.scheduler.at(500 + 700 * u, () => submitUntilAssigned(cluster, [u % n], "google", `user${u}`));
  }
  const done = () => cluster.validators.every((v) => v.up && v.app.assignedKeys === 3);
  const outcome = cluster.scheduler.run({ done, untilTime: 60_000 });
  const problems = outcome === "done" ? [] : [`not every validator assigned the three users (${outcome})`];
  problems.push(...cluster.safetyViolations(honest), ...cluster.doubleSigned);
  return { problems, writes: disk.writes };
}
