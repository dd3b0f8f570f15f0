import { expect } from "chai";

import { Prng } from "../support/prng.ts";
import { DkgCluster } from "../sim/dkg-cluster.ts";

describe("key generation simulation: honest nodes, calm network", function () {
  this.timeout(60_000);
  for (const [n, t] of [
    [5, 1],
    [9, 2],
  ] as const) {
    it(`n${n}/t${t}: every node ends each batch with a share of the same key, and the public key is g^secret`, function () {
      const cluster = new DkgCluster({ n, t, prng: new Prng(n), batchSize: 2, keyBuffer: 100 });
      cluster.start();
      cluster.demand(0);
      const honest = [...Array(n).keys()].map((i) => i + 1);
      const done = () => cluster.nodes.every((node) => node.keys.has(0) && node.keys.has(1));
      expect(cluster.scheduler.run({ done, untilTime: 60_000 })).to.equal("done");
      expect(cluster.check(0, honest)).to.deep.equal([]);
      expect(cluster.check(1, honest)).to.deep.equal([]);
      expect(cluster.nodes.map((node) => node.rejected)).to.deep.equal(Array(n).fill(0));
    });
  }

  it("continues key indexes from a first index (a successor epoch, after the moved keys)", function () {
    const cluster = new DkgCluster({
      n: 5,
      t: 1,
      prng: new Prng(3),
      batchSize: 2,
      keyBuffer: 100,
      firstKeyIndex: 1000,
    });
    cluster.start();
    cluster.demand(0);
    const done = () => cluster.nodes.every((node) => node.keys.has(0) && node.keys.has(1));
    expect(cluster.scheduler.run({ done, untilTime: 60_000 })).to.equal("done");
    const indexes = [0, 1].flatMap((b) => cluster.nodes[0]!.keys.get(b)!.map((k) => k.keyIndex));
    expect(indexes).to.deep.equal(Array.from({ length: 12 }, (_, i) => 1000 + i));
    expect(cluster.check(0, [1, 2, 3, 4, 5])).to.deep.equal([]);
  });
});
