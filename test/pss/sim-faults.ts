import { expect } from "chai";

import { envCount } from "../support/prng.ts";
import { PSS_SCENARIOS } from "./scenarios.ts";

// Seeds per scenario: CI runs the defaults, PSS_SEEDS=1000 runs more. A failure names its seed.
const SEEDS = envCount("PSS_SEEDS", 30);
const FIRST_SEED = envCount("PSS_FIRST_SEED", 1);

/** Defines the suite for every other scenario (part 0 or 1), so that mocha's two workers share them. */
export function definePssFaultSuite(part: number): void {
  describe(`handover under faults, part ${part + 1} (${SEEDS} seeds per scenario)`, function () {
    this.timeout(0);
    Object.entries(PSS_SCENARIOS)
      .filter((_, i) => i % 2 === part)
      .forEach(([name, scenario]) => {
        it(`${name}: every new node holds a verified new share of every key`, function () {
          for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
            expect(scenario(seed), `seed=${seed} (PSS_FIRST_SEED=${seed} PSS_SEEDS=1)`).to.deep.equal([]);
          }
        });
      });
  });
}
