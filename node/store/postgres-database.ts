/**
 * A node's connection to its PostgreSQL database (`storage.kind: "postgres"`): one `pg` pool for every store of
 * every epoch, the schema migrated at open (postgres-schema.ts), group commit, and the outage rule.
 *
 * Group commit. A serialized writer (the commit–reveal store, the BFT driver) waits for each of its changes to be
 * applied, and answers only after `durable()` (kv-store.ts, "Pipelined writes"). Were every write a synchronous commit,
 * each change would wait for its own WAL flush (5 ms and more on a busy disk; 155 logins a second in bench:scale).
 * So writes commit with `synchronous_commit = off` — applied and visible at once, flushed by the server's WAL writer
 * within a fraction of a second — and `durable()` commits one small transaction synchronously: a synchronous commit
 * flushes the WAL up to its own record (and waits for synchronous standbys if the operator has them), so it covers
 * every write committed before it. One flush serves every write made before it started (group-sync.ts).
 *
 * A server that crashes before that flush may lose such writes, which the process has read back already. So the
 * database keeps every write statement since the last flush, and each new connection first compares the server's
 * start time with the one it knew: a server that restarted gets those statements again, in their order, in one
 * synchronous transaction, before any other statement runs on it. Replaying is safe because every write is an upsert
 * or a delete of given keys, and the list holds every write of this process since the last flush, in order (another
 * process never writes this node's rows: the database is bound to one node key). A clean restart lost nothing, and the
 * replay rewrites the same values.
 *
 * Outages: a statement that fails because the server cannot be reached (refused or dropped connection, a server
 * shutting down or starting up, too many connections) is not an error of the caller's: the database marks itself
 * unavailable with the reason (the node stops serving clients and says why on /healthz), waits, and runs the statement
 * again until the server answers, then marks itself available. The caller's promise is simply late, so nothing above
 * crashes, restarts in a loop or skips a write; a driver that persists before it sends keeps waiting where it was,
 * and so signs nothing twice. Running a write again is safe for the reason replaying is.
 */
import { setTimeout as sleep } from "node:timers/promises";

import pg from "pg";
import type { Logger } from "pino";

import { GroupSync } from "./group-sync.ts";
import { StoreClosedError } from "./kv-store.ts";
import { migrate, SCHEMA } from "./postgres-schema.ts";

/** Node's socket errors that mean the server is out of reach, not that the statement was wrong. */
const SOCKET_ERRORS = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH"]);
/**
 * SQLSTATEs of an unreachable or unwilling server: class 08 (connection exception), 57P01–57P03 (shut down by the
 * administrator, crash shutdown, cannot connect now: starting up) and 53300 (too many connections).
 */
const SERVER_UNAVAILABLE = /^(08...|57P0[123]|53300)$/;
/**
 * What `pg` throws, without a code, when a connection ends under a statement, cannot be had in time, or ended before
 * the statement was sent ("Client has encountered a connection error and is not queryable").
 */
const PG_CONNECTION_LOST =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|encountered a connection error|Client was closed/i;

/**
 * The synchronous commit that makes every earlier write durable (one round trip: the simple protocol). It must write:
 * PostgreSQL flushes nothing at the commit of a transaction that wrote no WAL, whatever synchronous_commit says.
 */
const FLUSH = `BEGIN; SET LOCAL synchronous_commit = on; UPDATE ${SCHEMA}.flushes SET count = count + 1; COMMIT`;
/** How long `close` waits for the last flush when the server is out of reach. */
const CLOSE_FLUSH_MS = 5000;

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
  /** How long an idle connection stays open (default 30 s). */
  idleTimeoutMs?: number;
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
  readonly #sync = new GroupSync(() => this.#flush());
  /** Write statements committed and not yet known to be flushed, in order, numbered (see the header). */
  #unflushed: { seq: number; statement: Statement }[] = [];
  #writes = 0;
  /** The server's start time (ms) this process wrote to; undefined until the first connection. */
  #incarnation: number | undefined;
  /** Connections whose server's start time was checked. */
  readonly #checked = new WeakSet<pg.PoolClient>();
  #replaying: Promise<void> | undefined;

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
      idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
      keepAlive: true,
      options: "-c synchronous_commit=off",
    });
    // An idle connection the server dropped: the next statement finds out and retries; this only keeps `pg` from
    // turning it into an uncaught error.
    this.#pool.on("error", (error) => this.#markUnavailable(error));
    // The pool listens for errors of idle connections only: one the server ends while it is checked out (a shutdown
    // between two statements, or while a statement runs) would otherwise be an uncaught 'error' event, and end the
    // process. The statement under way fails, and is retried.
    this.#pool.on("connect", (client) => client.on("error", (error) => this.#markUnavailable(error)));
  }

  /**
   * Connects (waiting out an outage as every statement does) and migrates the schema (throws a SchemaVersionError
   * for a schema newer than this code's).
   */
  static async open(url: string, options: PostgresOptions = {}): Promise<PostgresDatabase> {
    const db = new PostgresDatabase(url, options);
    try {
      const { from, to } = await db.#retrying((client) => migrate(client));
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

  /** Runs one statement (a read, or a write that need not be durable yet), waiting out outages. */
  query<R extends pg.QueryResultRow>(statement: Statement): Promise<pg.QueryResult<R>> {
    return this.#retrying((client) => client.query<R>(statement));
  }

  /**
   * Commits one idempotent write (an upsert or delete of given keys) without waiting for its flush: visible to every
   * statement once it resolves, durable once a later `durable()` resolved.
   */
  async write(statement: Statement): Promise<void> {
    await this.query(statement);
    this.#unflushed.push({ seq: ++this.#writes, statement });
    this.#sync.written();
  }

  /** Resolves once every write committed before the call is durable. */
  durable(): Promise<void> {
    return this.#sync.durable();
  }

  /** Runs `work` in one synchronous transaction on one connection, all of it again after an outage. */
  transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.#retrying(async (client) => {
      await client.query("BEGIN; SET LOCAL synchronous_commit = on");
      try {
        const result = await work(client);
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw error;
      }
    });
  }

  /** Makes the writes durable (waiting at most CLOSE_FLUSH_MS for an unreachable server), then disconnects. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await Promise.race([this.durable().catch(() => undefined), sleep(CLOSE_FLUSH_MS, undefined, { ref: false })]);
    this.#closed = true;
    this.#closing.abort();
    await this.#pool.end();
  }

  async #flush(): Promise<void> {
    const covered = this.#writes;
    await this.#retrying((client) => client.query(FLUSH));
    this.#forget(covered);
  }

  /** Writes up to number `seq` are durable. */
  #forget(seq: number): void {
    const kept = this.#unflushed.findIndex((write) => write.seq > seq);
    this.#unflushed = kept === -1 ? [] : this.#unflushed.slice(kept);
  }

  /** Runs `run` on a connection of the pool, checked against a restarted server; again after an outage. */
  async #retrying<T>(run: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (this.#closed) throw new StoreClosedError();
      let client: pg.PoolClient | undefined;
      try {
        client = await this.#pool.connect();
        if (!this.#checked.has(client)) await this.#checkServer(client);
        const result = await run(client);
        client.release();
        this.#markAvailable();
        return result;
      } catch (error) {
        client?.release(isUnavailable(error));
        if (this.#closed) throw new StoreClosedError();
        if (!isUnavailable(error)) throw error;
        this.#markUnavailable(error as Error);
        await sleep(Math.min(this.#maxRetryDelayMs, 100 * 2 ** attempt), undefined, {
          signal: this.#closing.signal,
        }).catch(() => undefined);
      }
    }
  }

  /** A new connection: if the server restarted since this process wrote to it, the unflushed writes go again first. */
  async #checkServer(client: pg.PoolClient): Promise<void> {
    const { rows } = await client.query<{ started: Date }>("SELECT pg_postmaster_start_time() AS started");
    const started = rows[0]!.started.getTime();
    if (this.#incarnation !== undefined && this.#incarnation !== started) {
      // One replay at a time: another connection to the restarted server waits for it, then finds nothing to do.
      while (this.#replaying) await this.#replaying;
      if (this.#incarnation !== started) {
        this.#replaying = this.#replay(client, started);
        try {
          await this.#replaying;
        } finally {
          this.#replaying = undefined;
        }
      }
    }
    this.#incarnation ??= started;
    this.#checked.add(client);
  }

  async #replay(client: pg.PoolClient, started: number): Promise<void> {
    const writes = [...this.#unflushed];
    if (writes.length > 0) {
      await client.query("BEGIN; SET LOCAL synchronous_commit = on");
      try {
        for (const { statement } of writes) await client.query(statement);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw error;
      }
      this.#log?.warn(
        { writes: writes.length },
        "the PostgreSQL server restarted: wrote again what it may have lost of the writes not yet flushed",
      );
    }
    if (writes.length > 0) this.#forget(writes.at(-1)!.seq);
    this.#incarnation = started;
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
