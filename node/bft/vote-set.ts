/**
 * The prevotes and precommits of one height, counted per round and value. A validator that signs two different
 * votes for one (round, type) equivocates: that is returned as evidence, and both votes are counted, each for its
 * own value. Counting them is safe (two quorums for different values still share an honest validator, which signs
 * one vote per slot) and needed for liveness: a Byzantine validator can show different peers different votes, and
 * only by counting every signed vote can the peers that learn of both still see the quorum the others saw.
 */
import type { Evidence, Hash, Vote, VoteType } from "./types.ts";

const NIL = "nil";
/**
 * Values counted per validator and slot from single votes; a Byzantine validator may sign any number. Votes that
 * come inside a quorum certificate (a commit, or a proposal's proof of lock) are counted beyond this cap: such a
 * certificate needs an honest validator's vote for its value, so there are at most a few of them.
 */
const MAX_VALUES_PER_VALIDATOR = 2;

class RoundVotes {
  readonly byValidator = new Map<number, Vote[]>();
  readonly byValue = new Map<string, Map<number, Vote>>();

  add(vote: Vote, certified: boolean): AddVoteResult {
    const key = vote.blockHash ?? NIL;
    const mine = this.byValidator.get(vote.validator) ?? [];
    if (mine.some((v) => v.blockHash === vote.blockHash)) return { kind: "duplicate" };
    if (mine.length >= MAX_VALUES_PER_VALIDATOR && !certified) return { kind: "duplicate" };
    mine.push(vote);
    this.byValidator.set(vote.validator, mine);
    let voters = this.byValue.get(key);
    if (!voters) this.byValue.set(key, (voters = new Map<number, Vote>()));
    voters.set(vote.validator, vote);
    return mine.length === 1
      ? { kind: "added" }
      : { kind: "equivocation", evidence: { first: mine[0]!, second: vote } };
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

  /** Counts a vote; `certified` when it is part of a verified quorum certificate (see MAX_VALUES_PER_VALIDATOR). */
  add(vote: Vote, certified = false): AddVoteResult {
    return this.#round(vote.round)[vote.type].add(vote, certified);
  }

  /** Validators that signed a vote of `type` in `round` for `blockHash` (null = nil). */
  count(round: number, type: VoteType, blockHash: Hash | null): number {
    return this.#rounds.get(round)?.[type].byValue.get(blockHash ?? NIL)?.size ?? 0;
  }

  /** Validators that signed any vote of `type` in `round`. */
  total(round: number, type: VoteType): number {
    return this.#rounds.get(round)?.[type].byValidator.size ?? 0;
  }

  /** The values that at least `threshold` validators voted for with `type` in `round`. */
  valuesWith(round: number, type: VoteType, threshold: number): (Hash | null)[] {
    const votes = this.#rounds.get(round)?.[type];
    if (!votes) return [];
    const values: (Hash | null)[] = [];
    for (const [value, voters] of votes.byValue)
      if (voters.size >= threshold) values.push(value === NIL ? null : value);
    return values;
  }

  /** The votes of `type` in `round` for `blockHash`, one per validator. */
  votesFor(round: number, type: VoteType, blockHash: Hash | null): Vote[] {
    return [
      ...(this.#rounds
        .get(round)
        ?.[type].byValue.get(blockHash ?? NIL)
        ?.values() ?? []),
    ];
  }

  /** Every vote of `round`, for relaying to a peer that missed them. */
  votesIn(round: number): Vote[] {
    const entry = this.#rounds.get(round);
    if (!entry) return [];
    return [...entry.prevote.byValidator.values(), ...entry.precommit.byValidator.values()].flat();
  }

  /** Distinct validators that sent any vote in `round` (for the round-skip rule). */
  validatorsIn(round: number): Set<number> {
    const entry = this.#rounds.get(round);
    const validators = new Set<number>();
    if (entry) {
      for (const type of ["prevote", "precommit"] as const)
        for (const v of entry[type].byValidator.keys()) validators.add(v);
    }
    return validators;
  }

  rounds(): number[] {
    return [...this.#rounds.keys()];
  }
}
