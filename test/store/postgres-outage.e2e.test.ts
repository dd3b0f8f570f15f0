/**
 * A PostgreSQL outage under the engine (node/store/postgres-database.ts): while the server is stopped, a commit and a
 * read wait rather than fail, the database says why it is unavailable, and once the server is back both complete,
 * nothing is lost and the reason is gone. Bad input is still refused at once, outage or not. A server that crashes
 * before it flushed writes committed asynchronously gets them again, before anything reads from it. The server is
 * this suite's own (it stops and crashes it; its WAL writer waits 10 s, so that a crash loses unflushed commits).
 */
import { setTimeout as sleep } from "node:timers/promises";

import { expect } from "chai";

import { key } from "../../node/store/key-codec.ts";
import { StoreInputError } from "../../node/store/kv-store.ts";
import { bindEpochRows, spaceOf } from "../../node/store/postgres-binding.ts";
import { PostgresDatabase } from "../../node/store/postgres-database.ts";
import { PostgresStore } from "../../node/store/postgres-store.ts";
import { PostgresServer } from "../../scripts/lib/postgres-server.ts";
import { refusedWith } from "../support/refusal.ts";
import { tracked } from "../support/held-fsync.ts";

describe("the PostgreSQL engine through an outage of its server", function () {
  this.timeout(60_000);
  let server: PostgresServer;
  let db: PostgresDatabase;
  before(async function () {
    server = await PostgresServer.start({ settings: { wal_writer_delay: "10s" } });
    db = await PostgresDatabase.open(server.url(), { maxRetryDelayMs: 200 });
    await bindEpochRows(db, { epoch: 1, attempt: 0 });
  });
  after(async function () {
    await db?.close();
    await server?.stop();
  });

  it("waits out a stopped server: says why, then completes the commit and the read once it is back", async function () {
    const store = new PostgresStore(db, await spaceOf(db, 1, "chain"));
    await store.commit([{ type: "put", key: key("before"), value: key(1) }]);
    expect(db.unavailable).to.equal(undefined);
    await server.halt();
    const committed = tracked(store.commit([{ type: "put", key: key("during"), value: key(2) }]));
    const read = tracked(store.get(key("before")));
    while (db.unavailable === undefined) await sleep(20);
    expect(db.unavailable).to.match(/cannot be reached/);
    expect(await refusedWith(store.get(new Uint8Array()), StoreInputError)).to.be.instanceOf(StoreInputError);
    await sleep(500);
    expect([committed.settled, read.settled]).to.deep.equal([false, false]);
    await server.resume();
    while (!committed.settled || !read.settled) await sleep(20);
    expect([committed.error, read.error]).to.deep.equal([undefined, undefined]);
    expect(await store.get(key("during"))).to.deep.equal(key(2));
    expect(await store.get(key("before"))).to.deep.equal(key(1));
    expect(db.unavailable).to.equal(undefined);
  });

  it("survives a server stopped under a checked-out connection, and runs the transaction again once it is back", async function () {
    let runs = 0;
    let halted!: () => void;
    const whenHalted = new Promise<void>((resolve) => (halted = resolve));
    const transaction = db.transaction(async (client) => {
      if (++runs === 1) await whenHalted; // the server goes away between two statements of the transaction
      await client.query("SELECT 1");
      return runs;
    });
    const state = tracked(transaction);
    await sleep(100);
    await server.halt();
    halted();
    await sleep(300);
    expect(state.settled).to.equal(false);
    await server.resume();
    expect(await transaction).to.equal(2);
  });

  it("waits at open for a server that is not up yet, and sees it back without any store asking", async function () {
    await server.halt();
    const second = PostgresDatabase.open(server.url(), { maxRetryDelayMs: 200 });
    const opening = tracked(second);
    await sleep(500);
    expect(opening.settled).to.equal(false);
    // The first database's idle connections were cut: it noticed with no statement of its own.
    expect(db.unavailable).to.match(/cannot be reached/);
    await server.resume();
    while (!opening.settled) await sleep(20);
    expect(opening.error).to.equal(undefined);
    await (await second).close();
    // Its probe sees the server back.
    const deadline = Date.now() + 10_000;
    while (db.unavailable !== undefined && Date.now() < deadline) await sleep(50);
    expect(db.unavailable).to.equal(undefined);
  });

  it("writes again, before any read, what a crashed server lost of the writes not yet flushed", async function () {
    // Connections closed as soon as they are idle: none notices the crash, so nothing reconnects before the check.
    const writer = await PostgresDatabase.open(server.url(), { idleTimeoutMs: 1 });
    const store = new PostgresStore(writer, await spaceOf(writer, 1, "crash"));
    await store.commit([{ type: "put", key: key("flushed"), value: key(1) }]);
    await store.apply([{ type: "put", key: key("unflushed"), value: key(2) }]);
    await store.apply([{ type: "del", key: key("flushed") }]);
    expect(await store.applied.get(key("unflushed"))).to.deep.equal(key(2));
    await sleep(100);
    await server.crash();
    await server.resume();
    // The server lost them: a process that wrote nothing sees the state before the two applied batches.
    const other = await PostgresDatabase.open(server.url());
    try {
      const seen = new PostgresStore(other, store.space);
      expect(await seen.get(key("unflushed"))).to.equal(undefined);
      expect(await seen.get(key("flushed"))).to.deep.equal(key(1));
      // The writer's next statement finds the restarted server and replays its unflushed writes first.
      expect(await store.applied.get(key("unflushed"))).to.deep.equal(key(2));
      await store.durable();
      expect(await seen.get(key("unflushed"))).to.deep.equal(key(2));
      expect(await seen.get(key("flushed"))).to.equal(undefined);
    } finally {
      await other.close();
      await writer.close();
    }
  });
});
