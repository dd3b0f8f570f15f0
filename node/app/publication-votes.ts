/**
 * Key publication: validators' signed votes that a key-generation batch has these public keys. The keys join the pool
 * only at a quorum of identical votes, so one Byzantine validator cannot inject a key.
 *
 * Owns: the publication votes not at a quorum yet (their open-vote count is shared with moved-chunk votes).
 * Must never: accept keys while frozen for a handover (what moves is fixed at the freeze) or before a successor epoch
 * installed its moved keys, replace a published key, or let a validator hold more than its cap of open votes.
 */
import type { AppState } from "./app-state.ts";
import type { KeyPool } from "./key-pool.ts";
import { NOT_INSTALLED, type AppPhase } from "./phase.ts";
import { publishKeysSignBytes, type PublishKeysBody, type PublishKeysTx } from "./transactions.ts";
import { QuorumVotes, type OpenVotes, type Validators } from "./validator-votes.ts";

export class PublicationVotes {
  readonly #validators: Validators;
  readonly #phase: AppPhase;
  readonly #pool: KeyPool;
  readonly #votes: QuorumVotes<PublishKeysBody>;

  constructor(validators: Validators, open: OpenVotes, phase: AppPhase, pool: KeyPool, state: AppState) {
    this.#validators = validators;
    this.#phase = phase;
    this.#pool = pool;
    this.#votes = new QuorumVotes(
      validators,
      open,
      publishKeysSignBytes,
      "too many open publication votes",
      "publish",
      state,
    );
  }

  /** Why a publication vote is not acceptable now, or undefined. */
  problem(tx: PublishKeysTx): string | undefined {
    if (this.#phase.frozen) return "frozen for the handover: no new keys";
    if (!this.#phase.installed) return NOT_INSTALLED;
    const outsider = this.#validators.outsider(tx.validator);
    if (outsider !== undefined) return outsider;
    const { startIndex, publicKeys } = tx.body;
    for (let i = 0; i < publicKeys.length; i++) {
      if (this.#pool.has(startIndex + i)) return `key ${startIndex + i} is already published`;
    }
    return this.#votes.problem(tx);
  }

  /** Counts an acceptable vote (at a quorum its keys join the pool, free); else says why not, changing nothing. */
  vote(tx: PublishKeysTx): string | undefined {
    const problem = this.problem(tx);
    if (problem !== undefined) return problem;
    if (this.#votes.tally(tx)) this.#pool.publish(tx.body.startIndex, tx.body.publicKeys);
    return undefined;
  }
}
