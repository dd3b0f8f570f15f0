/**
 * Messages, blocks and votes of the Tendermint consensus core (Buchman, Kwon, Milosevic, "The latest gossip on BFT
 * consensus", arXiv:1807.04938, Algorithm 1). Validators are numbered 0..n−1 (their order in the epoch's node list);
 * a transaction is an opaque string the app defines (its canonical encoding).
 */

/** Hex of a 32-byte hash, lowercase, no 0x. */
export type Hash = string;

export interface Block {
  height: number;
  /** Hash of the block decided at height − 1 ("" at height 1). */
  prevHash: Hash;
  /** App hash after the block at height − 1 was applied, so that diverging state is noticed by every validator. */
  lastAppHash: Hash;
  proposer: number;
  txs: string[];
  /** Equivocations this block records (each validator's pair of conflicting votes). */
  evidence: Evidence[];
}

export type VoteType = "prevote" | "precommit";

export interface Vote {
  type: VoteType;
  height: number;
  round: number;
  /** The block's hash, or null for nil. */
  blockHash: Hash | null;
  validator: number;
  signature: string;
}

export interface Proposal {
  type: "proposal";
  height: number;
  round: number;
  block: Block;
  /** The round in which the proposer saw this block get a prevote quorum, or −1 (Algorithm 1, line 19). */
  validRound: number;
  validator: number;
  signature: string;
  /**
   * With validRound ≥ 0: the prevotes for the block in validRound that made it valid (outside the signature; each vote
   * is signed by its validator). Line 28 needs them, and a validator that missed some of them would otherwise refuse
   * the re-proposal forever.
   */
  polVotes?: Vote[];
}

/** Two signed votes of one validator for the same height, round and type but different values. */
export interface Evidence {
  first: Vote;
  second: Vote;
}

/** A decided block with the precommits that decided it: what a lagging validator needs to catch up. */
export interface Commit {
  block: Block;
  round: number;
  precommits: Vote[];
}

export type ConsensusMessage =
  | Proposal
  | Vote
  | { type: "commit"; commit: Commit; senderHeight: number }
  /**
   * "I am stuck at (height, round)": a peer further ahead answers with the commit of that height, a peer at the same
   * height with every proposal and vote it holds from that round on (the paper's gossip: what one correct validator
   * received, all eventually receive). The algorithm assumes eventual delivery of the messages of
   * correct validators; this is how messages missed while crashed or partitioned get delivered after all.
   */
  | { type: "syncRequest"; height: number; round: number }
  /** The answer of a peer at the same height: the proposals and votes it holds from the asked round on. */
  | { type: "votes"; height: number; proposals: Proposal[]; votes: Vote[] };

export type Step = "propose" | "prevote" | "precommit";

/** A timer: the three of the algorithm, and the gossip timer that asks peers for missed messages. */
export type TimerKind = Step | "gossip";

export interface TimeoutConfig {
  /** Base and per-round increment in milliseconds; timeouts grow linearly with the round without bound. */
  proposeMs: number;
  proposeDeltaMs: number;
  prevoteMs: number;
  prevoteDeltaMs: number;
  precommitMs: number;
  precommitDeltaMs: number;
  /** How long a round may make no progress before the validator asks its peers for what it missed. */
  gossipMs: number;
}

export const DEFAULT_TIMEOUTS: TimeoutConfig = {
  proposeMs: 1000,
  proposeDeltaMs: 500,
  prevoteMs: 500,
  prevoteDeltaMs: 250,
  precommitMs: 500,
  precommitDeltaMs: 250,
  gossipMs: 2000,
};

/** Signs this validator's messages and checks other validators' signatures (ECDSA node keys in production). */
export interface SignatureScheme {
  sign(message: Uint8Array): string;
  verify(validator: number, message: Uint8Array, signature: string): boolean;
}
