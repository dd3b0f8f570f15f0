/**
 * The embedded engine of the storage interface (kv-store.ts): one SQLite file through `node:sqlite`, built into the
 * Node the project runs on (no server, no native download). One table of BLOB keys and values, clustered by key
 * (WITHOUT ROWID), so a prefix range is one B-tree walk; every statement is prepared once.
 *
 * Durability: WAL journal with synchronous=FULL, so a commit returns only after its WAL frames are fsynced. NORMAL
 * would already survive kill -9 (the frames are written to the kernel before the commit returns, and the kernel
 * outlives the process), but not a power loss or an OS crash, which could then roll back commits a client was told
 * about — for the commit–reveal records that would let a node sign a second temporary key for a commitment, so the
 * engine pays an fsync per batch, as the append-only logs' `sync: true` does. Callers batch what belongs together.
 *
 * The file is created 0600 in a 0700 directory (SQLite gives its -wal and -shm files the database file's mode). The
 * calls are synchronous underneath (node:sqlite has no asynchronous API): each runs to completion on the event loop.
 */
import { mkdir, open } from "node:fs/promises";
import path from "node:path";

import type * as SqliteModule from "node:sqlite";
import type { DatabaseSync, StatementSync } from "node:sqlite";

import {
  boundsOf,
  checkKey,
  checkLimit,
  checkOps,
  StoreClosedError,
  type KvStore,
  type RangeQuery,
  type StoreEntry,
  type StoreOp,
} from "./kv-store.ts";
import { settle } from "./settle.ts";

export interface SqliteOptions {
  /** FULL (the default) fsyncs every commit; NORMAL survives a killed process but not a power loss (benchmarks). */
  synchronous?: "FULL" | "NORMAL";
}

let sqlite: typeof SqliteModule | undefined;

/**
 * Loads node:sqlite without its one-time "SQLite is an experimental feature" warning, which would otherwise land on
 * every node's stderr; any other warning passes through.
 */
function loadSqlite(): typeof SqliteModule {
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

  private constructor(
    readonly file: string,
    db: DatabaseSync,
  ) {
    this.#db = db;
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
    const { DatabaseSync } = loadSqlite();
    const db = new DatabaseSync(file);
    try {
      db.exec("PRAGMA journal_mode = WAL");
      db.exec(`PRAGMA synchronous = ${options.synchronous === "NORMAL" ? "NORMAL" : "FULL"}`);
      db.exec("CREATE TABLE IF NOT EXISTS kv (k BLOB NOT NULL PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID");
      return new SqliteStore(file, db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return settle(() => {
      this.#open();
      checkKey(key);
      return this.#sql.get.get(key)?.v as Uint8Array | undefined;
    });
  }

  commit(ops: readonly StoreOp[]): Promise<void> {
    return settle(() => {
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
    });
  }

  range(query: RangeQuery): Promise<StoreEntry[]> {
    return settle(() => {
      this.#open();
      checkLimit(query.limit);
      const { lo, hi } = boundsOf(query);
      const statement = this.#sql.range[query.reverse ? 1 : 0][hi ? 1 : 0];
      const rows = hi ? statement.all(lo, hi, query.limit) : statement.all(lo, query.limit);
      return rows.map((row) => ({ key: row.k as Uint8Array, value: row.v as Uint8Array }));
    });
  }

  count(query: Omit<RangeQuery, "limit" | "reverse">): Promise<number> {
    return settle(() => {
      this.#open();
      const { lo, hi } = boundsOf(query);
      const row = hi ? this.#sql.count[1].get(lo, hi) : this.#sql.count[0].get(lo);
      return Number(row!.n);
    });
  }

  close(): Promise<void> {
    return settle(() => {
      this.#db?.close();
      this.#db = undefined;
    });
  }

  #open(): DatabaseSync {
    if (!this.#db) throw new StoreClosedError();
    return this.#db;
  }
}
