import { expect } from "chai";

import { FairQueue } from "../../node/p2p/fair-queue.ts";

function drain<T>(queue: FairQueue<T>): string[] {
  const order: string[] = [];
  for (let next = queue.take(); next; next = queue.take()) order.push(`${next.peer}:${String(next.item)}`);
  return order;
}

describe("p2p fair queue: per-peer bounded queues taken in turn", function () {
  it("serves the peers round-robin, each peer's items in its order, whatever one peer's backlog", function () {
    const queue = new FairQueue<number>({ maxItems: 1000, maxBytes: 1_000_000 });
    for (let i = 0; i < 500; i++) queue.push("flooder", i, 10);
    queue.push("a", 0, 10);
    queue.push("b", 0, 10);
    queue.push("a", 1, 10);
    const order = drain(queue);
    expect(order.slice(0, 5)).to.deep.equal(["flooder:0", "a:0", "b:0", "flooder:1", "a:1"]);
    expect(order.filter((o) => o.startsWith("flooder:"))).to.deep.equal(
      [...Array(500).keys()].map((i) => `flooder:${i}`),
    );
    expect(queue.size).to.equal(0);
  });

  it("refuses a peer's item over its count or byte bound, and only that peer's", function () {
    const queue = new FairQueue<string>({ maxItems: 3, maxBytes: 100 });
    expect([1, 2, 3, 4].map((i) => queue.push("flooder", `m${i}`, 1))).to.deep.equal([true, true, true, false]);
    expect(queue.push("big", "x", 60)).to.equal(true);
    expect(queue.push("big", "y", 41)).to.equal(false);
    expect(queue.push("big", "z", 40)).to.equal(true);
    expect(queue.push("honest", "h", 100)).to.equal(true);
    expect(queue.waiting("flooder")).to.deep.equal({ items: 3, bytes: 3 });
    expect(queue.waiting("big")).to.deep.equal({ items: 2, bytes: 100 });
    queue.take(); // flooder's first: room for one more of its items
    expect(queue.push("flooder", "m5", 1)).to.equal(true);
  });

  it("forgets a removed peer's items and keeps the others' turns", function () {
    const queue = new FairQueue<number>({ maxItems: 10, maxBytes: 100 });
    for (const peer of ["a", "gone", "b"]) for (const i of [0, 1]) queue.push(peer, i, 1);
    queue.clear("gone");
    expect(drain(queue)).to.deep.equal(["a:0", "b:0", "a:1", "b:1"]);
    expect(queue.waiting("gone")).to.deep.equal({ items: 0, bytes: 0 });
  });

  it("keeps a long backlog in order across the compactions of what was taken", function () {
    const queue = new FairQueue<number>({ maxItems: 100_000, maxBytes: 100_000 });
    for (let i = 0; i < 50_000; i++) queue.push("p", i, 1);
    let taken = 0;
    for (let next = queue.take(); next; next = queue.take()) expect(next.item).to.equal(taken++);
    expect(taken).to.equal(50_000);
  });
});
