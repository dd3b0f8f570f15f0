/**
 * Every table and scalar of the key-mapping app's state, in memory or backed by a store, and the read set of a
 * block: the rows its transactions touch, which the runtime loads from the store before the app executes it.
 *
 * Tables (name: key → value):
 * - "k": key index → its public key and owner; "u": user (verifier, verifierId) → key index; "p": public key → key
 *   index (written here, read by queries only); "f": the free queue (free-keys.ts);
 * - "d": key-generation batch → its dealer decision; "r": handover chunk → its reshare decision;
 * - held whole in memory, bounded: "c" (installed moved chunks), "v" (open quorum votes, capped per validator), and
 *   the scalars (state-table.ts's "s": counts, phase, freeze votes, app hash).
 *
 * Owns: which rows a transaction reads (`readsOf`), and the changes of a block (`takeChanges`).
 * Must never: read a store; the runtime loads, this only says what.
 */
import type { DealerDecision } from "../dkg/types.ts";
import type { ReshareDecision } from "../pss/types.ts";
import { FreeKeys } from "./free-keys.ts";
import { StateScalar, StateTable, type StateChange, type TableKey, type TableMode } from "./state-table.ts";
import type { AppTx, PublicKeyHex } from "./transactions.ts";

export interface Owner {
  verifier: string;
  verifierId: string;
}

/** A key of the pool: its public key and, once assigned, its owner. */
export interface KeyRow {
  publicKey: PublicKeyHex;
  owner?: Owner;
}

/** Voters of one body not at a quorum yet. */
export interface OpenVoteRow {
  voters: number[];
}

/** The scalars, with their values in a new epoch. */
export const INITIAL_SCALARS = {
  appHash: "",
  pool: { published: 0, assigned: 0 },
  freeCount: 0,
  batchesSpanned: 0,
  /** In a successor epoch, once a chunk is installed: the handover's chunk count and next key index, and how many are in. */
  moved: undefined as { chunks: number; nextKeyIndex: number; installed: number } | undefined,
  freeze: {
    votes: [] as [string, number[]][],
    frozen: undefined as { nextEpoch: number; attempt: number; height: number } | undefined,
    thawed: [] as [number, number][],
  },
};

export type Scalars = typeof INITIAL_SCALARS;

export const userKey = (verifier: string, verifierId: string): string => `${verifier}\x1c${verifierId}`;
export const publicKeyKey = (publicKey: PublicKeyHex): string => `${publicKey.x}${publicKey.y}`;

/** A row the runtime must load before a block: one row of a table, or `count` keys of the free queue's head. */
export type StateRead = { table: string; key: TableKey } | { table: "f"; count: number };

/** Tables whose rows are loaded per block (the others are held whole). */
export const PER_BLOCK_TABLES = ["k", "u", "p", "d", "r"] as const;

export class AppState {
  readonly keys: StateTable<KeyRow>;
  readonly users: StateTable<number>;
  readonly publicKeys: StateTable<number>;
  readonly free: FreeKeys;
  readonly dkgDecisions: StateTable<DealerDecision>;
  readonly reshareDecisions: StateTable<ReshareDecision>;
  readonly movedChunks: StateTable<true>;
  readonly openVotes: StateTable<OpenVoteRow>;
  readonly scalars: { [K in keyof Scalars]: StateScalar<Scalars[K]> };
  /** Whether the state lives in a store (its per-block tables are caches the runtime fills). */
  readonly stored: boolean;
  readonly #lenient = { on: false };

  private constructor(stored: boolean, scalars: Scalars) {
    this.stored = stored;
    const perBlock: TableMode = { complete: !stored, tracked: stored, lenient: this.#lenient };
    const whole: TableMode = { complete: true, tracked: stored };
    this.keys = new StateTable("k", perBlock);
    this.users = new StateTable("u", perBlock);
    this.publicKeys = new StateTable("p", perBlock);
    this.dkgDecisions = new StateTable("d", perBlock);
    this.reshareDecisions = new StateTable("r", perBlock);
    this.movedChunks = new StateTable("c", whole);
    this.openVotes = new StateTable("v", whole);
    const scalar = <K extends keyof Scalars>(name: K) => new StateScalar(name, scalars[name], stored);
    this.scalars = {
      appHash: scalar("appHash"),
      pool: scalar("pool"),
      freeCount: scalar("freeCount"),
      batchesSpanned: scalar("batchesSpanned"),
      moved: scalar("moved"),
      freeze: scalar("freeze"),
    };
    this.free = new FreeKeys(perBlock, this.scalars.freeCount);
  }

  /** A state held whole in memory (simulations, tests): every read answers, nothing is tracked. */
  static inMemory(): AppState {
    return new AppState(false, structuredClone(INITIAL_SCALARS));
  }

  /**
   * A state backed by a store, from its scalars and its whole tables' rows as the store holds them (the runtime
   * reads them: node/store/app-state-store.ts).
   */
  static fromStore(scalars: Partial<Scalars>, whole: { movedChunks: number[]; openVotes: [string, OpenVoteRow][] }) {
    const state = new AppState(true, { ...structuredClone(INITIAL_SCALARS), ...scalars });
    for (const chunk of whole.movedChunks) state.movedChunks.load(chunk, true);
    for (const [key, row] of whole.openVotes) state.openVotes.load(key, row);
    return state;
  }

  /**
   * Runs a mempool admission check, in which a row that is not in memory reads as absent (state-table.ts's `lenient`):
   * between blocks a store-backed state holds none of the per-block rows, and admission is advisory — the block's
   * execution, over the rows loaded for it, is what every replica agrees on.
   */
  admitting<T>(check: () => T): T {
    this.#lenient.on = true;
    try {
      return check();
    } finally {
      this.#lenient.on = false;
    }
  }

  /** Every row a block changed since the last call, for the store; the per-block caches are dropped. */
  takeChanges(): StateChange[] {
    return [
      ...this.keys.takeChanges(),
      ...this.users.takeChanges(),
      ...this.publicKeys.takeChanges(),
      ...this.free.takeChanges(),
      ...this.dkgDecisions.takeChanges(),
      ...this.reshareDecisions.takeChanges(),
      ...this.movedChunks.takeChanges(),
      ...this.openVotes.takeChanges(),
      ...Object.values(this.scalars).flatMap((s) => s.takeChanges()),
    ];
  }
}

/** The rows a transaction reads when the app executes it (decoded: a malformed one reads nothing). */
export function readsOf(tx: AppTx): StateRead[] {
  switch (tx.type) {
    case "assign":
      return [
        { table: "u", key: userKey(tx.verifier, tx.verifierId) },
        { table: "f", count: 1 },
      ];
    case "publishKeys":
      return tx.body.publicKeys.map((_, i) => ({ table: "k", key: tx.body.startIndex + i }));
    case "dkgDecision":
      return [{ table: "d", key: tx.decision.batch }];
    case "reshareDecision":
      return [{ table: "r", key: tx.decision.chunk }];
    case "moveKeys":
      return tx.body.keys.flatMap(({ keyIndex, owner }) => [
        { table: "k", key: keyIndex },
        ...(owner ? [{ table: "u", key: userKey(owner.verifier, owner.verifierId) }] : []),
      ]);
    case "freeze":
    case "unfreeze":
      return [];
  }
}
