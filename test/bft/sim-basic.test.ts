import { expect } from "chai";

import { Prng } from "../support/prng.ts";
import { BftCluster } from "../sim/bft-cluster.ts";
import { fastSchemes } from "../sim/fast-signer.ts";
import { assignTx, publishTx } from "./helpers.ts";

describe("BFT simulation: calm network", function () {
  for (const n of [4, 5, 7]) {
    it(`n=${n}: publishes keys, assigns them and agrees on every block and app hash`, function () {
      const cluster = new BftCluster({ n, prng: new Prng(1), schemes: fastSchemes(n) });
      cluster.start();
      for (let v = 0; v < n; v++) cluster.validators[v]!.submit(publishTx(cluster.chainId, cluster.schemes, v, 0, 10));
      cluster.scheduler.run({
        done: () => cluster.validators.every((v) => v.app.publishedKeys === 10),
        untilTime: 60_000,
      });
      expect(cluster.validators.map((v) => v.app.publishedKeys)).to.deep.equal(Array(n).fill(10));
      for (let u = 0; u < 8; u++) cluster.validators[u % n]!.submit(assignTx("google", `user${u}@example.com`));
      cluster.scheduler.run({
        done: () => cluster.validators.every((v) => v.app.assignedKeys === 8),
        untilTime: 120_000,
      });
      expect(cluster.validators.map((v) => v.app.assignedKeys)).to.deep.equal(Array(n).fill(8));
      expect(cluster.safetyViolations([...Array(n).keys()])).to.deep.equal([]);
      const lookups = cluster.validators.map((v) => v.app.lookup("google", "user3@example.com"));
      expect(new Set(lookups.map((l) => JSON.stringify(l))).size).to.equal(1);
      // Idle: with no work left, the network goes quiet (no empty-block churn).
      const sent = cluster.network.sent;
      const outcome = cluster.scheduler.run({ untilTime: cluster.scheduler.now + 60_000 });
      expect(outcome).to.equal("idle");
      expect(cluster.network.sent).to.equal(sent);
    });
  }
});
