/**
 * The PostgreSQL engine passes the storage contract (test/store/storage-contract.ts) against a real server of this
 * suite's own (test/support/postgres.ts), each store in a key space of its own of one database.
 */
import { PostgresDatabase } from "../../node/store/postgres-database.ts";
import { bindEpochRows, spaceOf } from "../../node/store/postgres-binding.ts";
import { PostgresStore } from "../../node/store/postgres-store.ts";
import { PostgresServer } from "../../scripts/lib/postgres-server.ts";
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
});
