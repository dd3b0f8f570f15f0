/**
 * What one epoch keeps on disk, in `<dataDir>/epoch-<e>/`: the directory's binding to the epoch and transition attempt
 * (node/store/epoch-binding.ts), the key store (`keys.sqlite`), the chain store (`chain.sqlite`: decided blocks, the committed head,
 * the BFT write-ahead log of the current height and the app state at the head: node/store/chain-store.ts and
 * app-state-store.ts), the records of the key generation (`keygen.sqlite`) and, in a successor epoch, of the handover
 * receiver (`pss.sqlite`), each a record store (node/store/record-store.ts) in a file of its own that zeroes what it
 * deletes, the commit–reveal records (`auth.sqlite`) and the handover dealer's seed. Owns their opening, what they
 * held at start (for recovery), their erasure (node/store/retired-epoch.ts says what a retired epoch keeps) and their
 * closing.
 *
 * With a PostgreSQL database (`storage.kind: "postgres"`), the public stores — the chain store and the commit–reveal
 * records — are key spaces of the database instead of `chain.sqlite` and `auth.sqlite`, bound to the epoch and attempt
 * there too (node/store/postgres-binding.ts); the secrets (key shares, key-generation and handover records, the
 * dealing seed) stay in this directory's files, erased by deleting them, never as rows a replica or a backup keeps.
 *
 * Must never interpret a record: the drivers restore from the record stores (read page by page at their start), and
 * decide what to append and what to compact.
 */
import { open, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";

import type { Logger } from "pino";

import { CommitmentStore } from "../auth/commitments.ts";
import type { AppState } from "../app/app-state.ts";
import type { WalRecord } from "../bft/consensus.ts";
import { systemRng } from "../crypto/field.ts";
import type { KeygenRecord } from "../dkg/keygen.ts";
import type { ReceiverRecord } from "../pss/receiver-records.ts";
import { AppStateQueries, loadAppState } from "../store/app-state-store.ts";
import { ChainStore, type ChainHead } from "../store/chain-store.ts";
import type { DeploymentIdentity } from "../store/deployment-binding.ts";
import { bindEpochDir, type EpochBinding } from "../store/epoch-binding.ts";
import { PRIVATE_FILE_MODE } from "../store/file-modes.ts";
import { KeyStore } from "../store/key-store.ts";
import { RecordStore } from "../store/record-store.ts";
import type { KvStore } from "../store/kv-store.ts";
import { bindEpochRows, eraseEpochRows, retireEpochRows, spaceOf } from "../store/postgres-binding.ts";
import type { PostgresDatabase } from "../store/postgres-database.ts";
import { PostgresStore } from "../store/postgres-store.ts";
import { retireEpochDir } from "../store/retired-epoch.ts";
import { SqliteStore } from "../store/sqlite-store.ts";

/** What the stores held when the node started. */
export interface OnDisk {
  /** The last committed block's height and hashes. */
  head: ChainHead;
  /** The app state at the head (its scalars and bounded tables; the rest is read per block). */
  appState: AppState;
  /** The BFT write-ahead log of the height after the head. */
  wal: WalRecord[];
}

/** The chain store's file: public (blocks, votes, the app state), kept when the epoch retires. */
export const CHAIN_FILE = "chain.sqlite";
/** The key generation's records (secret: dealings, received rows and columns, shares until stored). */
export const KEYGEN_FILE = "keygen.sqlite";
/** A successor epoch's handover receiver records (secret: received sub-shares, new shares). */
export const PSS_FILE = "pss.sqlite";

/**
 * A record store of secrets in a file of its own: SQLite zeroes what a compaction deletes and its WAL is truncated
 * after, so that erased records leave the file's bytes (sqlite-store.ts, `secureDelete`).
 */
async function openSecretRecords<T>(file: string): Promise<RecordStore<T>> {
  const kv = await SqliteStore.open(file, { secureDelete: true });
  return RecordStore.open<T>(kv, { afterCompaction: () => kv.truncateWal() }).catch(async (error: unknown) => {
    await kv.close();
    throw error;
  });
}

export class EpochStorage {
  private constructor(
    readonly dir: string,
    readonly binding: EpochBinding & { deployment: DeploymentIdentity },
    /** This node's shares (`keys.sqlite`): one row per key, read by point lookup, never loaded at open. */
    readonly keyStore: KeyStore,
    /** Blocks, the committed head, the WAL and the app state (`chain.sqlite`). */
    readonly chain: ChainStore,
    /** Reads of the committed app state, for queries. */
    readonly appQueries: AppStateQueries,
    /** The key generation's records (`keygen.sqlite`), compacted as batches finish (KeygenDriver). */
    readonly keygen: RecordStore<KeygenRecord>,
    /** The commit–reveal records' store (`auth.sqlite` or the database): read per request, never loaded at open. */
    readonly auth: KvStore,
    readonly commitments: CommitmentStore,
    /** The handover receiver's records (`pss.sqlite`): a successor epoch's only. */
    readonly pss: RecordStore<ReceiverRecord> | undefined,
    readonly onDisk: OnDisk,
    /** The database of the public stores, if they are not files here. */
    private readonly database: PostgresDatabase | undefined,
  ) {}

  #closed: Promise<void> | undefined;

  static dirOf(dataDir: string, epoch: number): string {
    return path.join(dataDir, `epoch-${epoch}`);
  }

  /**
   * Binds and opens the epoch's directory (and its rows of `database`, bound to it already); data of an earlier,
   * aborted attempt is erased first (this node was down when the attempt ended).
   */
  static async open(
    dataDir: string,
    binding: { epoch: number; attempt: number; successor: boolean; deployment: DeploymentIdentity },
    log: Logger,
    database?: PostgresDatabase,
  ): Promise<EpochStorage> {
    const dir = EpochStorage.dirOf(dataDir, binding.epoch);
    if ((await bindEpochDir(dir, { epoch: binding.epoch, attempt: binding.attempt })) === "erased")
      log.warn(
        { epoch: binding.epoch, attempt: binding.successor ? binding.attempt : undefined },
        "erased the data of an earlier, aborted transition attempt (this node was down when it ended)",
      );
    // Shares were once lowdb files under keys/ (no released version wrote them): refused rather than ignored.
    const oldKeys = path.join(dir, "keys");
    if (await stat(oldKeys).catch(() => undefined))
      throw new Error(
        `${oldKeys} holds key shares in an earlier version's files, which this version does not read (it keeps ` +
          `them in keys.sqlite). Move ${dir} away (mv ${dir} ${dir}.old) to start this epoch's directory anew.`,
      );
    if (database && (await bindEpochRows(database, binding)) === "erased")
      log.warn(
        { epoch: binding.epoch, attempt: binding.attempt },
        "erased the database rows of an earlier, aborted transition attempt",
      );
    const publicStore = async (name: "chain" | "auth", file: string): Promise<KvStore> =>
      database
        ? new PostgresStore(database, await spaceOf(database, binding.epoch, name))
        : SqliteStore.open(path.join(dir, file));
    const keyStore = await KeyStore.open(path.join(dir, "keys.sqlite"));
    const auth = await publicStore("auth", "auth.sqlite");
    const commitments = await CommitmentStore.open(auth, () => Date.now());
    const chainKv = await publicStore("chain", CHAIN_FILE);
    const chain = await ChainStore.open(chainKv);
    const head = await chain.head();
    const appState = await loadAppState(chainKv);
    const wal = await chain.walAt(head.height + 1);
    const keygen = await openSecretRecords<KeygenRecord>(path.join(dir, KEYGEN_FILE));
    const pss = binding.successor ? await openSecretRecords<ReceiverRecord>(path.join(dir, PSS_FILE)) : undefined;
    const onDisk = { head, appState, wal };
    const { epoch, attempt, deployment } = binding;
    return new EpochStorage(
      dir,
      { epoch, attempt, deployment },
      keyStore,
      chain,
      new AppStateQueries(chainKv),
      keygen,
      auth,
      commitments,
      pss,
      onDisk,
      database,
    );
  }

  /**
   * The seed of this node's deterministic handover dealing: random, fsynced before the first dealt message leaves (a
   * restarted dealer deals the same polynomials), and erased with the shares when the epoch ends — derived from the
   * long-lived node key instead, it would let a later thief of that key recompute the dealings.
   */
  async dealerSeed(): Promise<Uint8Array> {
    const file = path.join(this.dir, "pss-dealer.seed");
    const existing = await readFile(file).catch(() => undefined);
    if (existing?.length === 32) return new Uint8Array(existing);
    const seed = systemRng(32);
    const handle = await open(file, "w", PRIVATE_FILE_MODE);
    try {
      await handle.writeFile(seed);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return seed;
  }

  /**
   * The epoch retired (the handover out of it completed on-chain): its stores are closed, then its directory keeps
   * nothing but the RETIRED marker and the public block store — no key share, key-generation record, handover record,
   * dealing seed, WAL or commit–reveal record. Call once nothing appends any more (the node's executor stopped).
   */
  async retire(): Promise<string[]> {
    await this.close();
    // The database first: a crash before the directory's marker retires both again at the next start.
    if (this.database) await retireEpochRows(this.database, this.binding.epoch);
    return retireEpochDir(this.dir, { ...this.binding, retiredAt: new Date().toISOString() });
  }

  /** A successor's transition attempt was aborted: everything it received goes (call after `close`). */
  async eraseAll(): Promise<void> {
    if (this.database) await eraseEpochRows(this.database, this.binding.epoch);
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Closes every store (once: a retired epoch's storage is closed before the node stops). */
  close(): Promise<void> {
    this.#closed ??= Promise.all([
      this.chain.close(),
      this.keyStore.close(),
      this.keygen.close(),
      this.auth.close(),
      this.pss?.close(),
    ]).then(() => undefined);
    return this.#closed;
  }
}
