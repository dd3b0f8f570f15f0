/**
 * A node's PostgreSQL database is bound as its data directory is (deployment-binding.ts, epoch-binding.ts): the row
 * of `deployment` names the chain id, NodeList address, deployment block and its hash, and the node key's address,
 * written by the first start and compared by every later one; each epoch's row names its transition attempt, so that
 * rows of an aborted attempt are erased before a retry uses the epoch, and a retired epoch is never served again. One
 * database thus serves a node across epochs, and never two nodes or two deployments.
 *
 * Rows are grouped in key spaces per epoch and store (`chain`, `auth`); retiring an epoch deletes every space's rows
 * but the chain's (public blocks and app state, kept as a retired epoch directory keeps chain.sqlite).
 */
import type { PoolClient } from "pg";

import { DataBindingError } from "./binding-error.ts";
import { checkBinding, type DeploymentIdentity } from "./deployment-binding.ts";
import type { EpochBinding } from "./epoch-binding.ts";
import type { PostgresDatabase } from "./postgres-database.ts";
import { SCHEMA } from "./postgres-schema.ts";

/** The store whose rows a retired epoch keeps. */
export const KEPT_AFTER_RETIREMENT = "chain";

/** The database's URL without its password, for messages. */
export function describeDatabase(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = "";
    return `the database ${parsed.toString()}`;
  } catch {
    return "the configured database";
  }
}

const remedy = (url: string) =>
  `This node read nothing else in it. Point storage.url at a database of its own for this deployment and key ` +
  `(the database server's operator can create one: createdb), or drop the schema ${SCHEMA} of ${describeDatabase(url)}` +
  ` if its data is no longer wanted.`;

/** Binds the database to this deployment and node key (first start), or refuses it with what differs. */
export async function bindDatabase(db: PostgresDatabase, identity: DeploymentIdentity): Promise<"created" | "matches"> {
  return db.transaction(async (client) => {
    const { rows } = await client.query<{
      chain_id: string;
      node_list: string;
      deployment_block: string;
      deployment_block_hash: string;
      node_address: string;
    }>(`SELECT * FROM ${SCHEMA}.deployment FOR UPDATE`);
    const row = rows[0];
    if (row === undefined) {
      await client.query(
        `INSERT INTO ${SCHEMA}.deployment (chain_id, node_list, deployment_block, deployment_block_hash, node_address) ` +
          `VALUES ($1, $2, $3, $4, $5)`,
        [
          identity.chainId,
          identity.nodeList,
          identity.deploymentBlock,
          identity.deploymentBlockHash,
          identity.nodeAddress,
        ],
      );
      return "created";
    }
    const stored: DeploymentIdentity = {
      chainId: row.chain_id,
      nodeList: row.node_list,
      deploymentBlock: Number(row.deployment_block),
      deploymentBlockHash: row.deployment_block_hash,
      nodeAddress: row.node_address,
    };
    checkBinding(describeDatabase(db.url), stored, identity, remedy(db.url));
    return "matches";
  });
}

/**
 * Makes the database's rows of `binding.epoch` this attempt's: records the epoch when new, accepts it when it
 * matches, erases the rows of an earlier (aborted) attempt, and refuses a later attempt or a retired epoch.
 */
export async function bindEpochRows(
  db: PostgresDatabase,
  binding: EpochBinding,
): Promise<"created" | "matches" | "erased"> {
  const { epoch, attempt } = binding;
  return db.transaction(async (client) => {
    const { rows } = await client.query<{ attempt: number; retired_at: Date | null }>(
      `SELECT attempt, retired_at FROM ${SCHEMA}.epochs WHERE epoch = $1 FOR UPDATE`,
      [epoch],
    );
    const row = rows[0];
    if (row === undefined) {
      await client.query(`INSERT INTO ${SCHEMA}.epochs (epoch, attempt) VALUES ($1, $2)`, [epoch, attempt]);
      return "created";
    }
    if (row.retired_at !== null)
      throw new DataBindingError(
        "RETIRED",
        `epoch ${epoch} retired at ${row.retired_at.toISOString()} in ${describeDatabase(db.url)}: its records are ` +
          `erased and this node never serves that epoch again`,
      );
    if (row.attempt === attempt) return "matches";
    if (row.attempt < attempt) {
      await deleteRows(client, epoch, { all: true });
      await client.query(`UPDATE ${SCHEMA}.epochs SET attempt = $2 WHERE epoch = $1`, [epoch, attempt]);
      return "erased";
    }
    throw new DataBindingError(
      "OTHER_EPOCH",
      `${describeDatabase(db.url)} holds epoch ${epoch} attempt ${row.attempt}, but this node runs epoch ${epoch} ` +
        `attempt ${attempt}. ${remedy(db.url)}`,
    );
  });
}

/** The id of the key space of store `name` of `epoch` (bound first with bindEpochRows), created when new. */
export async function spaceOf(db: PostgresDatabase, epoch: number, name: string): Promise<number> {
  // Synchronous: the rows written under the id must never outlive it (postgres-database.ts replays writes by id).
  return db.transaction(async (client) => {
    const { rows } = await client.query<{ id: number }>(
      `WITH created AS (INSERT INTO ${SCHEMA}.spaces (epoch, name) VALUES ($1, $2) ` +
        `ON CONFLICT (epoch, name) DO NOTHING RETURNING id) ` +
        `SELECT id FROM created UNION ALL SELECT id FROM ${SCHEMA}.spaces WHERE epoch = $1 AND name = $2`,
      [epoch, name],
    );
    return rows[0]!.id;
  });
}

/** The epoch retired: marks it so (never bound again) and deletes every row but its chain's, in one transaction. */
export async function retireEpochRows(db: PostgresDatabase, epoch: number): Promise<void> {
  await db.transaction(async (client) => {
    await client.query(`UPDATE ${SCHEMA}.epochs SET retired_at = coalesce(retired_at, now()) WHERE epoch = $1`, [
      epoch,
    ]);
    await deleteRows(client, epoch, { all: false });
  });
}

/** A successor's transition attempt was aborted: every row of the epoch goes, and the epoch's record with them. */
export async function eraseEpochRows(db: PostgresDatabase, epoch: number): Promise<void> {
  await db.transaction(async (client) => {
    await deleteRows(client, epoch, { all: true });
    await client.query(`DELETE FROM ${SCHEMA}.epochs WHERE epoch = $1`, [epoch]);
  });
}

async function deleteRows(client: PoolClient, epoch: number, { all }: { all: boolean }): Promise<void> {
  const spaces = `SELECT id FROM ${SCHEMA}.spaces WHERE epoch = $1${all ? "" : " AND name <> $2"}`;
  const values = all ? [epoch] : [epoch, KEPT_AFTER_RETIREMENT];
  await client.query(`DELETE FROM ${SCHEMA}.kv WHERE space IN (${spaces})`, values);
  await client.query(`DELETE FROM ${SCHEMA}.spaces WHERE id IN (${spaces})`, values);
}
