/**
 * The replicated key-mapping state machine that the BFT network orders: the pool of generated keys, and which user
 * (verifier, verifierId) holds which key. Deterministic: given the same blocks, every honest node has the same state
 * and the same app hash, which chains a hash of every block's effects.
 *
 * This file is the ABCI-like boundary only (checkTx, finalizeBlock, queries): it decodes a transaction, hands it to the
 * sub-machine that owns its state and turns the verdict into a result. The sub-machines: assignments.ts over
 * key-pool.ts (keys, owners, free queue), publication-votes.ts, dealer-decisions.ts (key-generation and reshare dealer
 * sets), freeze-votes.ts (the handover freeze) and moved-chunks.ts (a successor epoch's moved keys); they read each
 * other only through the app's phase (phase.ts) and share validator-votes.ts.
 */
import { hashBytes } from "../bft/encoding.ts";
import { canonicalJson } from "../crypto/encoding.ts";
import type { ConsensusApp } from "../bft/consensus.ts";
import type { Block, Hash } from "../bft/types.ts";
import type { DealerDecision } from "../dkg/types.ts";
import type { ReshareDecision, Thresholds } from "../pss/types.ts";
import { AppState, readsOf, type StateRead } from "./app-state.ts";
import { Assignments } from "./assignments.ts";
import { ALREADY_DECIDED, KeygenDecisions, ReshareDecisions } from "./dealer-decisions.ts";
import { FreezeVotes } from "./freeze-votes.ts";
import { KeyPool } from "./key-pool.ts";
import { MovedChunks } from "./moved-chunks.ts";
import type { AppPhase } from "./phase.ts";
import { PublicationVotes } from "./publication-votes.ts";
import { InvalidTx, decodeTx, type AppTx, type PublicKeyHex } from "./transactions.ts";
import { OpenVotes, Validators } from "./validator-votes.ts";

export { MAX_OPEN_VOTES_PER_VALIDATOR } from "./validator-votes.ts";

export type TxResult =
  | { code: "OK"; keyIndex?: number; publicKey?: PublicKeyHex; decided?: boolean }
  /** No generated key is free: retry later; nothing was consumed. */
  | { code: "NO_FREE_KEY" }
  /** The state is frozen for the handover to `nextEpoch`: no assignment until it serves. */
  | { code: "FROZEN"; nextEpoch: number }
  | { code: "INVALID"; detail: string };

export interface Assignment {
  keyIndex: number;
  publicKey: PublicKeyHex;
}

export interface KeyMappingOptions {
  chainId: string;
  validators: number;
  /** The epoch and thresholds, to check key-generation decisions. */
  epoch?: number;
  k?: number;
  t?: number;
  /** Keys per key-generation batch, so that the handover skips the indexes of decided batches never published. */
  keysPerBatch?: number;
  /** In a successor epoch: the handover whose reshare decisions this app orders (the new epoch is this one). */
  handover?: { transition: number; old: Thresholds; new: Thresholds };
  /** Checks a validator's signature (ECDSA with the node key in production). */
  verify(validator: number, message: Uint8Array, signature: string): boolean;
  /** The state: held in memory when omitted; a store-backed one the runtime loads rows into before each block. */
  state?: AppState;
}

/** A vote's verdict as a result: counted, or refused with the reason (a refused vote changes no state). */
const voted = (problem: string | undefined): TxResult =>
  problem === undefined ? { code: "OK" } : { code: "INVALID", detail: problem };

/** A decision's verdict as a result: a valid one for a decided slot is OK but not decided (only the first counts). */
const decided = (problem: string | undefined): TxResult =>
  problem === undefined
    ? { code: "OK", decided: true }
    : problem === ALREADY_DECIDED
      ? { code: "OK", decided: false }
      : { code: "INVALID", detail: problem };

export class KeyMappingApp implements ConsensusApp, AppPhase {
  readonly #options: KeyMappingOptions;
  readonly state: AppState;
  readonly #pool: KeyPool;
  readonly #assignments: Assignments;
  readonly #publications: PublicationVotes;
  readonly #keygen: KeygenDecisions;
  readonly #freeze: FreezeVotes;
  readonly #reshare: ReshareDecisions;
  readonly #moved: MovedChunks;

  constructor(options: KeyMappingOptions) {
    this.#options = options;
    const state = (this.state = options.state ?? AppState.inMemory());
    this.#pool = new KeyPool(state);
    this.#assignments = new Assignments(this.#pool, this);
    const validators = new Validators(options);
    // One count of open votes for publications and moved chunks: the cap bounds all a validator can open.
    const open = new OpenVotes(state);
    this.#publications = new PublicationVotes(validators, open, this, this.#pool, state);
    this.#keygen = new KeygenDecisions(validators, options, this, state);
    this.#freeze = new FreezeVotes(validators, options.epoch, this, state);
    this.#reshare = new ReshareDecisions(validators, options.handover, state);
    this.#moved = new MovedChunks(validators, open, options.handover?.transition, this, this.#pool, state);
  }

  get appHash(): Hash {
    return this.state.scalars.appHash.get();
  }

  /** The rows the app reads when it executes these transactions (a block's, or one the mempool is offered). */
  readsOf(txs: readonly string[]): StateRead[] {
    return txs.flatMap((tx) => {
      const decoded = this.#decode(tx);
      return decoded instanceof InvalidTx ? [] : readsOf(decoded);
    });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // ABCI-like boundary
  // ---------------------------------------------------------------------------------------------------------------

  /** Admission to the mempool against the current state. */
  checkTx(tx: string): { ok: true } | { ok: false; detail: string } {
    const decoded = this.#decode(tx);
    if (decoded instanceof InvalidTx) return { ok: false, detail: decoded.message };
    // A store-backed state holds only the rows of the block being executed: a row it lacks reads as absent here, so
    // admission admits what it cannot check (advisory), and the block refuses the transaction if it must.
    const problem = this.state.admitting(() => this.#problem(decoded));
    return problem === undefined ? { ok: true } : { ok: false, detail: problem };
  }

  processProposal(block: Block): boolean {
    // Invalid transactions in a block are answered with INVALID results rather than rejecting the block, as in
    // CometBFT; only the size of the block matters here, and the consensus core has checked it.
    return block.txs.length >= 0;
  }

  finalizeBlock(block: Block): { appHash: Hash; results: TxResult[] } {
    const results = block.txs.map((tx) => this.#deliver(tx, block.height));
    const appHash = hashBytes(
      new TextEncoder().encode(`${this.appHash}\x1c${block.height}\x1c${canonicalJson(results)}`),
    );
    this.state.scalars.appHash.set(appHash);
    return { appHash, results };
  }

  /** The transaction, or why it is malformed; any other error is a bug and propagates. */
  #decode(tx: string): AppTx | InvalidTx {
    try {
      return decodeTx(tx, this.#options.validators);
    } catch (error) {
      if (error instanceof InvalidTx) return error;
      throw error;
    }
  }

  /** Why a transaction would be refused against the current state, or undefined. */
  #problem(tx: AppTx): string | undefined {
    switch (tx.type) {
      case "assign":
        return this.#assignments.problem(tx);
      case "publishKeys":
        return this.#publications.problem(tx);
      case "dkgDecision":
        return this.#keygen.problem(tx.decision);
      case "freeze":
      case "unfreeze":
        return this.#freeze.problem(tx);
      case "reshareDecision":
        return this.#reshare.problem(tx.decision);
      case "moveKeys":
        return this.#moved.problem(tx);
    }
  }

  #deliver(tx: string, height: number): TxResult {
    const decoded = this.#decode(tx);
    if (decoded instanceof InvalidTx) return { code: "INVALID", detail: decoded.message };
    switch (decoded.type) {
      case "assign":
        return this.#assignments.assign(decoded);
      case "publishKeys":
        return voted(this.#publications.vote(decoded));
      case "dkgDecision":
        return decided(this.#keygen.decide(decoded.decision));
      case "freeze":
      case "unfreeze":
        return voted(this.#freeze.vote(decoded, height));
      case "reshareDecision":
        return decided(this.#reshare.decide(decoded.decision));
      case "moveKeys":
        return voted(this.#moved.vote(decoded));
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Queries
  // ---------------------------------------------------------------------------------------------------------------

  lookup(verifier: string, verifierId: string): Assignment | undefined {
    const keyIndex = this.#pool.keyOf(verifier, verifierId);
    return keyIndex === undefined ? undefined : { keyIndex, publicKey: this.#pool.publicKey(keyIndex)! };
  }

  /** The key index of a public key and, if assigned, its owner. */
  keyByPublicKey(
    publicKey: PublicKeyHex,
  ): { keyIndex: number; owner?: { verifier: string; verifierId: string } } | undefined {
    return this.#pool.keyByPublicKey(publicKey);
  }

  get publishedKeys(): number {
    return this.#pool.published;
  }

  get assignedKeys(): number {
    return this.#pool.assigned;
  }

  get freeKeys(): number {
    return this.#pool.free;
  }

  /**
   * Whether this epoch's state is whole: always in a genesis epoch; in a successor epoch once every moved chunk is
   * installed. Until then it assigns, publishes and decides nothing.
   */
  get installed(): boolean {
    return this.#moved.installed;
  }

  movedChunkInstalled(chunk: number): boolean {
    return this.#moved.chunkInstalled(chunk);
  }

  /** The first key index of this epoch's own key generation: past every moved key (0 in a genesis epoch). */
  get firstKeyIndex(): number {
    return this.#moved.firstKeyIndex;
  }

  /** Every key-generation decision ordered so far, by batch. */
  decisions(): DealerDecision[] {
    return this.#keygen.all();
  }

  /** The handover freeze, once a quorum of validators voted for it: the height of the block that froze the state. */
  get frozen(): { nextEpoch: number; attempt: number; height: number } | undefined {
    return this.#freeze.frozen;
  }

  /**
   * What moves to the next epoch, in one canonical order: every published key (assigned or still free) with its owner,
   * and the key index the next epoch's key generation continues from (`nextKeyIndex`). Reads every key: a state held
   * in memory only; the runtime reads a store's keys from the store in the same order.
   */
  snapshot(): {
    keys: { keyIndex: number; publicKey: PublicKeyHex; owner?: { verifier: string; verifierId: string } }[];
    nextKeyIndex: number;
  } {
    const keys = this.#pool.entries();
    const lastKey = keys.length > 0 ? keys[keys.length - 1]!.keyIndex + 1 : 0;
    return { keys, nextKeyIndex: this.nextKeyIndex(lastKey) };
  }

  /**
   * The key index the next epoch's key generation continues from, given one past the highest key (`pastKeys`): past
   * every key and every decided batch (a batch decided but never published is abandoned, its indexes skipped).
   */
  nextKeyIndex(pastKeys: number): number {
    const pastBatches = this.firstKeyIndex + this.#keygen.batchesSpanned * (this.#options.keysPerBatch ?? 0);
    return Math.max(pastKeys, pastBatches, this.firstKeyIndex);
  }

  /** The reshare decision for a handover chunk, once one was ordered. */
  reshareDecisionFor(chunk: number): ReshareDecision | undefined {
    return this.#reshare.decisionFor(chunk);
  }

  /** The decision for a key-generation batch, once one was ordered. */
  decisionFor(batch: number): DealerDecision | undefined {
    return this.#keygen.decisionFor(batch);
  }
}
