/**
 * What one epoch keeps on disk, in `<dataDir>/epoch-<e>/`: the directory's binding to the epoch and transition attempt
 * (node/store/epoch-binding.ts), the key store (`keys.sqlite`), the chain store (`chain.sqlite`: decided blocks, the
 * committed head, the BFT write-ahead log of the current height and the app state at the head: node/store/chain-store.ts
 * and app-state-store.ts), the append-only logs of the key generation and, in a successor epoch, of the handover
 * receiver, the commit–reveal records (`auth.sqlite`) and the handover dealer's seed. Owns their opening, what they held at start (for recovery), their erasure
 * (node/store/retired-epoch.ts says what a retired epoch keeps) and their closing.
 *
 * Must never interpret a record: the drivers restore from what it read, and decide what to append.
 */
import { open, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";

import type { Logger } from "pino";

import { CommitmentStore } from "../auth/commitments.ts";
import type { AppState } from "../app/app-state.ts";
import type { WalRecord } from "../bft/consensus.ts";
import { systemRng } from "../crypto/field.ts";
import type { KeygenRecord } from "../dkg/keygen.ts";
import type { ReceiverRecord } from "../pss/receiver.ts";
import { AppendLog } from "../store/append-log.ts";
import { AppStateQueries, loadAppState } from "../store/app-state-store.ts";
import { ChainStore, type ChainHead } from "../store/chain-store.ts";
import type { DeploymentIdentity } from "../store/deployment-binding.ts";
import { bindEpochDir, type EpochBinding } from "../store/epoch-binding.ts";
import { PRIVATE_FILE_MODE } from "../store/file-modes.ts";
import { KeyStore } from "../store/key-store.ts";
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
  keygen: KeygenRecord[];
  pss: ReceiverRecord[];
}

/** The chain store's file: public (blocks, votes, the app state), kept when the epoch retires. */
export const CHAIN_FILE = "chain.sqlite";

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
    readonly keygen: AppendLog<KeygenRecord>,
    /** The commit–reveal records' store (`auth.sqlite`): read per request, never loaded at open. */
    readonly auth: SqliteStore,
    readonly commitments: CommitmentStore,
    /** The handover receiver's log: a successor epoch's only. */
    readonly pss: AppendLog<ReceiverRecord> | undefined,
    readonly onDisk: OnDisk,
  ) {}

  #closed: Promise<void> | undefined;

  static dirOf(dataDir: string, epoch: number): string {
    return path.join(dataDir, `epoch-${epoch}`);
  }

  /**
   * Binds and opens the epoch's directory; data of an earlier, aborted attempt is erased first (this node was down when
   * the attempt ended).
   */
  static async open(
    dataDir: string,
    binding: { epoch: number; attempt: number; successor: boolean; deployment: DeploymentIdentity },
    log: Logger,
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
    const keyStore = await KeyStore.open(path.join(dir, "keys.sqlite"));
    const auth = await SqliteStore.open(path.join(dir, "auth.sqlite"));
    const commitments = await CommitmentStore.open(auth, () => Date.now());
    const chainKv = await SqliteStore.open(path.join(dir, CHAIN_FILE));
    const chain = await ChainStore.open(chainKv);
    const head = await chain.head();
    const appState = await loadAppState(chainKv);
    const wal = await chain.walAt(head.height + 1);
    const keygen = await AppendLog.open<KeygenRecord>(path.join(dir, "keygen.log"));
    const pss = binding.successor ? await AppendLog.open<ReceiverRecord>(path.join(dir, "pss.log")) : undefined;
    const onDisk = { head, appState, wal, keygen: keygen.records, pss: pss?.records ?? [] };
    const { epoch, attempt, deployment } = binding;
    return new EpochStorage(
      dir,
      { epoch, attempt, deployment },
      keyStore,
      chain,
      new AppStateQueries(chainKv),
      keygen.log,
      auth,
      commitments,
      pss?.log,
      onDisk,
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
   * The epoch retired (the handover out of it completed on-chain): its logs are closed, then its directory keeps
   * nothing but the RETIRED marker and the public block store — no key share, key-generation record, handover record,
   * dealing seed, WAL or commit–reveal record. Call once nothing appends any more (the node's executor stopped).
   */
  async retire(): Promise<string[]> {
    await this.close();
    return retireEpochDir(this.dir, { ...this.binding, retiredAt: new Date().toISOString() });
  }

  /** A successor's transition attempt was aborted: everything it received goes (call after `close`). */
  async eraseAll(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Closes every log and store (once: a retired epoch's storage is closed before the node stops). */
  close(): Promise<void> {
    this.#closed ??= Promise.all([
      this.chain.close(),
      this.keygen.close(),
      this.auth.close(),
      this.keyStore.close(),
      this.pss?.close(),
    ]).then(() => undefined);
    return this.#closed;
  }
}
