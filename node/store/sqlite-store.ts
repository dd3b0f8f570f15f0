/**
 * The embedded engine of the storage interface (kv-store.ts): one SQLite file through `node:sqlite`, built into the
 * Node the project runs on (no server, no native download). One table of BLOB keys and values, clustered by key
 * (WITHOUT ROWID), so a prefix range is one B-tree walk; every statement is prepared once.
 *
 * Durability: WAL journal, and a commit resolves only once its WAL frames are fsynced. synchronous=NORMAL alone
 * would already survive kill -9 (the frames are written to the kernel before the commit returns, and the kernel
 * outlives the process), but not a power loss or an OS crash, which could then roll back commits a client was told
 * about — for the commit–reveal records that would let a node sign a second temporary key for a commitment. FULL
 * fsyncs inside COMMIT, on the event loop (node:sqlite is synchronous), for 0.5–4 ms per commit here. So the engine
 * runs NORMAL and fsyncs the WAL file itself on libuv's thread pool before it resolves the commit (group-sync.ts: one
 * fsync covers every commit written before it started), and every read waits for that fsync too, so that nothing is
 * seen, let alone answered, before it is durable: FULL's guarantee without holding the event loop. `apply` and the
 * `applied` reads are the same statements without that wait, for a writer that serializes its changes and answers
 * only after `durable()` (kv-store.ts, "Pipelined writes"): its changes then share fsyncs instead of each waiting for
 * one before the next can start.
 *
 * The file is created 0600 in a 0700 directory (SQLite gives its -shm file the database file's mode; the -wal file is
 * created here, 0600). Statements run synchronously (node:sqlite has no asynchronous API).
 */
import { mkdir, open, type FileHandle } from "node:fs/promises";
import path from "node:path";

import type * as SqliteModule from "node:sqlite";
import type { DatabaseSync, StatementSync } from "node:sqlite";

import {
  boundsOf,
  checkKey,
  checkLimit,
  checkOps,
  StoreClosedError,
  type KvReader,
  type KvStore,
  type RangeQuery,
  type StoreEntry,
  type StoreOp,
} from "./kv-store.ts";
import { GroupSync } from "./group-sync.ts";
import { settle } from "./settle.ts";

export interface SqliteOptions {
  /**
   * "grouped" (the default): NORMAL plus this engine's fsync of the WAL off the event loop before a commit resolves.
   * "full": SQLite's synchronous=FULL (fsync inside COMMIT). "none": NORMAL alone, which survives a killed process but
   * not a power loss. The last two are for benchmarks.
   */
  durability?: "grouped" | "full" | "none";
  /** How the WAL file is fsynced ("grouped"): its own `sync()` unless a test counts or holds the fsyncs. */
  fsync?: (wal: FileHandle) => Promise<void>;
}

let sqlite: typeof SqliteModule | undefined;

/**
 * Loads node:sqlite without its one-time "SQLite is an experimental feature" warning, which would otherwise land on
 * every node's stderr; any other warning passes through. Exported for tests that read a store's file themselves.
 */
export function loadSqlite(): typeof SqliteModule {
  if (sqlite) return sqlite;
  const own = Object.getOwnPropertyDescriptor(process, "emitWarning")!;
  const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = (warning: string | Error, ...rest: unknown[]) => {
    const type = typeof rest[0] === "string" ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    if (type === "ExperimentalWarning" && String(warning).startsWith("SQLite")) return;
    emitWarning(warning, ...rest);
  };
  try {
    return (sqlite = process.getBuiltinModule("node:sqlite"));
  } finally {
    Object.defineProperty(process, "emitWarning", own);
  }
}

interface Statements {
  get: StatementSync;
  put: StatementSync;
  del: StatementSync;
  /** Indexed by [reverse][bounded above]. */
  range: [[StatementSync, StatementSync], [StatementSync, StatementSync]];
  count: [StatementSync, StatementSync];
}

export class SqliteStore implements KvStore {
  #db: DatabaseSync | undefined;
  readonly #sql: Statements;
  readonly #sync: GroupSync | undefined;

  private constructor(
    readonly file: string,
    db: DatabaseSync,
    /** The WAL file, fsynced by this engine ("grouped" durability). */
    private readonly wal: FileHandle | undefined,
    fsync: (wal: FileHandle) => Promise<void>,
  ) {
    this.#db = db;
    this.#sync = wal && new GroupSync(() => fsync(wal));
    const range = (order: string, upper: string) =>
      db.prepare(`SELECT k, v FROM kv WHERE k >= ?${upper} ORDER BY k ${order} LIMIT ?`);
    this.#sql = {
      get: db.prepare("SELECT v FROM kv WHERE k = ?"),
      put: db.prepare("INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v"),
      del: db.prepare("DELETE FROM kv WHERE k = ?"),
      range: [
        [range("ASC", ""), range("ASC", " AND k < ?")],
        [range("DESC", ""), range("DESC", " AND k < ?")],
      ],
      count: [
        db.prepare("SELECT count(*) AS n FROM kv WHERE k >= ?"),
        db.prepare("SELECT count(*) AS n FROM kv WHERE k >= ? AND k < ?"),
      ],
    };
  }

  /** Opens (or creates, 0600 in a 0700 directory) the store in `file`. */
  static async open(file: string, options: SqliteOptions = {}): Promise<SqliteStore> {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    // Created here with its mode (SQLite would create it with the umask's); an existing file keeps its own.
    await (await open(file, "a", 0o600)).close();
    const durability = options.durability ?? "grouped";
    // SQLite keeps an existing WAL for the life of the connection (it restarts it in place after a checkpoint), so
    // one handle fsyncs it throughout; its directory entry is made durable once, here.
    const wal = durability === "grouped" ? await open(`${file}-wal`, "a", 0o600) : undefined;
    const { DatabaseSync } = loadSqlite();
    let db: DatabaseSync | undefined;
    try {
      if (wal) {
        await wal.sync();
        await syncDirectory(path.dirname(file));
      }
      db = new DatabaseSync(file);
      db.exec("PRAGMA journal_mode = WAL");
      db.exec(`PRAGMA synchronous = ${durability === "full" ? "FULL" : "NORMAL"}`);
      db.exec("CREATE TABLE IF NOT EXISTS kv (k BLOB NOT NULL PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID");
      return new SqliteStore(file, db, wal, options.fsync ?? ((handle) => handle.sync()));
    } catch (error) {
      db?.close();
      await wal?.close();
      throw error;
    }
  }

  /** The same statements as the plain reads, answered without waiting for the fsync (kv-store.ts). */
  readonly applied: KvReader = {
    get: (key) => settle(() => this.#get(key)),
    range: (query) => settle(() => this.#range(query)),
    count: (query) => settle(() => this.#count(query)),
  };

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.#durable(() => this.#get(key));
  }

  range(query: RangeQuery): Promise<StoreEntry[]> {
    return this.#durable(() => this.#range(query));
  }

  count(query: Omit<RangeQuery, "limit" | "reverse">): Promise<number> {
    return this.#durable(() => this.#count(query));
  }

  commit(ops: readonly StoreOp[]): Promise<void> {
    return this.#durable(() => this.#apply(ops));
  }

  apply(ops: readonly StoreOp[]): Promise<void> {
    return settle(() => this.#apply(ops));
  }

  durable(): Promise<void> {
    return this.#sync?.durable() ?? Promise.resolve();
  }

  async close(): Promise<void> {
    if (!this.#db) return;
    const db = this.#db;
    this.#db = undefined;
    // Commits under way still get their fsync; closing checkpoints the WAL into the database and syncs it.
    await this.#sync?.durable().catch(() => undefined);
    db.close();
    await this.wal?.close();
  }

  /**
   * Runs a statement now, and resolves with its result once everything applied so far is durable: a read must not
   * hand out what a power loss could still take back.
   */
  async #durable<T>(run: () => T): Promise<T> {
    const result = await settle(run);
    await this.#sync?.durable();
    return result;
  }

  #get(key: Uint8Array): Uint8Array | undefined {
    this.#open();
    checkKey(key);
    return this.#sql.get.get(key)?.v as Uint8Array | undefined;
  }

  #range(query: RangeQuery): StoreEntry[] {
    this.#open();
    checkLimit(query.limit);
    const { lo, hi } = boundsOf(query);
    const statement = this.#sql.range[query.reverse ? 1 : 0][hi ? 1 : 0];
    const rows = hi ? statement.all(lo, hi, query.limit) : statement.all(lo, query.limit);
    return rows.map((row) => ({ key: row.k as Uint8Array, value: row.v as Uint8Array }));
  }

  #count(query: Omit<RangeQuery, "limit" | "reverse">): number {
    this.#open();
    const { lo, hi } = boundsOf(query);
    const row = hi ? this.#sql.count[1].get(lo, hi) : this.#sql.count[0].get(lo);
    return Number(row!.n);
  }

  /** Writes one batch in one transaction (all or nothing) and marks it for the next fsync. */
  #apply(ops: readonly StoreOp[]): void {
    const db = this.#open();
    checkOps(ops);
    db.exec("BEGIN IMMEDIATE");
    try {
      for (const op of ops) {
        if (op.type === "put") this.#sql.put.run(op.key, op.value);
        else this.#sql.del.run(op.key);
      }
      db.exec("COMMIT");
    } catch (error) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw error;
    }
    this.#sync?.written();
  }

  #open(): DatabaseSync {
    if (!this.#db) throw new StoreClosedError();
    return this.#db;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
