import { expect } from "chai";

import type { ReceiverOutput } from "../../node/pss/receiver.ts";
import { chunkSharingErasure, handoverErasure, type ReceiverRecord } from "../../node/pss/receiver-records.ts";
import { MemoryStore } from "../../node/store/memory-store.ts";
import { RecordStore } from "../../node/store/record-store.ts";
import { PssCluster, thresholds } from "../sim/pss-cluster.ts";
import { Prng } from "../support/prng.ts";

/** The sub-shares a chunk's sharing records hold: the rows and columns this node received from each dealer. */
function subSharesOf(records: ReceiverRecord[], chunk: number): string[] {
  return records.flatMap((record) =>
    record.kind === "sharing" && record.chunk === chunk ? [record.own.rows, record.own.rowBlindings ?? []].flat(2) : [],
  );
}

async function all(store: RecordStore<ReceiverRecord>): Promise<ReceiverRecord[]> {
  const records: ReceiverRecord[] = [];
  for await (const record of store.records()) records.push(record);
  return records;
}

const sends = (outputs: ReceiverOutput[]) => outputs.filter((o) => o.type === "send");

describe("the handover receiver after its records were erased", function () {
  this.timeout(120_000);

  it("a done chunk without its sharings: no sub-share left, restores done, answers no resend for it, confirms the same keys", async function () {
    const cluster = new PssCluster({ old: thresholds(5), next: thresholds(5), prng: new Prng(3), keys: 10 });
    cluster.start();
    cluster.run();
    const node = cluster.newNodes[0]!;
    expect(node.done).to.equal(true);
    const chunks = node.keys.size;
    expect(chunks).to.equal(3); // 10 keys in chunks of 4

    // The node's records in a record store, as the driver keeps them; chunk 0's sharings erased as the driver does.
    const store = await RecordStore.open<ReceiverRecord>(new MemoryStore());
    for (const record of node.disk) await store.append(record);
    const subShares = subSharesOf(node.disk, 0);
    expect(subShares.length).to.be.greaterThan(10);
    expect(await store.compact(chunkSharingErasure(0).select)).to.be.greaterThan(0);
    const erased = await all(store);
    const bytes = JSON.stringify(erased);
    expect(
      subShares.filter((s) => bytes.includes(s)),
      "sub-shares of chunk 0 left",
    ).to.deep.equal([]);
    const others = (records: ReceiverRecord[]) =>
      records.filter((r) => !(r.kind === "sharing" && r.chunk === 0)).map((r) => JSON.stringify(r));
    expect(erased.map((r) => JSON.stringify(r))).to.deep.equal(others(node.disk));

    // A restart from the erased records, with every decision replayed: the node is done again with the same keys,
    // persists nothing, and asks for nothing.
    const keysBefore = JSON.stringify([...node.keys.entries()].sort(([a], [b]) => a - b));
    node.crash();
    node.disk.splice(0, node.disk.length, ...erased);
    node.keys.clear();
    node.done = false;
    node.boot();
    expect(node.done).to.equal(true);
    expect(node.disk).to.have.length(erased.length);
    // A lagging peer's resend request for chunk 0 gets nothing any more; chunk 1 still answers.
    const resend = (chunk: number) =>
      node.core.step({
        type: "message",
        from: { role: "new", index: 2 },
        message: { type: "resend", transition: cluster.transition, chunk },
      });
    expect(sends(resend(0))).to.deep.equal([]);
    expect(sends(resend(1)).length).to.be.greaterThan(0);
    // What it confirms with is what it held before: every chunk's keys (its `keys` records), and the next key index.
    expect(node.nextKeyIndex).to.equal(cluster.nextKeyIndex);
    const keysRecords = erased.flatMap((r) => (r.kind === "keys" ? [[r.chunk, r.keys] as const] : []));
    expect(JSON.stringify(keysRecords.sort(([a], [b]) => a - b))).to.equal(keysBefore);

    // Once the handover completed, every record goes for one `completed` record: a restart restores nothing, starts
    // nothing, confirms nothing, and ignores every input.
    expect(await store.compact(handoverErasure().select, handoverErasure().replace)).to.equal(erased.length);
    const completed = await all(store);
    expect(completed).to.deep.equal([{ kind: "completed" }]);
    node.crash();
    node.disk.splice(0, node.disk.length, ...completed);
    node.done = false;
    node.boot();
    expect(node.core.finished).to.equal(true);
    expect(node.core.done).to.equal(true);
    expect(node.done, "no done output: nothing to confirm again").to.equal(false);
    expect(node.disk).to.deep.equal(completed);
    expect(resend(1)).to.deep.equal([]);
    for (const decision of cluster.log) expect(node.core.step({ type: "decided", decision })).to.deep.equal([]);
  });
});
