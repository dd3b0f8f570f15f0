/**
 * The fault scenarios and the crash at every WAL write again, with every validator's core in `deferFinalize` mode: the
 * simulated runtime answers each `finalize` after a delay (applies the block, then steps `finalized`), so inputs queue
 * in the cores meanwhile, crashes land between a decision and its finalization, and restarts replay WALs that decide.
 * The same safety, liveness and one-key-per-user checks as in inline mode must hold.
 */
import { expect } from "chai";

import type { FinalizeDelays } from "../sim/bft-cluster.ts";
import { envCount } from "../support/prng.ts";
import { SCENARIOS, crashAtWrite } from "./scenarios.ts";

// Seeds per scenario and n; BFT_DEFERRED_SEEDS=200 runs more. A failure names its seed.
const SEEDS = envCount("BFT_DEFERRED_SEEDS", 20);
const FIRST_SEED = envCount("BFT_FIRST_SEED", 1);

const STORES: Record<string, FinalizeDelays> = {
  // Milliseconds as a rule, now and then most of a second.
  "a store answering in milliseconds": { maxDelayMs: 30, slowRate: 0.05, slowDelayMs: 800 },
  // Often seconds: long queues in the cores, and their caps reached under the Byzantine floods.
  "a stalling store": { maxDelayMs: 200, slowRate: 0.2, slowDelayMs: 3000 },
};

describe(`BFT simulation with deferred FinalizeBlock (${SEEDS} seeds per scenario for n = 4, 5)`, function () {
  this.timeout(0);
  for (const [store, deferFinalize] of Object.entries(STORES)) {
    describe(store, function () {
      for (const [name, scenario] of Object.entries(SCENARIOS)) {
        it(`${name}: safe, live, one key per user`, function () {
          let queued = 0;
          let restoresThatDecided = 0;
          for (const n of [4, 5]) {
            for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
              const { problems, cluster } = scenario(n, seed, undefined, { deferFinalize });
              expect(problems, `n=${n} seed=${seed} (BFT_FIRST_SEED=${seed} BFT_DEFERRED_SEEDS=1)`).to.deep.equal([]);
              // Decisions went through the simulated runtime (it answered finalize outputs).
              expect(
                cluster.validators.some((v) => v.finalized > 0),
                `n=${n} seed=${seed}`,
              ).to.equal(true);
              queued += cluster.queuedWhileFinalizing;
              restoresThatDecided += cluster.finalizesOnRestore;
            }
          }
          // The runs did exercise the deferral: inputs waited for finalizes, and restarts replayed to a decision.
          expect(queued).to.be.greaterThan(0);
          if (name === "crash and restart") expect(restoresThatDecided).to.be.greaterThan(0);
        });
      }
    });
  }

  for (const n of [4, 5]) {
    it(`n=${n}: a validator crashed at every WAL write in turn restarts safely and the cluster stays live`, function () {
      const options = { deferFinalize: STORES["a store answering in milliseconds"]! };
      const reference = crashAtWrite(n, Infinity, false, options);
      expect(reference.problems).to.deep.equal([]);
      for (let write = 1; write <= reference.writes; write++) {
        const torn = write % 2 === 0;
        const { problems } = crashAtWrite(n, write, torn, options);
        expect(problems, `crash at write ${write}${torn ? " (torn)" : ""}`).to.deep.equal([]);
      }
    });
  }
});
