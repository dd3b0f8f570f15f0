/**
 * The contract of the storage interface (node/store/kv-store.ts), run against every engine by one test file each
 * (memory-store.test.ts, sqlite-store.test.ts, postgres-store.e2e.test.ts against a real server): reads after commit, atomic
 * batches (one refused midway leaves nothing), ordered range scans with bounds, limits, reverse and paging, delete,
 * count, refused input; pipelined writes: `apply` visible at once to the `applied` reads, all or nothing, made
 * durable by `durable()`, and a chain of read–modify–write changes through them losing none.
 */
import { expect } from "chai";

import { key } from "../../node/store/key-codec.ts";
import {
  keyAfter,
  MAX_KEY_BYTES,
  StoreClosedError,
  StoreInputError,
  type KvStore,
  type StoreOp,
} from "../../node/store/kv-store.ts";
import { Prng } from "../support/prng.ts";
import { rejection } from "../support/refusal.ts";

const bytes = (...values: number[]) => Uint8Array.from(values);
const text = (s: string) => new TextEncoder().encode(s);
const put = (k: Uint8Array, value: Uint8Array = k): StoreOp => ({ type: "put", key: k, value });
const del = (k: Uint8Array): StoreOp => ({ type: "del", key: k });
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** Every key of the store, in order, read in pages of `page`. */
async function allKeys(store: KvStore, page = 3): Promise<string[]> {
  const keys: string[] = [];
  let start: Uint8Array | undefined;
  for (;;) {
    const entries = await store.range({ prefix: new Uint8Array(), start, limit: page });
    keys.push(...entries.map((e) => hex(e.key)));
    if (entries.length < page) return keys;
    start = keyAfter(entries.at(-1)!.key);
  }
}

export function storageContract(open: () => Promise<KvStore>): void {
  let store: KvStore;
  beforeEach(async function () {
    store = await open();
  });
  afterEach(async function () {
    await store.close();
  });

  it("reads what a batch committed, and nothing for a key never written", async function () {
    await store.commit([put(text("a"), text("1")), put(text("b"), text("2"))]);
    expect(await store.get(text("a"))).to.deep.equal(text("1"));
    expect(await store.get(text("b"))).to.deep.equal(text("2"));
    expect(await store.get(text("c"))).to.equal(undefined);
  });

  it("keeps its own copy: changing a written or a read buffer changes nothing stored", async function () {
    const value = text("value");
    await store.commit([put(text("k"), value)]);
    value[0] = 0;
    const read = (await store.get(text("k")))!;
    read[1] = 0;
    expect(await store.get(text("k"))).to.deep.equal(text("value"));
  });

  it("applies a batch in order (the last operation on a key wins) and deletes, also keys never written", async function () {
    await store.commit([put(text("k"), text("1")), put(text("gone"))]);
    await store.commit([put(text("k"), text("2")), del(text("gone")), del(text("never")), put(text("k"), text("3"))]);
    expect(await store.get(text("k"))).to.deep.equal(text("3"));
    expect(await store.get(text("gone"))).to.equal(undefined);
    await store.commit([put(text("x")), del(text("x"))]);
    expect(await store.get(text("x"))).to.equal(undefined);
    expect(await store.count({ prefix: new Uint8Array() })).to.equal(1);
  });

  it("leaves nothing of a batch refused midway: earlier puts, overwrites and deletes are all undone", async function () {
    await store.commit([put(text("kept"), text("old")), put(text("doomed"))]);
    const bad: unknown[] = [
      { type: "put", key: "not bytes", value: text("v") },
      { type: "put", key: new Uint8Array(0), value: text("v") },
      { type: "put", key: new Uint8Array(MAX_KEY_BYTES + 1), value: text("v") },
      { type: "put", key: text("k"), value: "not bytes" },
      { type: "merge", key: text("k") },
      null,
    ];
    for (const op of bad) {
      const batch = [put(text("new")), put(text("kept"), text("new")), del(text("doomed")), op] as StoreOp[];
      const error = await rejection(store.commit(batch));
      expect(error, JSON.stringify(op)).to.be.instanceOf(StoreInputError);
      expect(error.message).to.match(/operation 3/);
    }
    expect(await store.get(text("new"))).to.equal(undefined);
    expect(await store.get(text("kept"))).to.deep.equal(text("old"));
    expect(await store.get(text("doomed"))).to.deep.equal(text("doomed"));
    expect(await rejection(store.commit("no" as unknown as StoreOp[]))).to.be.instanceOf(StoreInputError);
  });

  it("ranges over a prefix in byte order, whatever the order of writing, with 0x00 and 0xff edges", async function () {
    const keys = [
      bytes(1),
      bytes(1, 0),
      bytes(1, 0, 0),
      bytes(1, 1),
      bytes(1, 0xff),
      bytes(1, 0xff, 0xff),
      bytes(2),
      bytes(0xff),
      bytes(0xff, 0),
      bytes(0xff, 0xff),
      bytes(0),
    ];
    const shuffled = [...keys];
    const rng = new Prng(7);
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    for (const k of shuffled) await store.commit([put(k)]);
    const range = async (prefix: Uint8Array, extra: object = {}) =>
      (await store.range({ prefix, limit: 100, ...extra })).map((e) => hex(e.key));
    const sorted = keys.map(hex).sort();
    expect(await range(new Uint8Array())).to.deep.equal(sorted);
    expect(await range(bytes(1))).to.deep.equal(["01", "0100", "010000", "0101", "01ff", "01ffff"]);
    expect(await range(bytes(1, 0xff))).to.deep.equal(["01ff", "01ffff"]);
    expect(await range(bytes(0xff))).to.deep.equal(["ff", "ff00", "ffff"]);
    expect(await range(bytes(3))).to.deep.equal([]);
    // Values come with their keys.
    const [first] = await store.range({ prefix: bytes(1, 1), limit: 1 });
    expect(first).to.deep.equal({ key: bytes(1, 1), value: bytes(1, 1) });
    // Bounds within the prefix: start inclusive, end exclusive.
    expect(await range(bytes(1), { start: bytes(1, 0, 0), end: bytes(1, 0xff) })).to.deep.equal(["010000", "0101"]);
    expect(await range(bytes(1), { start: bytes(0) })).to.have.length(6);
    expect(await range(bytes(1), { end: bytes(9) })).to.have.length(6);
    // Limits and reverse order.
    expect(await range(bytes(1), { limit: 2 })).to.deep.equal(["01", "0100"]);
    expect(await range(bytes(1), { limit: 2, reverse: true })).to.deep.equal(["01ffff", "01ff"]);
    expect(await range(bytes(1), { reverse: true, end: bytes(1, 1) })).to.deep.equal(["010000", "0100", "01"]);
    expect(await range(new Uint8Array(), { reverse: true, limit: 1 })).to.deep.equal(["ffff"]);
    // Paging with keyAfter visits every key once.
    expect(await allKeys(store)).to.deep.equal(sorted);
  });

  it("orders key-codec tuples as tuples: integers by value, strings by bytes, a tuple before its extensions", async function () {
    const tuples = [key("x", 0), key("x", 1), key("x", 255), key("x", 256), key("x", 2 ** 40), key("x", 2 ** 53 - 1)];
    const strings = [key("y", ""), key("y", "", 1), key("y", "a"), key("y", "a", 0), key("y", "a\0"), key("y", "b")];
    for (const k of [...tuples, ...strings].reverse()) await store.commit([put(k)]);
    const read = async (prefix: Uint8Array) => (await store.range({ prefix, limit: 100 })).map((e) => hex(e.key));
    expect(await read(key("x"))).to.deep.equal(tuples.map(hex));
    expect(await read(key("y"))).to.deep.equal(strings.map(hex));
    expect(await read(key("y", "a"))).to.deep.equal([key("y", "a"), key("y", "a", 0)].map(hex));
    expect(() => key("x", -1)).to.throw(StoreInputError);
    expect(() => key("x", 1.5)).to.throw(StoreInputError);
  });

  it("counts the keys under a prefix and within bounds", async function () {
    const ops = Array.from({ length: 50 }, (_, i) => put(key("n", i)));
    await store.commit([...ops, put(key("m", 1)), put(key("o", 1))]);
    expect(await store.count({ prefix: key("n") })).to.equal(50);
    expect(await store.count({ prefix: key("n"), start: key("n", 10), end: key("n", 20) })).to.equal(10);
    expect(await store.count({ prefix: key("q") })).to.equal(0);
    expect(await store.count({ prefix: new Uint8Array() })).to.equal(52);
    await store.commit(Array.from({ length: 25 }, (_, i) => del(key("n", 2 * i))));
    expect(await store.count({ prefix: key("n") })).to.equal(25);
  });

  it("refuses bad reads with a StoreInputError: a limit that is not a positive integer, a key that is not bytes", async function () {
    for (const limit of [0, -1, 1.5, Number.NaN, 100_001])
      expect(await rejection(store.range({ prefix: bytes(1), limit }))).to.be.instanceOf(StoreInputError);
    expect(await rejection(store.get("k" as unknown as Uint8Array))).to.be.instanceOf(StoreInputError);
    expect(await rejection(store.get(new Uint8Array()))).to.be.instanceOf(StoreInputError);
    const prefix = "p" as unknown as Uint8Array;
    expect(await rejection(store.count({ prefix }))).to.be.instanceOf(StoreInputError);
    expect(await rejection(store.range({ prefix: bytes(1), start: new Uint8Array(), limit: 1 }))).to.be.instanceOf(
      StoreInputError,
    );
  });

  it("refuses every operation once closed", async function () {
    await store.commit([put(text("k"))]);
    await store.close();
    expect(await rejection(store.get(text("k")))).to.be.instanceOf(StoreClosedError);
    expect(await rejection(store.commit([put(text("k"))]))).to.be.instanceOf(StoreClosedError);
    expect(await rejection(store.range({ prefix: text("k"), limit: 1 }))).to.be.instanceOf(StoreClosedError);
    expect(await rejection(store.apply([put(text("k"))]))).to.be.instanceOf(StoreClosedError);
    expect(await rejection(store.applied.get(text("k")))).to.be.instanceOf(StoreClosedError);
    expect(await rejection(store.applied.count({ prefix: text("k") }))).to.be.instanceOf(StoreClosedError);
    await store.durable(); // closing made everything applied durable: nothing is left to wait for
    store = await open(); // for afterEach
  });

  it("shows an applied batch to the applied reads at once and to every read once durable() resolved", async function () {
    await store.durable(); // nothing applied yet: resolves all the same
    await store.apply([
      put(text("a"), text("1")),
      put(text("b"), text("2")),
      del(text("a")),
      put(text("a"), text("3")),
    ]);
    expect(await store.applied.get(text("a"))).to.deep.equal(text("3"));
    expect(await store.applied.get(text("c"))).to.equal(undefined);
    const entries = await store.applied.range({ prefix: new Uint8Array(), limit: 10, reverse: true });
    expect(entries.map((e) => hex(e.key))).to.deep.equal([hex(text("b")), hex(text("a"))]);
    expect(await store.applied.count({ prefix: new Uint8Array() })).to.equal(2);
    await store.durable();
    expect(await store.get(text("b"))).to.deep.equal(text("2"));
    expect(await allKeys(store)).to.deep.equal([hex(text("a")), hex(text("b"))]);
  });

  it("applies a batch all or nothing and refuses bad input to apply and to the applied reads, as commit and reads", async function () {
    await store.apply([put(text("kept"), text("old"))]);
    const batch = [put(text("new")), put(text("kept"), text("new")), { type: "merge", key: text("k") }];
    const error = await rejection(store.apply(batch as StoreOp[]));
    expect(error).to.be.instanceOf(StoreInputError);
    expect(error.message).to.match(/operation 2/);
    await store.durable();
    expect(await store.get(text("new"))).to.equal(undefined);
    expect(await store.get(text("kept"))).to.deep.equal(text("old"));
    expect(await rejection(store.applied.get(new Uint8Array()))).to.be.instanceOf(StoreInputError);
    expect(await rejection(store.applied.range({ prefix: bytes(1), limit: 0 }))).to.be.instanceOf(StoreInputError);
    const prefix = "p" as unknown as Uint8Array;
    expect(await rejection(store.applied.count({ prefix }))).to.be.instanceOf(StoreInputError);
  });

  it("loses no change of a chain of read–modify–write changes that each read the last one's applied batch", async function () {
    // What a serialized writer does: read through `applied`, apply, hand on; wait for durability once at the end.
    const counter = key("counter");
    for (let i = 0; i < 50; i++) {
      const before = await store.applied.get(counter);
      const next = (before ? Number(new TextDecoder().decode(before)) : 0) + 1;
      await store.apply([put(counter, text(String(next))), put(key("change", i))]);
    }
    await store.durable();
    expect(await store.get(counter)).to.deep.equal(text("50"));
    expect(await store.count({ prefix: key("change") })).to.equal(50);
  });
}
