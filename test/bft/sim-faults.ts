import { expect } from "chai";

import { envCount } from "../support/prng.ts";
import { SCENARIOS } from "./scenarios.ts";

// Seeds per scenario and n; CI runs the defaults, BFT_SEEDS=1000 runs more. A failure names its seed.
const SEEDS = envCount("BFT_SEEDS", 100);
const SEEDS_N9 = envCount("BFT_SEEDS_N9", 5);
const FIRST_SEED = envCount("BFT_FIRST_SEED", 1);

/** Defines the fault suite for every other scenario (part 0 or 1), so that mocha's two workers share them. */
export function defineFaultSuite(part: number): void {
  describe(`BFT simulation under faults, part ${part + 1} (${SEEDS} seeds per scenario for n = 4, 5, 7; ${SEEDS_N9} for n = 9)`, function () {
    this.timeout(0);
    Object.entries(SCENARIOS)
      .filter((_, i) => i % 2 === part)
      .forEach(([name, scenario]) => {
        it(`${name}: safe, live, one key per user`, function () {
          const sizes = [
            [4, SEEDS],
            [5, SEEDS],
            [7, SEEDS],
            [9, SEEDS_N9],
          ] as const;
          for (const [n, seeds] of sizes) {
            for (let seed = FIRST_SEED; seed < FIRST_SEED + seeds; seed++) {
              const { problems } = scenario(n, seed);
              expect(problems, `n=${n} seed=${seed} (BFT_FIRST_SEED=${seed} BFT_SEEDS=1)`).to.deep.equal([]);
            }
          }
        });
      });
  });
}
