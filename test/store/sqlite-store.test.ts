/**
 * The embedded engine (node:sqlite) passes the storage contract (test/store/storage-contract.ts), keeps what it
 * committed across a reopen (and across a kill -9 of a real child process right after it acknowledged a commit:
 * kill-9.e2e.test.ts), and creates its files 0600 in a 0700 directory. Its pipelined writes resolve `apply` before any
 * fsync, and `durable()`, `commit` and the plain reads only after an fsync that started after the writes they cover.
 */
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import { key } from "../../node/store/key-codec.ts";
import { SqliteStore } from "../../node/store/sqlite-store.ts";
import { HeldFsync, tick, tracked } from "../support/held-fsync.ts";
import { storageContract } from "./storage-contract.ts";

describe("the embedded storage engine (node:sqlite)", function () {
  let dir: string;
  let files = 0;
  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "sqlite-store-"));
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  describe("the storage contract", function () {
    storageContract(() => SqliteStore.open(path.join(dir, `contract-${files++}.sqlite`)));
  });

  it("keeps committed data across a close and a reopen", async function () {
    const file = path.join(dir, "reopen", "store.sqlite");
    const first = await SqliteStore.open(file);
    await first.commit(Array.from({ length: 100 }, (_, i) => ({ type: "put", key: key("r", i), value: key(i) })));
    await first.commit([{ type: "del", key: key("r", 7) }]);
    await first.close();
    const second = await SqliteStore.open(file);
    expect(await second.count({ prefix: key("r") })).to.equal(99);
    expect(await second.get(key("r", 99))).to.deep.equal(key(99));
    expect(await second.get(key("r", 7))).to.equal(undefined);
    await second.close();
  });

  it("resolves apply before any fsync, and durable(), commit and reads only after an fsync that began after the writes", async function () {
    const held = new HeldFsync();
    const store = await SqliteStore.open(path.join(dir, "pipelined", "store.sqlite"), { fsync: held.fsync });
    const put = (name: string) => ({ type: "put" as const, key: key(name), value: key(name) });
    await store.apply([put("a")]);
    expect(await store.applied.get(key("a"))).to.deep.equal(key("a"));
    expect(held.fsyncs).to.have.length(0);
    const durable = tracked(store.durable());
    const read = tracked(store.get(key("a")));
    const committed = tracked(store.commit([put("b")])); // written before the fsync starts: covered by it
    await tick();
    expect(held.fsyncs).to.have.length(1);
    // Applied while that fsync runs: not covered by it, so what waits for it waits for the next fsync.
    await store.apply([put("c")]);
    const afterC = tracked(store.durable());
    const readOfC = tracked(store.count({ prefix: key("c") }));
    expect([durable.settled, read.settled, committed.settled, afterC.settled]).to.deep.equal([
      false,
      false,
      false,
      false,
    ]);
    held.release();
    while (!durable.settled) await tick();
    expect([read.settled, committed.settled, afterC.settled, readOfC.settled]).to.deep.equal([
      true,
      true,
      false,
      false,
    ]);
    expect(held.fsyncs).to.have.length(2); // the next one started once the first returned, for c
    held.release();
    while (!afterC.settled) await tick();
    expect(readOfC.settled).to.equal(true);
    expect([durable, read, committed, afterC, readOfC].map((p) => p.error)).to.deep.equal(Array(5).fill(undefined));
    await store.close();
  });

  it("creates its database, WAL and shared-memory files 0600 in a 0700 directory", async function () {
    const sub = path.join(dir, "modes");
    const store = await SqliteStore.open(path.join(sub, "store.sqlite"));
    await store.commit([{ type: "put", key: key("k"), value: key("v") }]);
    const names = (await readdir(sub)).sort();
    expect(names).to.deep.equal(["store.sqlite", "store.sqlite-shm", "store.sqlite-wal"]);
    for (const name of names) expect((await stat(path.join(sub, name))).mode & 0o777, name).to.equal(0o600);
    expect((await stat(sub)).mode & 0o777).to.equal(0o700);
    await store.close();
  });
});
