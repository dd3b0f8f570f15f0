/**
 * The epoch's validators as the app's signed votes see them, and the votes that take effect at a quorum of identical
 * bodies (key publications, moved chunks).
 *
 * Owns: the voters of every body not at a quorum yet, and each validator's count of open votes, one count across every
 * kind of quorum vote so that one cap bounds all the state a validator can open.
 * Must never: check a body (its caller does, before the signature here, so that the cheap refusals come first), count
 * a vote that was not checked, keep a body past its quorum, or depend on anything but the order of the votes (every
 * replica tallies the same blocks to the same state).
 */
import { hashBytes } from "../bft/encoding.ts";
import { canonicalJson } from "../crypto/encoding.ts";
import { quorum } from "../bft/quorum.ts";
import type { AppState } from "./app-state.ts";
import type { StateTable } from "./state-table.ts";

/** Key batches or moved chunks a validator may have voted for that have not reached a quorum yet. */
export const MAX_OPEN_VOTES_PER_VALIDATOR = 64;

export const ALREADY_VOTED = "this validator already voted for it";

/** What the app's options say of the validators; `verify` is called as a method of these options. */
export interface ValidatorOptions {
  /** The BFT chain id: the epoch's encoded signing domain (node/crypto/domain.ts), named by every signed vote. */
  chainId: string;
  validators: number;
  /** Checks a validator's signature (ECDSA with the node key in production). */
  verify(validator: number, message: Uint8Array, signature: string): boolean;
}

export class Validators {
  readonly #options: ValidatorOptions;
  /** More than two thirds of the validators: two quorums share an honest one (bft/quorum.ts). */
  readonly quorum: number;

  constructor(options: ValidatorOptions) {
    this.#options = options;
    this.quorum = quorum(options.validators);
  }

  get chainId(): string {
    return this.#options.chainId;
  }

  /** Why `validator` may not vote in this epoch (its index is past the validator set), or undefined. */
  outsider(validator: number): string | undefined {
    return validator >= this.#options.validators ? `validator ${validator} is not in this epoch` : undefined;
  }

  signed(validator: number, message: Uint8Array, signature: string): boolean {
    return this.#options.verify(validator, message, signature);
  }
}

/** Each validator's open votes, shared by every `QuorumVotes` of one app. */
export class OpenVotes {
  readonly #count = new Map<number, number>();

  /** Counted from the open votes the state holds (a restart). */
  constructor(state: AppState) {
    for (const [, row] of state.openVotes.entries()) for (const v of row?.voters ?? []) this.opened(v);
  }

  /** Whether `validator` holds as many open votes as a Byzantine validator may make the state keep. */
  full(validator: number): boolean {
    return (this.#count.get(validator) ?? 0) >= MAX_OPEN_VOTES_PER_VALIDATOR;
  }

  opened(validator: number): void {
    this.#count.set(validator, (this.#count.get(validator) ?? 0) + 1);
  }

  closed(validator: number): void {
    this.#count.set(validator, this.#count.get(validator)! - 1);
  }
}

/** A validator's signed vote for a body. */
export interface SignedVote<Body> {
  body: Body;
  validator: number;
  signature: string;
}

/**
 * Votes for bodies, by digest (the hash of the body's canonical JSON, under the vote's kind), until a quorum of
 * validators voted the same one. The voters live in the app state's open-vote table ("v"), held whole: the cap per
 * validator bounds it.
 */
export class QuorumVotes<Body> {
  readonly #validators: Validators;
  readonly #open: OpenVotes;
  readonly #signBytes: (chainId: string, body: Body) => Uint8Array;
  readonly #tooMany: string;
  readonly #kind: string;
  readonly #voters: StateTable<{ voters: number[] }>;

  /**
   * `signBytes` binds a vote to its kind and chain; `tooMany` refuses a vote of a validator at its cap; `kind` names
   * the votes' rows in the state.
   */
  constructor(
    validators: Validators,
    open: OpenVotes,
    signBytes: (chainId: string, body: Body) => Uint8Array,
    tooMany: string,
    kind: string,
    state: AppState,
  ) {
    this.#validators = validators;
    this.#open = open;
    this.#signBytes = signBytes;
    this.#tooMany = tooMany;
    this.#kind = kind;
    this.#voters = state.openVotes;
  }

  #digest(body: Body): string {
    return `${this.#kind}:${hashBytes(new TextEncoder().encode(canonicalJson(body)))}`;
  }

  /** Why a vote whose body its caller checked may not be counted (a repeat, a capped validator, a bad signature). */
  problem({ body, validator, signature }: SignedVote<Body>): string | undefined {
    if (this.#voters.get(this.#digest(body))?.voters.includes(validator)) return ALREADY_VOTED;
    if (this.#open.full(validator)) return this.#tooMany;
    const bytes = this.#signBytes(this.#validators.chainId, body);
    if (!this.#validators.signed(validator, bytes, signature)) return "bad signature";
    return undefined;
  }

  /** Counts a checked vote; true when it makes a quorum (the body's votes are then closed and forgotten). */
  tally({ body, validator }: SignedVote<Body>): boolean {
    const digest = this.#digest(body);
    const voters = [...(this.#voters.get(digest)?.voters ?? []), validator];
    this.#open.opened(validator);
    if (voters.length < this.#validators.quorum) {
      this.#voters.set(digest, { voters });
      return false;
    }
    this.#voters.delete(digest);
    for (const v of voters) this.#open.closed(v);
    return true;
  }
}
