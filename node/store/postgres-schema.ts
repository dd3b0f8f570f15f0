/**
 * The PostgreSQL engine's schema and its versioned migrations. A start runs, in one transaction under an advisory
 * lock (two processes starting on one database migrate once), every migration the database lacks, and refuses a
 * database whose version is newer than this code knows: an older binary must not write rows whose meaning a newer
 * one changed. A migration is never edited once released; a change of schema is a new entry at the end.
 *
 * Everything lives in the schema `torus_node` of the configured database, so that it can share a database with
 * other applications of the operator.
 *
 * - `schema_version`: one row, the version of the last migration applied.
 * - `deployment`: one row, the deployment and node key the database belongs to (postgres-binding.ts).
 * - `epochs`: each epoch's transition attempt (0 for a genesis epoch) and whether it retired.
 * - `spaces`: one key space per store of an epoch (`chain`, `auth`), the unit a KvStore sees.
 * - `kv`: every store's entries, keyed (space, k); bytea compares bytewise (memcmp, then length), whatever the
 *   database's collation, which is the order kv-store.ts asks for.
 * - `flushes`: one row, counting the synchronous commits that make the asynchronous writes durable
 *   (postgres-database.ts).
 */
import type { PoolClient } from "pg";

export const SCHEMA = "torus_node";

/** The migrations in order; migration i brings the schema to version i + 1. */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE ${SCHEMA}.deployment (
     only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
     chain_id text NOT NULL,
     node_list text NOT NULL,
     deployment_block bigint NOT NULL,
     deployment_block_hash text NOT NULL,
     node_address text NOT NULL
   );
   CREATE TABLE ${SCHEMA}.epochs (
     epoch integer PRIMARY KEY,
     attempt integer NOT NULL,
     retired_at timestamptz
   );
   CREATE TABLE ${SCHEMA}.spaces (
     id serial PRIMARY KEY,
     epoch integer NOT NULL REFERENCES ${SCHEMA}.epochs (epoch),
     name text NOT NULL,
     UNIQUE (epoch, name)
   );
   CREATE TABLE ${SCHEMA}.kv (
     space integer NOT NULL REFERENCES ${SCHEMA}.spaces (id),
     k bytea NOT NULL,
     v bytea NOT NULL,
     PRIMARY KEY (space, k)
   );
   CREATE TABLE ${SCHEMA}.flushes (
     only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
     count bigint NOT NULL
   );
   INSERT INTO ${SCHEMA}.flushes (count) VALUES (0);`,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Any 64-bit number of our own: the advisory lock that serializes migrations. */
const MIGRATION_LOCK = 0x746f7275_73;

export class SchemaVersionError extends Error {
  override readonly name = "SchemaVersionError";
  readonly code = "SCHEMA_TOO_NEW";
}

/**
 * Brings the database's schema to SCHEMA_VERSION; returns the version found (0 for a new database) and the one left.
 * Throws a SchemaVersionError, changing nothing, for a schema newer than this code's.
 */
export async function migrate(
  client: PoolClient,
  migrations: readonly string[] = MIGRATIONS,
): Promise<{ from: number; to: number }> {
  // Synchronous whatever the connection's default (postgres-database.ts commits writes asynchronously).
  await client.query("BEGIN; SET LOCAL synchronous_commit = on");
  try {
    await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${SCHEMA}.schema_version (version integer NOT NULL)`);
    const rows = (await client.query<{ version: number }>(`SELECT version FROM ${SCHEMA}.schema_version`)).rows;
    const from = rows[0]?.version ?? 0;
    if (from > migrations.length)
      throw new SchemaVersionError(
        `the database's schema ${SCHEMA} is at version ${from}, newer than the ${migrations.length} this node ` +
          `knows: it was written by a newer release. Run that release (or a newer one), or point storage.url at ` +
          `another database.`,
      );
    for (let version = from; version < migrations.length; version++) await client.query(migrations[version]!);
    if (rows.length === 0) await client.query(`INSERT INTO ${SCHEMA}.schema_version VALUES ($1)`, [migrations.length]);
    else await client.query(`UPDATE ${SCHEMA}.schema_version SET version = $1`, [Math.max(from, migrations.length)]);
    await client.query("COMMIT");
    return { from, to: migrations.length };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}
