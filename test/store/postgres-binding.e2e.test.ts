/**
 * The PostgreSQL database's schema versioning and binding (node/store/postgres-schema.ts, postgres-binding.ts) against
 * a real server of this suite's own: a new database is migrated, one of a newer schema is refused unchanged; the
 * database belongs to one deployment and node key; an epoch's rows belong to one transition attempt, an aborted
 * attempt's rows are erased before a retry, and a retired epoch keeps its chain's rows only and is never bound again.
 */
import { expect } from "chai";

import { DataBindingError } from "../../node/store/binding-error.ts";
import { key } from "../../node/store/key-codec.ts";
import {
  bindDatabase,
  bindEpochRows,
  eraseEpochRows,
  retireEpochRows,
  spaceOf,
} from "../../node/store/postgres-binding.ts";
import { PostgresDatabase } from "../../node/store/postgres-database.ts";
import { SCHEMA, SCHEMA_VERSION, SchemaVersionError } from "../../node/store/postgres-schema.ts";
import { PostgresStore } from "../../node/store/postgres-store.ts";
import { PostgresServer } from "../../scripts/lib/postgres-server.ts";
import { refusedWith } from "../support/refusal.ts";
import { TEST_DEPLOYMENT } from "../support/test-deployment.ts";

const identity = TEST_DEPLOYMENT;

describe("the PostgreSQL database's schema and binding", function () {
  this.timeout(60_000);
  let server: PostgresServer;
  const open: PostgresDatabase[] = [];
  let databases = 0;
  /** A new, empty database, migrated by opening it. */
  const fresh = async () => {
    const db = await PostgresDatabase.open(await server.createDatabase(`binding_${databases++}`));
    open.push(db);
    return db;
  };
  before(async function () {
    server = await PostgresServer.start();
  });
  after(async function () {
    await Promise.all(open.map((db) => db.close()));
    await server?.stop();
  });

  it("migrates a new database to the current schema version, and reopens it as is", async function () {
    const db = await fresh();
    const version = async () =>
      (await db.query<{ version: number }>({ text: `SELECT version FROM ${SCHEMA}.schema_version` })).rows;
    expect(await version()).to.deep.equal([{ version: SCHEMA_VERSION }]);
    const again = await PostgresDatabase.open(db.url);
    open.push(again);
    expect(await version()).to.deep.equal([{ version: SCHEMA_VERSION }]);
  });

  it("refuses a database whose schema is newer than this code's, and changes nothing in it", async function () {
    const db = await fresh();
    await bindDatabase(db, identity);
    await db.query({ text: `UPDATE ${SCHEMA}.schema_version SET version = $1`, values: [SCHEMA_VERSION + 1] });
    const error = await refusedWith(PostgresDatabase.open(db.url), SchemaVersionError);
    expect(error.message).to.contain(`version ${SCHEMA_VERSION + 1}, newer than the ${SCHEMA_VERSION}`);
    const { rows } = await db.query({ text: `SELECT version FROM ${SCHEMA}.schema_version` });
    expect(rows).to.deep.equal([{ version: SCHEMA_VERSION + 1 }]);
    expect((await db.query({ text: `SELECT node_address FROM ${SCHEMA}.deployment` })).rows).to.have.length(1);
  });

  it("belongs to one deployment and node key: refuses another's with what differs, and keeps its binding", async function () {
    const db = await fresh();
    expect(await bindDatabase(db, identity)).to.equal("created");
    expect(await bindDatabase(db, { ...identity, nodeList: identity.nodeList.toLowerCase() })).to.equal("matches");
    const otherChain = await refusedWith(
      bindDatabase(db, { ...identity, deploymentBlockHash: "0x" + "cd".repeat(32) }),
      DataBindingError,
    );
    expect(otherChain.code).to.equal("OTHER_DEPLOYMENT");
    expect(otherChain.message).to.contain("deployment block hash").and.not.contain("password");
    const otherNode = await refusedWith(
      bindDatabase(db, { ...identity, nodeAddress: "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF" }),
      DataBindingError,
    );
    expect(otherNode.code).to.equal("OTHER_NODE_KEY");
    expect(await bindDatabase(db, identity)).to.equal("matches");
  });

  it("binds an epoch's rows to its attempt: erases an aborted attempt's, refuses an earlier attempt", async function () {
    const db = await fresh();
    const write = async (epoch: number, name: string) => {
      const store = new PostgresStore(db, await spaceOf(db, epoch, name));
      await store.commit([{ type: "put", key: key(name), value: key(epoch) }]);
      return store;
    };
    const rows = async (epoch: number, name: string) =>
      new PostgresStore(db, await spaceOf(db, epoch, name)).count({ prefix: new Uint8Array() });
    expect(await bindEpochRows(db, { epoch: 2, attempt: 1 })).to.equal("created");
    await write(2, "chain");
    await write(2, "auth");
    expect(await bindEpochRows(db, { epoch: 2, attempt: 1 })).to.equal("matches");
    expect(await rows(2, "chain")).to.equal(1);
    expect(await bindEpochRows(db, { epoch: 2, attempt: 2 })).to.equal("erased");
    expect([await rows(2, "chain"), await rows(2, "auth")]).to.deep.equal([0, 0]);
    const earlier = await refusedWith(bindEpochRows(db, { epoch: 2, attempt: 1 }), DataBindingError);
    expect(earlier.code).to.equal("OTHER_EPOCH");
    expect(await bindEpochRows(db, { epoch: 2, attempt: 2 })).to.equal("matches");
    // An aborted attempt seen by the running node: everything goes, and a retry starts anew.
    await write(2, "chain");
    await eraseEpochRows(db, 2);
    expect(await bindEpochRows(db, { epoch: 2, attempt: 3 })).to.equal("created");
    expect(await rows(2, "chain")).to.equal(0);
  });

  it("keeps a retired epoch's chain rows only, leaves other epochs alone, and never binds it again", async function () {
    const db = await fresh();
    for (const epoch of [1, 2]) {
      await bindEpochRows(db, { epoch, attempt: 0 });
      for (const name of ["chain", "auth"]) {
        const store = new PostgresStore(db, await spaceOf(db, epoch, name));
        await store.commit([{ type: "put", key: key(name), value: key(epoch) }]);
      }
    }
    await retireEpochRows(db, 1);
    const count = async (epoch: number, name: string) =>
      new PostgresStore(db, await spaceOf(db, epoch, name)).count({ prefix: new Uint8Array() });
    expect([await count(1, "chain"), await count(1, "auth")]).to.deep.equal([1, 0]);
    expect([await count(2, "chain"), await count(2, "auth")]).to.deep.equal([1, 1]);
    const retired = await refusedWith(bindEpochRows(db, { epoch: 1, attempt: 0 }), DataBindingError);
    expect(retired.code).to.equal("RETIRED");
    await retireEpochRows(db, 1); // idempotent: a node that crashed midway retires again at its next start
    expect(await count(1, "chain")).to.equal(1);
  });
});
