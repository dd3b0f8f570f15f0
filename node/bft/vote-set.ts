/**
 * The prevotes and precommits of one height, counted per round and value. The first vote of a validator for a
 * (round, type) is the one that counts; a second, different one is equivocation and is returned as evidence.
 */
import type { Evidence, Hash, Vote, VoteType } from "./types.ts";

const NIL = "nil";

class RoundVotes {
  readonly byValidator = new Map<number, Vote>();
  readonly countByValue = new Map<string, number>();

  get total(): number {
    return this.byValidator.size;
  }

  count(blockHash: Hash | null): number {
    return this.countByValue.get(blockHash ?? NIL) ?? 0;
  }
}

export type AddVoteResult = { kind: "added" } | { kind: "duplicate" } | { kind: "equivocation"; evidence: Evidence };

export class HeightVotes {
  readonly #rounds = new Map<number, { prevote: RoundVotes; precommit: RoundVotes }>();

  #round(round: number) {
    let entry = this.#rounds.get(round);
    if (!entry) this.#rounds.set(round, (entry = { prevote: new RoundVotes(), precommit: new RoundVotes() }));
    return entry;
  }

  add(vote: Vote): AddVoteResult {
    const votes = this.#round(vote.round)[vote.type];
    const existing = votes.byValidator.get(vote.validator);
    if (existing) {
      if (existing.blockHash === vote.blockHash) return { kind: "duplicate" };
      return { kind: "equivocation", evidence: { first: existing, second: vote } };
    }
    votes.byValidator.set(vote.validator, vote);
    const key = vote.blockHash ?? NIL;
    votes.countByValue.set(key, (votes.countByValue.get(key) ?? 0) + 1);
    return { kind: "added" };
  }

  /** Votes of `type` in `round` for `blockHash` (null = nil). */
  count(round: number, type: VoteType, blockHash: Hash | null): number {
    return this.#rounds.get(round)?.[type].count(blockHash) ?? 0;
  }

  /** Votes of `type` in `round` for any value. */
  total(round: number, type: VoteType): number {
    return this.#rounds.get(round)?.[type].total ?? 0;
  }

  /** The values that have at least `threshold` votes of `type` in `round`. */
  valuesWith(round: number, type: VoteType, threshold: number): (Hash | null)[] {
    const votes = this.#rounds.get(round)?.[type];
    if (!votes) return [];
    const values: (Hash | null)[] = [];
    for (const [value, count] of votes.countByValue) if (count >= threshold) values.push(value === NIL ? null : value);
    return values;
  }

  /** The votes of `type` in `round` for `blockHash`. */
  votesFor(round: number, type: VoteType, blockHash: Hash | null): Vote[] {
    const votes = this.#rounds.get(round)?.[type];
    if (!votes) return [];
    return [...votes.byValidator.values()].filter((v) => v.blockHash === blockHash);
  }

  /** Distinct validators that sent any vote in `round` (for the round-skip rule). */
  validatorsIn(round: number): Set<number> {
    const entry = this.#rounds.get(round);
    const validators = new Set<number>();
    if (entry)
      for (const type of ["prevote", "precommit"] as const)
        for (const v of entry[type].byValidator.keys()) validators.add(v);
    return validators;
  }

  rounds(): number[] {
    return [...this.#rounds.keys()];
  }
}
