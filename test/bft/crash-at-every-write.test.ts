import { expect } from "chai";

import { crashAtWrite } from "./scenarios.ts";

describe("BFT: a validator crashed at every WAL write in turn", function () {
  this.timeout(0);
  for (const n of [4, 5]) {
    it(`n=${n}: restarts from its WAL, never signs two values for one slot, and the cluster stays safe and live`, function () {
      const reference = crashAtWrite(n, Infinity, false);
      expect(reference.problems).to.deep.equal([]);
      expect(reference.writes).to.be.greaterThan(20);
      for (let write = 1; write <= reference.writes; write++) {
        const torn = write % 2 === 0;
        const { problems } = crashAtWrite(n, write, torn);
        expect(problems, `crash at write ${write}${torn ? " (torn)" : ""}`).to.deep.equal([]);
      }
    });
  }
});
