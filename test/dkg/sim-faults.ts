import { expect } from "chai";

import { envCount } from "../support/prng.ts";
import { DKG_SCENARIOS } from "./scenarios.ts";

// Seeds per scenario: CI runs the defaults, DKG_SEEDS=1000 runs more. A failure names its seed.
const SEEDS = envCount("DKG_SEEDS", 20);
const SEEDS_N9 = envCount("DKG_SEEDS_N9", 2);
const FIRST_SEED = envCount("DKG_FIRST_SEED", 1);

/** Defines the suite for every other scenario (part 0 or 1), so that mocha's two workers share them. */
export function defineDkgFaultSuite(part: number): void {
  describe(`key generation under faults, part ${part + 1} (${SEEDS} seeds per scenario at n5/t1, ${SEEDS_N9} at n9/t2)`, function () {
    this.timeout(0);
    Object.entries(DKG_SCENARIOS)
      .filter((_, i) => i % 2 === part)
      .forEach(([name, scenario]) => {
        it(`${name}: every honest node ends with a share of the same key`, function () {
          const sizes = [
            [5, 1, SEEDS],
            [9, 2, SEEDS_N9],
          ] as const;
          for (const [n, t, seeds] of sizes) {
            for (let seed = FIRST_SEED; seed < FIRST_SEED + seeds; seed++) {
              expect(scenario(n, t, seed), `n=${n} seed=${seed} (DKG_FIRST_SEED=${seed} DKG_SEEDS=1)`).to.deep.equal(
                [],
              );
            }
          }
        });
      });
  });
}
