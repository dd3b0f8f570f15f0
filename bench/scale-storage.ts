/**
 * How `npm run bench:scale` and its restarted child (scale.ts, scale-child.ts) open one node's epoch storage on either
 * engine, as a node does: the data directory's deployment binding, with PostgreSQL the database's too, then
 * EpochStorage.open over that database (the public stores in it, the secrets in local files).
 */
import type { Logger } from "pino";

import { EpochStorage } from "../node/runtime/epoch-storage.ts";
import { bindDataDir, type DeploymentIdentity } from "../node/store/deployment-binding.ts";
import { bindDatabase } from "../node/store/postgres-binding.ts";
import { PostgresDatabase } from "../node/store/postgres-database.ts";
import { SCHEMA } from "../node/store/postgres-schema.ts";

export type Engine = "embedded" | "postgres";
export const ENGINES: readonly Engine[] = ["embedded", "postgres"];

export interface BenchStorage {
  storage: EpochStorage;
  /** Closes the storage, then the database. */
  close(): Promise<void>;
}

export async function openBenchStorage(options: {
  dataDir: string;
  /** The database of the public stores (engine "postgres"), or none (embedded files). */
  databaseUrl: string | undefined;
  epoch: number;
  deployment: DeploymentIdentity;
  log: Logger;
}): Promise<BenchStorage> {
  const { dataDir, databaseUrl, epoch, deployment, log } = options;
  await bindDataDir(dataDir, deployment);
  const database = databaseUrl === undefined ? undefined : await PostgresDatabase.open(databaseUrl, { log });
  try {
    if (database) await bindDatabase(database, deployment);
    const storage = await EpochStorage.open(
      dataDir,
      { epoch, attempt: 0, successor: false, deployment },
      log,
      database,
    );
    return {
      storage,
      close: async () => {
        await storage.close();
        await database?.close();
      },
    };
  } catch (error) {
    await database?.close();
    throw error;
  }
}

/** The bytes the database's rows take on disk: the table, its TOAST table and its index. */
export async function databaseBytes(url: string): Promise<number> {
  const database = await PostgresDatabase.open(url);
  try {
    const { rows } = await database.query<{ bytes: string }>({
      text: `SELECT pg_total_relation_size('${SCHEMA}.kv') AS bytes`,
    });
    return Number(rows[0]!.bytes);
  } finally {
    await database.close();
  }
}
