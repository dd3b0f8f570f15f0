import { expect } from "chai";

import { PssCluster, thresholds } from "../sim/pss-cluster.ts";
import { Prng } from "../support/prng.ts";

describe("handover simulation: honest nodes, calm network", function () {
  this.timeout(300_000);
  for (const [nOld, nNew] of [
    [5, 5],
    [5, 7],
    [7, 5],
    [9, 5],
  ] as const) {
    it(`n${nOld} → n${nNew}: every new node holds a new share of every key, the public keys are unchanged`, function () {
      const cluster = new PssCluster({ old: thresholds(nOld), next: thresholds(nNew), prng: new Prng(1), keys: 10 });
      cluster.start();
      cluster.run();
      const honest = cluster.newNodes.map((n) => n.index);
      expect(cluster.check(honest)).to.deep.equal([]);
      expect(cluster.newNodes.every((n) => n.done && n.rejected === 0)).to.equal(true);
    });
  }
});
