import { expect } from "chai";

import { envCount, Prng } from "../support/prng.ts";
import { DkgCluster } from "../sim/dkg-cluster.ts";
import { CALM, type NetworkFaults } from "../sim/network.ts";

const SEEDS = envCount("DKG_RESTART_SEEDS", 8);
const BATCHES = 6;

/**
 * A node crashes in the middle of key generation and stays down until its peers have finished (and retired) every
 * batch it had begun and several more; restarted from its disk, it must finish each of them, the batch it was killed
 * in among them (test/process/network.e2e.test.ts checks the same with real processes and SIGKILL).
 */
function crashUntilPeersMovedOn(seed: number, faults: NetworkFaults): string[] {
  const prng = new Prng(seed);
  const cluster = new DkgCluster({ n: 5, t: 1, prng, batchSize: 1, keyBuffer: 100, faults });
  cluster.start();
  cluster.demand(0);
  const victim = cluster.nodes[prng.int(0, 4)]!;
  const others = cluster.nodes.filter((node) => node !== victim);
  cluster.scheduler.run({ untilTime: prng.int(1, faults === CALM ? 150 : 2000) });
  victim.crash();
  const wanted = [...Array(BATCHES).keys()];
  const othersDone = () => others.every((node) => wanted.every((b) => node.keys.has(b)));
  const first = cluster.scheduler.run({
    untilTime: 600_000,
    done: () => {
      if (!othersDone()) cluster.demand(0); // the key buffer asks for more while assignments drain it
      return othersDone();
    },
  });
  if (first !== "done") return [`the four others did not finish ${BATCHES} batches (${first})`];
  const hadBefore = wanted.filter((b) => victim.keys.has(b));
  victim.boot();
  const second = cluster.scheduler.run({
    untilTime: cluster.scheduler.now + 120_000,
    done: () => wanted.every((b) => victim.keys.has(b)),
  });
  if (second !== "done") {
    const missing = wanted.filter((b) => !victim.keys.has(b));
    return [`node ${victim.index} (had ${hadBefore.join(",")}) never finished batches ${missing.join(",")}`];
  }
  return wanted.flatMap((b) => cluster.check(b, [1, 2, 3, 4, 5]));
}

describe(`key generation: a node restarted after its peers moved on (${SEEDS} seeds each)`, function () {
  this.timeout(0);
  const lossy: NetworkFaults = {
    lossRate: 0.1,
    duplicateRate: 0.05,
    minDelayMs: 1,
    maxDelayMs: 100,
    retransmitMs: 300,
  };
  for (const [name, faults] of [
    ["calm", CALM],
    ["lossy", lossy],
  ] as const) {
    it(`${name} network: it finishes every batch, the one it was killed in too, with shares of the same keys`, function () {
      for (let seed = 1; seed <= SEEDS; seed++) {
        expect(crashUntilPeersMovedOn(seed, faults), `seed ${seed}`).to.deep.equal([]);
      }
    });
  }
});
