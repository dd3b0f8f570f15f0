/**
 * The replicated key-mapping state machine that the BFT network orders: the pool of generated keys, and which user
 * (verifier, verifierId) holds which key. Deterministic: given the same blocks, every honest node has the same state
 * and the same app hash, which chains a hash of every block's effects.
 */
import { canonicalJson, hashBytes } from "../bft/encoding.ts";
import type { ConsensusApp } from "../bft/consensus.ts";
import { quorum } from "../bft/quorum.ts";
import type { Block, Hash } from "../bft/types.ts";
import { decisionProblem } from "../dkg/decision.ts";
import type { DealerDecision } from "../dkg/types.ts";
import { reshareDecisionProblem } from "../pss/decision.ts";
import type { ReshareDecision, Thresholds } from "../pss/types.ts";
import {
  InvalidTx,
  decodeTx,
  freezeSignBytes,
  moveKeysSignBytes,
  publishKeysSignBytes,
  type AppTx,
  type FreezeTx,
  type MoveKeysTx,
  type UnfreezeTx,
  type PublicKeyHex,
  type PublishKeysTx,
} from "./transactions.ts";

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
}

/** Key batches a validator may have voted for that have not reached a quorum yet. */
export const MAX_OPEN_VOTES_PER_VALIDATOR = 64;

const NOT_INSTALLED = "the keys moved from the previous epoch are not all installed yet";

const userKey = (verifier: string, verifierId: string) => `${verifier}\x1c${verifierId}`;

export class KeyMappingApp implements ConsensusApp {
  readonly #options: KeyMappingOptions;
  readonly #quorum: number;
  #appHash: Hash = "";
  readonly #keys = new Map<number, PublicKeyHex>();
  readonly #indexByPublicKey = new Map<string, number>();
  readonly #assignments = new Map<string, number>();
  readonly #owners = new Map<number, { verifier: string; verifierId: string }>();
  /** Free key indexes in ascending order, consumed from `#freeHead`. */
  #free: number[] = [];
  #freeHead = 0;
  /** Publication votes not yet at quorum: digest of the body → validators that signed it. */
  readonly #publicationVotes = new Map<string, Set<number>>();
  /** The first valid dealer-set decision of each key-generation batch. */
  readonly #decisions = new Map<number, DealerDecision>();
  /** Open publication votes per validator, capped so that a Byzantine validator cannot grow the state without bound. */
  readonly #openVotes = new Map<number, number>();
  /** Freeze (or, once frozen, unfreeze) votes per "nextEpoch/attempt" (at most one open one per validator). */
  readonly #freezeVotes = new Map<string, Set<number>>();
  readonly #freezeVoteOf = new Map<number, string>();
  #frozen: { nextEpoch: number; attempt: number; height: number } | undefined;
  /** The last aborted (thawed) attempt per next epoch: its freeze votes must never freeze the state again. */
  readonly #thawed = new Map<number, number>();
  /** The first valid reshare decision of each handover chunk. */
  readonly #reshareDecisions = new Map<number, ReshareDecision>();
  /** Votes for moved chunks not at quorum yet (digest of the body → validators), and the chunks installed. */
  readonly #moveVotes = new Map<string, Set<number>>();
  readonly #movedChunks = new Set<number>();
  #moved: { chunks: number; nextKeyIndex: number } | undefined;

  constructor(options: KeyMappingOptions) {
    this.#options = options;
    this.#quorum = quorum(options.validators);
  }

  get appHash(): Hash {
    return this.#appHash;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // ABCI-like boundary
  // ---------------------------------------------------------------------------------------------------------------

  /** Admission to the mempool against the current state. */
  checkTx(tx: string): { ok: true } | { ok: false; detail: string } {
    let decoded: AppTx;
    try {
      decoded = decodeTx(tx, this.#options.validators);
    } catch (error) {
      if (error instanceof InvalidTx) return { ok: false, detail: error.message };
      throw error;
    }
    if (decoded.type === "assign") {
      if (this.#assignments.has(userKey(decoded.verifier, decoded.verifierId)))
        return { ok: false, detail: "already assigned" };
      if (this.#frozen) return { ok: false, detail: "frozen for the handover" };
      if (!this.installed) return { ok: false, detail: NOT_INSTALLED };
      if (this.freeKeys === 0) return { ok: false, detail: "no free key" };
      return { ok: true };
    }
    if (decoded.type === "freeze" || decoded.type === "unfreeze") {
      const problem = this.#freezeProblem(decoded);
      return problem === undefined ? { ok: true } : { ok: false, detail: problem };
    }
    const problem =
      decoded.type === "dkgDecision"
        ? this.#decisionProblem(decoded.decision)
        : decoded.type === "reshareDecision"
          ? this.#reshareDecisionProblem(decoded.decision)
          : decoded.type === "moveKeys"
            ? this.#moveProblem(decoded)
            : this.#publicationProblem(decoded);
    return problem === undefined ? { ok: true } : { ok: false, detail: problem };
  }

  processProposal(block: Block): boolean {
    // Invalid transactions in a block are answered with INVALID results rather than rejecting the block, as in
    // CometBFT; only the size of the block matters here, and the consensus core has checked it.
    return block.txs.length >= 0;
  }

  finalizeBlock(block: Block): { appHash: Hash; results: TxResult[] } {
    const results = block.txs.map((tx) => this.#deliver(tx, block.height));
    this.#appHash = hashBytes(
      new TextEncoder().encode(`${this.#appHash}\x1c${block.height}\x1c${canonicalJson(results)}`),
    );
    return { appHash: this.#appHash, results };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Queries
  // ---------------------------------------------------------------------------------------------------------------

  lookup(verifier: string, verifierId: string): Assignment | undefined {
    const keyIndex = this.#assignments.get(userKey(verifier, verifierId));
    return keyIndex === undefined ? undefined : { keyIndex, publicKey: this.#keys.get(keyIndex)! };
  }

  /** The key index of a public key and, if assigned, its owner. */
  keyByPublicKey(
    publicKey: PublicKeyHex,
  ): { keyIndex: number; owner?: { verifier: string; verifierId: string } } | undefined {
    const keyIndex = this.#indexByPublicKey.get(`${publicKey.x}:${publicKey.y}`);
    return keyIndex === undefined ? undefined : { keyIndex, owner: this.#owners.get(keyIndex) };
  }

  get publishedKeys(): number {
    return this.#keys.size;
  }

  get assignedKeys(): number {
    return this.#assignments.size;
  }

  get freeKeys(): number {
    return this.#free.length - this.#freeHead;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Delivery
  // ---------------------------------------------------------------------------------------------------------------

  #deliver(tx: string, height: number): TxResult {
    let decoded: AppTx;
    try {
      decoded = decodeTx(tx, this.#options.validators);
    } catch (error) {
      if (error instanceof InvalidTx) return { code: "INVALID", detail: error.message };
      throw error;
    }
    if (decoded.type === "freeze" || decoded.type === "unfreeze") return this.#freeze(decoded, height);
    if (decoded.type === "reshareDecision") {
      const problem = this.#reshareDecisionProblem(decoded.decision);
      if (problem === "already decided") return { code: "OK", decided: false };
      if (problem !== undefined) return { code: "INVALID", detail: problem };
      this.#reshareDecisions.set(decoded.decision.chunk, decoded.decision);
      return { code: "OK", decided: true };
    }
    if (decoded.type === "dkgDecision") {
      const problem = this.#decisionProblem(decoded.decision);
      if (problem === "already decided") return { code: "OK", decided: false };
      if (problem !== undefined) return { code: "INVALID", detail: problem };
      this.#decisions.set(decoded.decision.batch, decoded.decision);
      return { code: "OK", decided: true };
    }
    if (decoded.type === "moveKeys") return this.#move(decoded);
    return decoded.type === "assign" ? this.#assign(decoded.verifier, decoded.verifierId) : this.#publish(decoded);
  }

  /** Idempotent: a user that has a key keeps it (Torus appended a new key on every call). */
  #assign(verifier: string, verifierId: string): TxResult {
    const user = userKey(verifier, verifierId);
    let keyIndex = this.#assignments.get(user);
    if (keyIndex === undefined) {
      // Refused rather than carried over as a second delta: the handover is short, a client retries, and what moves
      // is then one agreed state.
      if (this.#frozen) return { code: "FROZEN", nextEpoch: this.#frozen.nextEpoch };
      // A successor epoch assigns nothing before the whole moved mapping is installed: a user may own a moved key.
      if (!this.installed) return { code: "INVALID", detail: NOT_INSTALLED };
      if (this.freeKeys === 0) return { code: "NO_FREE_KEY" };
      keyIndex = this.#free[this.#freeHead++]!;
      this.#assignments.set(user, keyIndex);
      this.#owners.set(keyIndex, { verifier, verifierId });
      if (this.#freeHead > 1024 && this.#freeHead * 2 > this.#free.length) {
        this.#free = this.#free.slice(this.#freeHead);
        this.#freeHead = 0;
      }
    }
    return { code: "OK", keyIndex, publicKey: this.#keys.get(keyIndex)! };
  }

  #publish(tx: PublishKeysTx): TxResult {
    const problem = this.#publicationProblem(tx);
    if (problem !== undefined) return { code: "INVALID", detail: problem };
    if (this.#tally(this.#publicationVotes, canonicalJson(tx.body), tx.validator)) {
      const { startIndex, publicKeys } = tx.body;
      publicKeys.forEach((key, i) => this.#addKey(startIndex + i, key));
      this.#addFree(publicKeys.map((_, i) => startIndex + i));
    }
    return { code: "OK" };
  }

  /** Counts a validator's vote for `digest`; true when it makes a quorum (the open votes are then closed). */
  #tally(votes: Map<string, Set<number>>, digest: string, validator: number): boolean {
    let voters = votes.get(digest);
    if (!voters) votes.set(digest, (voters = new Set()));
    voters.add(validator);
    this.#openVotes.set(validator, (this.#openVotes.get(validator) ?? 0) + 1);
    if (voters.size < this.#quorum) return false;
    votes.delete(digest);
    for (const v of voters) this.#openVotes.set(v, this.#openVotes.get(v)! - 1);
    return true;
  }

  #addKey(keyIndex: number, key: PublicKeyHex): void {
    this.#keys.set(keyIndex, key);
    this.#indexByPublicKey.set(`${key.x}:${key.y}`, keyIndex);
  }

  /** A vote for a moved chunk; at a quorum of identical votes its keys and owners join the state. */
  #move(tx: MoveKeysTx): TxResult {
    const problem = this.#moveProblem(tx);
    if (problem !== undefined) return { code: "INVALID", detail: problem };
    if (this.#tally(this.#moveVotes, canonicalJson(tx.body), tx.validator)) {
      const { chunk, chunks, nextKeyIndex, keys } = tx.body;
      for (const { keyIndex, publicKey, owner } of keys) {
        this.#addKey(keyIndex, publicKey);
        if (owner) {
          this.#assignments.set(userKey(owner.verifier, owner.verifierId), keyIndex);
          this.#owners.set(keyIndex, owner);
        }
      }
      this.#addFree(keys.filter((k) => !k.owner).map((k) => k.keyIndex));
      this.#movedChunks.add(chunk);
      this.#moved = { chunks, nextKeyIndex };
    }
    return { code: "OK" };
  }

  #moveProblem(tx: MoveKeysTx): string | undefined {
    const { handover } = this.#options;
    if (!handover) return "this epoch runs no handover";
    const { transition, chunk, chunks, nextKeyIndex } = tx.body;
    if (transition !== handover.transition) return `moved keys of transition ${transition}`;
    // The snapshot that the next handover deals is fixed at the freeze (unreachable: a freeze waits for the install).
    if (this.#frozen) return "frozen for the handover: the moved keys must not change";
    if (tx.validator >= this.#options.validators) return `validator ${tx.validator} is not in this epoch`;
    if (this.#movedChunks.has(chunk)) return `chunk ${chunk} is already installed`;
    // Chunks must not overlap: a key installed twice would be free twice, an owner's key silently replaced.
    for (const { keyIndex, owner } of tx.body.keys) {
      if (this.#keys.has(keyIndex)) return `key ${keyIndex} is already installed`;
      if (owner && this.#assignments.has(userKey(owner.verifier, owner.verifierId)))
        return `${owner.verifier}/${owner.verifierId} already holds an installed key`;
    }
    if (this.#moved && (this.#moved.chunks !== chunks || this.#moved.nextKeyIndex !== nextKeyIndex))
      return "chunks or nextKeyIndex differ from the installed chunks'";
    const digest = canonicalJson(tx.body);
    if (this.#moveVotes.get(digest)?.has(tx.validator)) return "this validator already voted for it";
    if ((this.#openVotes.get(tx.validator) ?? 0) >= MAX_OPEN_VOTES_PER_VALIDATOR) return "too many open votes";
    if (!this.#options.verify(tx.validator, moveKeysSignBytes(this.#options.chainId, tx.body), tx.signature))
      return "bad signature";
    return undefined;
  }

  /**
   * Whether this epoch's state is whole: always in a genesis epoch; in a successor epoch once every moved chunk is
   * installed. Until then it assigns, publishes and decides nothing.
   */
  get installed(): boolean {
    return !this.#options.handover || (this.#moved !== undefined && this.#movedChunks.size === this.#moved.chunks);
  }

  movedChunkInstalled(chunk: number): boolean {
    return this.#movedChunks.has(chunk);
  }

  /** The first key index of this epoch's own key generation: past every moved key (0 in a genesis epoch). */
  get firstKeyIndex(): number {
    return this.#moved?.nextKeyIndex ?? 0;
  }

  /** Every key-generation decision ordered so far, by batch. */
  decisions(): DealerDecision[] {
    return [...this.#decisions.entries()].sort(([a], [b]) => a - b).map(([, d]) => d);
  }

  /** The handover freeze, once a quorum of validators voted for it: the height of the block that froze the state. */
  get frozen(): { nextEpoch: number; attempt: number; height: number } | undefined {
    return this.#frozen;
  }

  /**
   * What moves to the next epoch, in one canonical order: every published key (assigned or still free) with its owner,
   * and the key index the next epoch's key generation continues from — past every published key and every decided
   * batch (a batch decided but never published is abandoned, its indexes skipped).
   */
  snapshot(): {
    keys: { keyIndex: number; publicKey: PublicKeyHex; owner?: { verifier: string; verifierId: string } }[];
    nextKeyIndex: number;
  } {
    const keys = [...this.#keys.entries()]
      .sort(([a], [b]) => a - b)
      .map(([keyIndex, publicKey]) => {
        const owner = this.#owners.get(keyIndex);
        return owner ? { keyIndex, publicKey, owner } : { keyIndex, publicKey };
      });
    const lastKey = keys.length > 0 ? keys[keys.length - 1]!.keyIndex + 1 : 0;
    const lastBatch = Math.max(-1, ...this.#decisions.keys()) + 1;
    const pastBatches = this.firstKeyIndex + lastBatch * (this.#options.keysPerBatch ?? 0);
    return { keys, nextKeyIndex: Math.max(lastKey, pastBatches, this.firstKeyIndex) };
  }

  /**
   * A freeze vote, or once frozen an unfreeze vote for the same attempt: at a quorum the state freezes (or thaws, and
   * every vote is forgotten so that a retry, a new attempt, can freeze it again).
   */
  #freeze(tx: FreezeTx | UnfreezeTx, height: number): TxResult {
    const problem = this.#freezeProblem(tx);
    if (problem !== undefined) return { code: "INVALID", detail: problem };
    const key = `${tx.nextEpoch}/${tx.attempt}`;
    let voters = this.#freezeVotes.get(key);
    if (!voters) this.#freezeVotes.set(key, (voters = new Set()));
    voters.add(tx.validator);
    this.#freezeVoteOf.set(tx.validator, key);
    if (voters.size >= this.#quorum) {
      this.#frozen = tx.type === "freeze" ? { nextEpoch: tx.nextEpoch, attempt: tx.attempt, height } : undefined;
      if (tx.type === "unfreeze") this.#thawed.set(tx.nextEpoch, tx.attempt);
      this.#freezeVotes.clear();
      this.#freezeVoteOf.clear();
    }
    return { code: "OK" };
  }

  #freezeProblem({ type, nextEpoch, attempt, validator, signature }: FreezeTx | UnfreezeTx): string | undefined {
    const frozen = this.#frozen;
    if (type === "freeze" && frozen) return `already frozen for epoch ${frozen.nextEpoch}`;
    // What moves is fixed at the freeze: a chunk installed after it would change the keys being dealt.
    if (type === "freeze" && !this.installed) return NOT_INSTALLED;
    if (type === "freeze" && attempt <= (this.#thawed.get(nextEpoch) ?? 0))
      return `attempt ${attempt} of the handover to epoch ${nextEpoch} was aborted`;
    if (type === "unfreeze" && (frozen?.nextEpoch !== nextEpoch || frozen.attempt !== attempt))
      return `not frozen for attempt ${attempt} of the handover to epoch ${nextEpoch}`;
    if (validator >= this.#options.validators) return `validator ${validator} is not in this epoch`;
    if (this.#options.epoch !== undefined && nextEpoch <= this.#options.epoch) return "the next epoch must be later";
    const voted = this.#freezeVoteOf.get(validator);
    if (voted !== undefined)
      return voted === `${nextEpoch}/${attempt}`
        ? "this validator already voted for it"
        : "this validator voted for another epoch";
    if (!this.#options.verify(validator, freezeSignBytes(this.#options.chainId, nextEpoch, attempt, type), signature))
      return "bad signature";
    return undefined;
  }

  /** The reshare decision for a handover chunk, once one was ordered. */
  reshareDecisionFor(chunk: number): ReshareDecision | undefined {
    return this.#reshareDecisions.get(chunk);
  }

  #reshareDecisionProblem(decision: ReshareDecision): string | undefined {
    const { handover } = this.#options;
    if (!handover) return "this epoch runs no handover";
    if (decision.transition !== handover.transition) return `decision of transition ${decision.transition}`;
    if (this.#reshareDecisions.has(decision.chunk)) return "already decided";
    // Ready signers are new nodes 1..n; validator i − 1 is node i.
    return reshareDecisionProblem(decision, handover.old, handover.new, (node, bytes, sig) =>
      this.#options.verify(node - 1, bytes, sig),
    );
  }

  /** The decision for a key-generation batch, once one was ordered. */
  decisionFor(batch: number): DealerDecision | undefined {
    return this.#decisions.get(batch);
  }

  #decisionProblem(decision: DealerDecision): string | undefined {
    const { epoch, k, t } = this.#options;
    if (epoch === undefined || k === undefined || t === undefined) return "this app takes no key-generation decisions";
    if (decision.epoch !== epoch) return `decision of epoch ${decision.epoch}`;
    if (this.#decisions.has(decision.batch)) return "already decided";
    if (this.#frozen) return "frozen for the handover: no new batches";
    if (!this.installed) return NOT_INSTALLED;
    // Ready signers are nodes 1..n; validator i − 1 is node i.
    return decisionProblem(decision, { k, t }, (node, bytes, sig) => this.#options.verify(node - 1, bytes, sig));
  }

  /** Why a publication vote is not acceptable now, or undefined. */
  #publicationProblem(tx: PublishKeysTx): string | undefined {
    if (this.#frozen) return "frozen for the handover: no new keys";
    if (!this.installed) return NOT_INSTALLED;
    if (tx.validator >= this.#options.validators) return `validator ${tx.validator} is not in this epoch`;
    const { startIndex, publicKeys } = tx.body;
    for (let i = 0; i < publicKeys.length; i++) {
      if (this.#keys.has(startIndex + i)) return `key ${startIndex + i} is already published`;
    }
    const digest = canonicalJson(tx.body);
    if (this.#publicationVotes.get(digest)?.has(tx.validator)) return "this validator already voted for it";
    if ((this.#openVotes.get(tx.validator) ?? 0) >= MAX_OPEN_VOTES_PER_VALIDATOR)
      return "too many open publication votes";
    const bytes = publishKeysSignBytes(this.#options.chainId, tx.body);
    if (!this.#options.verify(tx.validator, bytes, tx.signature)) return "bad signature";
    return undefined;
  }

  #addFree(indexes: number[]): void {
    const live = this.#free.slice(this.#freeHead);
    const last = live[live.length - 1];
    // Batches usually publish in order; an out-of-order batch needs a sort to keep allocation in index order.
    this.#free =
      last === undefined || indexes[0]! > last ? [...live, ...indexes] : [...live, ...indexes].sort((a, b) => a - b);
    this.#freeHead = 0;
  }
}
