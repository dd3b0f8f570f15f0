import { expect } from "chai";

import { batchErasure, type KeygenRecord } from "../../node/dkg/keygen.ts";
import { MemoryStore } from "../../node/store/memory-store.ts";
import { RecordStore } from "../../node/store/record-store.ts";
import { DkgCluster } from "../sim/dkg-cluster.ts";
import { Prng } from "../support/prng.ts";

/** Every scalar of the batch's secret records: the dealing's coefficients and the rows and columns received. */
function secretsOf(records: KeygenRecord[], batch: number): string[] {
  return records.flatMap((record) => {
    if (record.kind === "dealing" && record.batch === batch) return [record.f, record.fb].flat(3);
    if (record.kind === "sharing" && record.batch === batch)
      return [record.own.rows, record.own.rowBlindings ?? []].flat(2);
    if (record.kind === "keys" && record.batch === batch) return record.keys.map((k) => k.share);
    return [];
  });
}

/** Every record of the store, oldest first. */
async function all(store: RecordStore<KeygenRecord>): Promise<KeygenRecord[]> {
  const records: KeygenRecord[] = [];
  for await (const record of store.records()) records.push(record);
  return records;
}

/** Erases the batch's records from the store as the key-generation driver does. */
async function erase(store: RecordStore<KeygenRecord>, batch: number): Promise<void> {
  const { select, replace } = batchErasure(batch);
  await store.compact(select, replace);
}

describe("key generation after a finished batch's records were erased", function () {
  this.timeout(60_000);

  it("keeps no scalar of the batch, restores without dealing it again or answering for it, and goes on generating", async function () {
    const cluster = new DkgCluster({ n: 5, t: 1, prng: new Prng(7), batchSize: 1, keyBuffer: 6 });
    cluster.start();
    cluster.demand(0); // two batches of three keys
    const finished = (batches: number[]) => () => cluster.nodes.every((n) => batches.every((b) => n.keys.has(b)));
    expect(cluster.scheduler.run({ untilTime: 60_000, done: finished([0, 1]) })).to.equal("done");

    const node = cluster.nodes[0]!;
    const secrets = secretsOf(node.disk, 0);
    expect(secrets.length).to.be.greaterThan(10);
    // The node's records in a record store, as the driver keeps them; batch 0 erased as the driver erases it.
    const store = await RecordStore.open<KeygenRecord>(new MemoryStore());
    for (const record of node.disk) await store.append(record);
    await erase(store, 0);
    const erased = await all(store);
    const bytes = JSON.stringify(erased);
    expect(
      secrets.filter((s) => bytes.includes(s)),
      "scalars of batch 0 left",
    ).to.deep.equal([]);
    expect(secretsOf(erased, 1)).to.deep.equal(secretsOf(node.disk, 1)); // batch 1 keeps its records
    expect(erased.filter((r) => r.kind === "erased")).to.deep.equal([{ kind: "erased", batch: 0 }]);
    // Erasing batch 1 too leaves one erased record, for the highest batch (on a copy: batch 1 stays for the restart).
    const copy = await RecordStore.open<KeygenRecord>(new MemoryStore());
    for (const record of erased) await copy.append(record);
    await erase(copy, 1);
    expect(await all(copy)).to.deep.equal([{ kind: "erased", batch: 1 }]);

    // A restart from the erased log, with every decision replayed: nothing of batch 0 is dealt, persisted or sent.
    node.crash();
    node.disk.splice(0, node.disk.length, ...erased);
    node.keys.clear();
    node.boot();
    expect(node.disk).to.have.length(erased.length);
    expect(node.core.nextBatch).to.equal(2);
    const resend = node.core.step({ type: "message", from: 2, message: { type: "resend", epoch: 1, batch: 0 } });
    expect(resend.filter((o) => o.type === "send")).to.deep.equal([]);
    expect(resend.filter((o) => o.type === "rejected")).to.have.length(1);

    // The next batches are 2 and 3 on every node, this one among them, and they are sound.
    cluster.demand(0);
    expect(cluster.scheduler.run({ untilTime: 120_000, done: finished([2, 3]) })).to.equal("done");
    for (const batch of [2, 3]) expect(cluster.check(batch, [1, 2, 3, 4, 5]), `batch ${batch}`).to.deep.equal([]);
    expect(node.keys.has(0)).to.equal(false);
  });
});
