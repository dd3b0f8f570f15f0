/**
 * The handover freeze: validators' signed votes that the chain started attempt `attempt` of the handover to
 * `nextEpoch`. The state freezes at the block where a quorum voted (one Byzantine validator cannot stop assignments);
 * once frozen, a quorum of unfreeze votes for the same attempt (governance aborted it) thaws it, and only a later
 * attempt can freeze it again, so that no vote of the aborted attempt can be replayed.
 *
 * Owns: the open freeze (or unfreeze) votes, at most one per validator, the freeze, and the last thawed attempt per
 * next epoch.
 * Must never: freeze before a successor epoch installed every moved chunk (what moves is fixed at the freeze), freeze
 * twice, or keep any vote across a freeze or a thaw.
 */
import type { AppState, Scalars } from "./app-state.ts";
import { NOT_INSTALLED, type AppPhase } from "./phase.ts";
import type { StateScalar } from "./state-table.ts";
import { freezeSignBytes, type FreezeTx, type UnfreezeTx } from "./transactions.ts";
import { ALREADY_VOTED, type Validators } from "./validator-votes.ts";

export interface Freeze {
  nextEpoch: number;
  attempt: number;
  /** The height of the block that froze the state. */
  height: number;
}

export class FreezeVotes {
  readonly #validators: Validators;
  /** This epoch, when known: a freeze is for a later one. */
  readonly #epoch: number | undefined;
  readonly #phase: AppPhase;
  /** Voters per "nextEpoch/attempt", and the one open vote of each validator. */
  readonly #votes = new Map<string, Set<number>>();
  readonly #voteOf = new Map<number, string>();
  #frozen: Freeze | undefined;
  /** The last aborted (thawed) attempt per next epoch: its freeze votes must never freeze the state again. */
  readonly #thawed = new Map<number, number>();

  /** The state's copy of the above, written after every change (a restart reads it back). */
  readonly #saved: StateScalar<Scalars["freeze"]>;

  constructor(validators: Validators, epoch: number | undefined, phase: AppPhase, state: AppState) {
    this.#validators = validators;
    this.#epoch = epoch;
    this.#phase = phase;
    this.#saved = state.scalars.freeze;
    const { votes, frozen, thawed } = this.#saved.get();
    for (const [key, voters] of votes) {
      this.#votes.set(key, new Set(voters));
      for (const v of voters) this.#voteOf.set(v, key);
    }
    this.#frozen = frozen;
    for (const [nextEpoch, attempt] of thawed) this.#thawed.set(nextEpoch, attempt);
  }

  #save(): void {
    this.#saved.set({
      votes: [...this.#votes].map(([key, voters]) => [key, [...voters]]),
      frozen: this.#frozen,
      thawed: [...this.#thawed],
    });
  }

  get frozen(): Freeze | undefined {
    return this.#frozen;
  }

  problem({ type, nextEpoch, attempt, validator, signature }: FreezeTx | UnfreezeTx): string | undefined {
    const frozen = this.#frozen;
    if (type === "freeze" && frozen) return `already frozen for epoch ${frozen.nextEpoch}`;
    // A chunk installed after the freeze would change the keys being dealt.
    if (type === "freeze" && !this.#phase.installed) return NOT_INSTALLED;
    if (type === "freeze" && attempt <= (this.#thawed.get(nextEpoch) ?? 0))
      return `attempt ${attempt} of the handover to epoch ${nextEpoch} was aborted`;
    if (type === "unfreeze" && (frozen?.nextEpoch !== nextEpoch || frozen.attempt !== attempt))
      return `not frozen for attempt ${attempt} of the handover to epoch ${nextEpoch}`;
    const outsider = this.#validators.outsider(validator);
    if (outsider !== undefined) return outsider;
    if (this.#epoch !== undefined && nextEpoch <= this.#epoch) return "the next epoch must be later";
    const voted = this.#voteOf.get(validator);
    if (voted !== undefined)
      return voted === `${nextEpoch}/${attempt}` ? ALREADY_VOTED : "this validator voted for another epoch";
    const bytes = freezeSignBytes(this.#validators.chainId, nextEpoch, attempt, type);
    if (!this.#validators.signed(validator, bytes, signature)) return "bad signature";
    return undefined;
  }

  /**
   * Counts an acceptable vote; at a quorum the state freezes at `height` (or thaws, and every vote is forgotten so
   * that a retry, a new attempt, can freeze it again). Else says why not, changing nothing.
   */
  vote(tx: FreezeTx | UnfreezeTx, height: number): string | undefined {
    const problem = this.problem(tx);
    if (problem !== undefined) return problem;
    const key = `${tx.nextEpoch}/${tx.attempt}`;
    let voters = this.#votes.get(key);
    if (!voters) this.#votes.set(key, (voters = new Set()));
    voters.add(tx.validator);
    this.#voteOf.set(tx.validator, key);
    if (voters.size >= this.#validators.quorum) {
      this.#frozen = tx.type === "freeze" ? { nextEpoch: tx.nextEpoch, attempt: tx.attempt, height } : undefined;
      if (tx.type === "unfreeze") this.#thawed.set(tx.nextEpoch, tx.attempt);
      this.#votes.clear();
      this.#voteOf.clear();
    }
    this.#save();
    return undefined;
  }
}
