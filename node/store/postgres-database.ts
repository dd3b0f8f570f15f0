/**
 * A node's connection to its PostgreSQL database (`storage.kind: "postgres"`): one `pg` pool for every store of
 * every epoch, the schema migrated at open (postgres-schema.ts), and the outage rule.
 *
 * Outages: a statement that fails because the server cannot be reached (refused or dropped connection, a server
 * shutting down or starting up, too many connections) is not an error of the caller's: the database marks itself
 * unavailable with the reason (the node stops serving clients and says why on /healthz), waits, and runs the statement
 * again until the server answers, then marks itself available. The caller's promise is simply late, so nothing above
 * crashes, restarts in a loop or skips a write; a driver that persists before it sends keeps waiting where it was,
 * and so signs nothing twice. Retrying is safe because every statement the stores run is idempotent (an upsert or a
 * delete of given keys, a read): a batch whose COMMIT was sent before the connection broke may have been applied,
 * and applying it again changes nothing, since the callers serialize their writes (kv-store.ts).
 */
import { setTimeout as sleep } from "node:timers/promises";

import pg from "pg";
import type { Logger } from "pino";

import { StoreClosedError } from "./kv-store.ts";
import { migrate } from "./postgres-schema.ts";

/** Node's socket errors that mean the server is out of reach, not that the statement was wrong. */
const SOCKET_ERRORS = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH"]);
/**
 * SQLSTATEs of an unreachable or unwilling server: class 08 (connection exception), 57P01–57P03 (shut down by the
 * administrator, crash shutdown, cannot connect now: starting up) and 53300 (too many connections).
 */
const SERVER_UNAVAILABLE = /^(08...|57P0[123]|53300)$/;
/** What `pg` throws, without a code, when a connection ends under a statement or cannot be had in time. */
const PG_CONNECTION_LOST = /Connection terminated|connection timeout|timeout exceeded when trying to connect/i;

/** Whether an error says the server is out of reach (retry), rather than that the statement failed (throw). */
export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && (SOCKET_ERRORS.has(code) || SERVER_UNAVAILABLE.test(code))) return true;
  // A host with several addresses fails with every attempt's error together.
  if (error instanceof AggregateError) return error.errors.some(isUnavailable);
  return PG_CONNECTION_LOST.test(error.message);
}

export interface PostgresOptions {
  log?: Logger | undefined;
  /** Connections in the pool (default 8: a node's drivers and its API each hold at most one at a time). */
  maxConnections?: number;
  /** Delays between retries during an outage grow to this (default 2 s). */
  maxRetryDelayMs?: number;
}

/** A statement and its parameters; a name makes `pg` prepare it once per connection. */
export interface Statement {
  name?: string;
  text: string;
  values?: unknown[];
}

export class PostgresDatabase {
  readonly #pool: pg.Pool;
  readonly #log: Logger | undefined;
  readonly #maxRetryDelayMs: number;
  #unavailable: { reason: string; since: number } | undefined;
  #closed = false;
  /** Wakes the retry loops when the database closes, so that they give up at once. */
  readonly #closing = new AbortController();

  private constructor(
    readonly url: string,
    options: PostgresOptions,
  ) {
    this.#log = options.log;
    this.#maxRetryDelayMs = options.maxRetryDelayMs ?? 2000;
    this.#pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 8,
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
    });
    // An idle connection the server dropped: the next statement finds out and retries; this only keeps `pg` from
    // turning it into an uncaught error.
    this.#pool.on("error", (error) => this.#markUnavailable(error));
  }

  /**
   * Connects (waiting out an outage as every statement does) and migrates the schema (throws a SchemaVersionError
   * for a schema newer than this code's).
   */
  static async open(url: string, options: PostgresOptions = {}): Promise<PostgresDatabase> {
    const db = new PostgresDatabase(url, options);
    try {
      const { from, to } = await db.#retrying(async () => {
        const client = await db.#pool.connect();
        try {
          return await migrate(client);
        } finally {
          client.release();
        }
      });
      if (from !== to) options.log?.info({ from, to }, "migrated the PostgreSQL schema");
      return db;
    } catch (error) {
      await db.close();
      throw error;
    }
  }

  /** Why the database cannot be reached now, if it cannot: the node serves no client meanwhile. */
  get unavailable(): string | undefined {
    return this.#unavailable?.reason;
  }

  /** Runs one statement, waiting out outages (see the header). */
  query<R extends pg.QueryResultRow>(statement: Statement): Promise<pg.QueryResult<R>> {
    return this.#retrying(() => this.#pool.query<R>(statement));
  }

  /** Runs `work` in one transaction on one connection, all of it again after an outage. */
  transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.#retrying(async () => {
      const client = await this.#pool.connect();
      try {
        await client.query("BEGIN");
        const result = await work(client);
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort();
    await this.#pool.end();
  }

  async #retrying<T>(run: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (this.#closed) throw new StoreClosedError();
      try {
        const result = await run();
        this.#markAvailable();
        return result;
      } catch (error) {
        if (this.#closed) throw new StoreClosedError();
        if (!isUnavailable(error)) throw error;
        this.#markUnavailable(error as Error);
        await this.#pause(Math.min(this.#maxRetryDelayMs, 100 * 2 ** attempt));
      }
    }
  }

  #pause(ms: number): Promise<void> {
    return sleep(ms, undefined, { signal: this.#closing.signal }).catch(() => undefined);
  }

  #markUnavailable(error: Error): void {
    if (this.#closed || this.#unavailable) return;
    const reason = `the PostgreSQL database cannot be reached (${error.message}): waiting for it`;
    this.#unavailable = { reason, since: Date.now() };
    this.#log?.warn({ err: error }, "the PostgreSQL database cannot be reached: serving no client until it can");
    // A probe of its own, so that the database is seen back even when no store has anything to do meanwhile.
    this.query({ text: "SELECT 1" }).catch(() => undefined);
  }

  #markAvailable(): void {
    if (!this.#unavailable) return;
    const seconds = (Date.now() - this.#unavailable.since) / 1000;
    this.#unavailable = undefined;
    this.#log?.info({ seconds }, "the PostgreSQL database is reachable again");
  }
}
