/**
 * What consensus keeps for one height (node/bft/consensus.ts): Tendermint's round state (Algorithm 1's round, step,
 * locked and valid values), what arrived for the height (votes, proposals, blocks and their validity), what this node
 * signed and which rules fired, and the per-peer bounds of answering and buffering. Replaced whole when the next
 * height begins (lines 51–54), so that nothing of a height outlives it by a forgotten reset.
 */
import type { Block, ConsensusMessage, Hash, Proposal, Step, Vote } from "./types.ts";
import { HeightVotes } from "./vote-set.ts";

export class HeightState {
  round = 0;
  step: Step = "propose";
  lockedValue: Block | null = null;
  lockedRound = -1;
  validValue: Block | null = null;
  validRound = -1;
  /** False while the height waits for work: no proposal, no timers (see consensus.ts's header). */
  active = false;

  readonly votes = new HeightVotes();
  readonly proposals = new Map<number, Proposal>();
  readonly blocks = new Map<Hash, Block>();
  readonly validity = new Map<Hash, boolean>();
  readonly fired = new Set<string>();
  /** What this node signed at this height, by `${round}:${step}`: never sign something else for the same slot. */
  readonly signed = new Map<string, Proposal | Vote>();
  /** Messages for later heights, kept for when this node gets there, and how many each peer has there. */
  readonly future: { from: number; message: ConsensusMessage }[] = [];
  readonly futureFrom = new Map<number, number>();
  /**
   * What each peer was answered in the current window (since this height began or this validator's last gossip
   * timeout): by peer, the heights whose commit it was served; and `${peer}:${round}` for the rounds of this height
   * relayed to it. A peer asking again within the window gets nothing, so however it varies the rounds of its old
   * votes or repeats its syncRequests it draws one answer per height; a lost answer is given again in the next window.
   */
  readonly served = new Map<number, Set<number>>();
  readonly relayed = new Set<string>();
  /** Peers asked for a sync at this height (a peer showing a later height is asked once). */
  readonly syncAsked = new Set<number>();

  constructor(
    readonly height: number,
    /** The previous height's decided block and the app hash after it, which this height's block names. */
    readonly lastBlockHash: Hash,
    readonly lastAppHash: Hash,
  ) {}
}
