/**
 * In a successor epoch, the keys and owners moved by the handover: validators' signed votes that a chunk moved these
 * keys (each took them on t_old + 1 identical copies and holds verified new shares of them). A quorum of identical
 * votes installs a chunk at the same block on every replica; the epoch's state is whole once every chunk is in.
 *
 * Owns: the moved-chunk votes not at a quorum yet (their open-vote count is shared with publication votes), the
 * installed chunks, and the chunk count and next key index every chunk agreed on.
 * Must never: install while frozen (the snapshot the next handover deals is fixed at the freeze), install a key or an
 * owner twice (a key would be free twice, an owner's key silently replaced), or run in a genesis epoch.
 */
import type { AppState } from "./app-state.ts";
import type { KeyPool } from "./key-pool.ts";
import { NO_HANDOVER, type AppPhase } from "./phase.ts";
import { moveKeysSignBytes, type MoveKeysBody, type MoveKeysTx } from "./transactions.ts";
import { QuorumVotes, type OpenVotes, type Validators } from "./validator-votes.ts";

export class MovedChunks {
  readonly #validators: Validators;
  /** The handover this successor epoch receives; undefined in a genesis epoch. */
  readonly #transition: number | undefined;
  readonly #phase: AppPhase;
  readonly #pool: KeyPool;
  readonly #votes: QuorumVotes<MoveKeysBody>;
  readonly #state: AppState;

  constructor(
    validators: Validators,
    open: OpenVotes,
    transition: number | undefined,
    phase: AppPhase,
    pool: KeyPool,
    state: AppState,
  ) {
    this.#state = state;
    this.#validators = validators;
    this.#transition = transition;
    this.#phase = phase;
    this.#pool = pool;
    this.#votes = new QuorumVotes(validators, open, moveKeysSignBytes, "too many open votes", "move", state);
  }

  get #moved() {
    return this.#state.scalars.moved.get();
  }

  /** Whether the state is whole: always in a genesis epoch; in a successor epoch once every chunk is installed. */
  get installed(): boolean {
    const moved = this.#moved;
    return this.#transition === undefined || (moved !== undefined && moved.installed === moved.chunks);
  }

  chunkInstalled(chunk: number): boolean {
    return this.#state.movedChunks.has(chunk);
  }

  /** The first key index of this epoch's own key generation: past every moved key (0 in a genesis epoch). */
  get firstKeyIndex(): number {
    return this.#moved?.nextKeyIndex ?? 0;
  }

  problem(tx: MoveKeysTx): string | undefined {
    if (this.#transition === undefined) return NO_HANDOVER;
    const { transition, chunk, chunks, nextKeyIndex } = tx.body;
    if (transition !== this.#transition) return `moved keys of transition ${transition}`;
    // The snapshot the next handover deals is fixed at the freeze. No chunk is left to install by then (a freeze waits
    // for the install, freeze-votes.ts); this keeps it so should that order ever change.
    if (this.#phase.frozen) return "frozen for the handover: the moved keys must not change";
    const outsider = this.#validators.outsider(tx.validator);
    if (outsider !== undefined) return outsider;
    if (this.#state.movedChunks.has(chunk)) return `chunk ${chunk} is already installed`;
    for (const { keyIndex, owner } of tx.body.keys) {
      if (this.#pool.has(keyIndex)) return `key ${keyIndex} is already installed`;
      if (owner && this.#pool.keyOf(owner.verifier, owner.verifierId) !== undefined)
        return `${owner.verifier}/${owner.verifierId} already holds an installed key`;
    }
    const moved = this.#moved;
    if (moved && (moved.chunks !== chunks || moved.nextKeyIndex !== nextKeyIndex))
      return "chunks or nextKeyIndex differ from the installed chunks'";
    return this.#votes.problem(tx);
  }

  /** Counts an acceptable vote (at a quorum its keys and owners join the pool); else says why not, changing nothing. */
  vote(tx: MoveKeysTx): string | undefined {
    const problem = this.problem(tx);
    if (problem !== undefined) return problem;
    if (this.#votes.tally(tx)) {
      const { chunk, chunks, nextKeyIndex, keys } = tx.body;
      this.#pool.install(keys);
      this.#state.movedChunks.set(chunk, true);
      this.#state.scalars.moved.set({ chunks, nextKeyIndex, installed: (this.#moved?.installed ?? 0) + 1 });
    }
    return undefined;
  }
}
