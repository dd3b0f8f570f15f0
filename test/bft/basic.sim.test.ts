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

  it("commits the first transaction after an idle hour as fast as any other", function () {
    const n = 5;
    const cluster = new BftCluster({ n, prng: new Prng(2), schemes: fastSchemes(n) });
    cluster.start();
    for (let v = 0; v < n; v++) cluster.validators[v]!.submit(publishTx(cluster.chainId, cluster.schemes, v, 0, 4));
    const latency = (user: string) => {
      const start = cluster.scheduler.now;
      cluster.validators[3]!.submit(assignTx("google", user));
      cluster.scheduler.run({
        done: () => cluster.validators.every((v) => v.app.lookup("google", user)),
        untilTime: start + 60_000,
      });
      return cluster.scheduler.now - start;
    };
    cluster.scheduler.run({ done: () => cluster.validators.every((v) => v.app.publishedKeys === 4) });
    const warm = latency("warm");
    // An hour with nothing to do: no timer is pending, nothing is sent.
    const sent = cluster.network.sent;
    expect(cluster.scheduler.run({ untilTime: cluster.scheduler.now + 3_600_000 })).to.equal("idle");
    expect(cluster.network.sent).to.equal(sent);
    cluster.scheduler.at(cluster.scheduler.now + 3_600_000, () => undefined);
    cluster.scheduler.run({});
    const afterIdle = latency("after-idle");
    expect(afterIdle).to.be.below(100); // simulated ms: a few network hops of 1–5 ms, no timeout
    expect(afterIdle).to.be.at.most(warm * 2 + 10);
  });
});
