/**
 * The PostgreSQL engine passes the storage contract (test/store/storage-contract.ts) against a real server of this
 * suite's own (scripts/lib/postgres-server.ts), each store in a key space of its own of one database; without
 * PostgreSQL installed the suites on it fail, saying how to get it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import { bindEpochRows, spaceOf } from "../../node/store/postgres-binding.ts";
import { PostgresDatabase } from "../../node/store/postgres-database.ts";
import { PostgresStore } from "../../node/store/postgres-store.ts";
import { PostgresServer, postgresBinDir } from "../../scripts/lib/postgres-server.ts";
import { storageContract } from "./storage-contract.ts";

describe("the PostgreSQL storage engine", function () {
  this.timeout(60_000);
  let server: PostgresServer;
  let db: PostgresDatabase;
  let spaces = 0;
  before(async function () {
    server = await PostgresServer.start();
    db = await PostgresDatabase.open(server.url());
    await bindEpochRows(db, { epoch: 1, attempt: 0 });
  });
  after(async function () {
    await db?.close();
    await server?.stop();
  });

  describe("the storage contract", function () {
    storageContract(async () => new PostgresStore(db, await spaceOf(db, 1, `contract-${spaces++}`)));
  });

  it("fails, saying how to get PostgreSQL, where none is installed (never skips)", async function () {
    const empty = await mkdtemp(path.join(tmpdir(), "no-postgres-"));
    try {
      expect(() => postgresBinDir({}, empty)).to.throw(/PostgreSQL is not installed.*npm run setup/);
      expect(() => postgresBinDir({ PG_BIN_DIR: empty })).to.throw(/PG_BIN_DIR .* has no initdb.*apt-get install/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
