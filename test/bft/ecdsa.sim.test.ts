import { expect } from "chai";

import { envCount } from "../support/prng.ts";
import { ecdsaSchemes } from "../sim/ecdsa-schemes.ts";
import { SCENARIOS } from "./scenarios.ts";

// The fault scenarios again, with real ECDSA node signatures instead of the fast keyed hash (fewer seeds: they cost
// about 1.3 ms per verification).
const SEEDS = envCount("BFT_ECDSA_SEEDS", 3);

describe(`BFT simulation with real ECDSA signatures (${SEEDS} seeds per scenario, n = 4)`, function () {
  this.timeout(0);
  for (const [name, scenario] of Object.entries(SCENARIOS)) {
    it(`${name}: safe and live`, function () {
      for (let seed = 1; seed <= SEEDS; seed++) {
        expect(scenario(4, seed, ecdsaSchemes).problems, `seed ${seed}`).to.deep.equal([]);
      }
    });
  }
});
