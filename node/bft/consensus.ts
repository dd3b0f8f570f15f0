/**
 * The Tendermint consensus algorithm as a sans-IO state machine: Buchman, Kwon, Milosevic, "The latest gossip on BFT
 * consensus" (arXiv:1807.04938), Algorithm 1. Line numbers in comments refer to that algorithm.
 *
 * `step(input)` takes a peer message, a timeout or a local event and returns outputs in the order the runtime must
 * carry them out: WAL records first (own signed messages with `sync: true`, so they are on disk before they are sent),
 * then messages, timers and decisions. Time, randomness and transport stay outside.
 *
 * The WAL takes a peer's proposal or vote only once it is admitted: for the current height, from a validator, well
 * formed, correctly signed and new to this height's state. That is all `restore` needs to rebuild the round state;
 * requests that only draw an answer, and messages for other heights, never reach the disk, so a Byzantine peer
 * cannot grow the WAL (fsynced writes, replayed at every restart) with what the core drops or merely answers.
 *
 * Two departures from the paper, both from CometBFT: a height starts no round timers until there is work (a
 * transaction, or a proposal or vote for it), so an idle network sends nothing; and decided blocks are kept with
 * their precommits (commits) and served to validators that are behind.
 *
 * Finalizing a decided block is inline by default (`app.finalizeBlock` is called inside the step that decides). With
 * `deferFinalize` it is the runtime's job, so that an app whose state lives in an asynchronous store can load what the
 * block touches, execute it and commit the effects before the core goes on (CometBFT's FinalizeBlock + Commit, which
 * its consensus also waits for): the deciding step ends with a `finalize` output, the core stays at the decided height
 * and queues every input until the runtime steps `finalized` with the app hash and results (see `step`).
 */
import { blockHash, proposalSignBytes, voteSignBytes } from "./encoding.ts";
import type { Mempool } from "./mempool.ts";
import { quorum, skipThreshold } from "./quorum.ts";
import type {
  Block,
  Commit,
  ConsensusMessage,
  Evidence,
  Hash,
  Proposal,
  SignatureScheme,
  Step,
  TimerKind,
  TimeoutConfig,
  Vote,
  VoteType,
} from "./types.ts";
import { DEFAULT_LIMITS, MalformedMessage, RELAY_ROUNDS, checkMessage, type MessageLimits } from "./validate.ts";
import { HeightState } from "./height-state.ts";

/** The replicated application, as consensus sees it. Deterministic: every honest node computes the same results. */
export interface ConsensusApp {
  /** Content checks of a proposed block beyond its shape (CometBFT's ProcessProposal). */
  processProposal(block: Block): boolean;
  /** Applies a decided block; returns the app hash after it and one result per transaction, for the runtime. */
  finalizeBlock(block: Block): { appHash: Hash; results: unknown[] };
}

export interface ConsensusConfig {
  chainId: string;
  validators: number;
  self: number;
  timeouts: TimeoutConfig;
  limits?: Partial<Omit<MessageLimits, "validators">>;
  /** How many decided commits stay in memory to serve lagging peers (older ones come from the block store). */
  recentCommits?: number;
  /**
   * Leave applying decided blocks to the runtime: a decision emits `finalize` and waits for a `finalized` input,
   * instead of calling `app.finalizeBlock` inline (default false). `app.finalizeBlock` is then never called by the core.
   */
  deferFinalize?: boolean;
}

/** Where the chain stands: the next height to decide, and the hashes of the last decided block and app state. */
export interface ChainTip {
  height: number;
  lastBlockHash: Hash;
  lastAppHash: Hash;
}

export type WalRecord =
  | { kind: "message"; from: number; message: ConsensusMessage }
  | { kind: "own"; message: Proposal | Vote }
  | { kind: "timeout"; height: number; round: number; step: TimerKind };

/** The height a WAL record belongs to (−1 for none): a restart replays only the records of the height it resumes. */
export function walRecordHeight(record: WalRecord): number {
  if (record.kind === "timeout") return record.height;
  const m = record.message;
  return m.type === "commit" ? m.commit.block.height : m.type === "syncRequest" ? -1 : m.height;
}

export type ConsensusInput =
  | { type: "message"; from: number; message: unknown }
  | { type: "timeout"; height: number; round: number; step: TimerKind }
  /** The mempool has transactions (or the app has protocol work queued as transactions). */
  | { type: "txsAvailable" }
  /**
   * With `deferFinalize`: the runtime applied the block of the outstanding `finalize` output (its effects are committed)
   * and this is what `app.finalizeBlock` would have returned for it.
   */
  | { type: "finalized"; height: number; appHash: Hash; results: unknown[] };

export type ConsensusOutput =
  | { type: "wal"; record: WalRecord; sync: boolean }
  | { type: "broadcast"; message: ConsensusMessage }
  | { type: "send"; to: number; message: ConsensusMessage }
  | { type: "timeout"; height: number; round: number; step: TimerKind; delayMs: number }
  | { type: "decided"; commit: Commit; appHash: Hash; results: unknown[] }
  /**
   * With `deferFinalize`: this height is decided; apply `commit.block` (what `app.finalizeBlock` does) and step a
   * `finalized` input for it. Until then the core stays at this height and queues every other input.
   */
  | { type: "finalize"; height: number; commit: Commit }
  | { type: "evidence"; evidence: Evidence }
  | { type: "rejected"; from: number; reason: string }
  /** A peer needs the commit of a height older than those kept in memory: serve it from the block store. */
  | { type: "serveCommit"; to: number; height: number };

const MAX_BUFFERED_FUTURE_MESSAGES_PER_VALIDATOR = 1_000;
/**
 * Heights whose commit one peer was served within the current window, at most: the oldest is forgotten first, so a
 * lagging peer catching up height after height is never refused, while the record stays bounded.
 */
const MAX_SERVED_HEIGHTS_PER_PEER = 64;
/**
 * Messages one peer may have waiting while a decided block is being finalized (deferFinalize), at most, and how many of
 * those may be bulky (a proposal, a commit or a votes relay: up to a block's bytes each, where a vote or a syncRequest
 * is a few hundred bytes). Past either cap the peer's newer messages are dropped, the oldest kept (as for the
 * future-height buffer); a dropped message is a lost message, which the gossip (syncRequest, votes relay, commit
 * serving) makes up for. An honest peer sends a handful in the milliseconds a finalize takes; this bounds what a
 * flooding one can make the core hold to MAX_QUEUED_BULKY_PER_PEER shape-checked messages of at most a WAL record
 * (node/bft/wal.ts: 16 MiB, the frame cap of consensus messages) plus the rest of small ones. The runtime's own inputs
 * (timeouts, txsAvailable) are never dropped: txsAvailable is kept once (it only says "look at the mempool", which is
 * looked at when it is processed), and timeouts are at most the timers this core set before the decision.
 */
export const MAX_QUEUED_PER_PEER = 64;
export const MAX_QUEUED_BULKY_PER_PEER = 4;

/** A `finalized` input that answers no outstanding `finalize`: a bug of the runtime, never a peer's doing. */
export class FinalizeMismatch extends Error {
  override readonly name = "FinalizeMismatch";
  readonly code = "BFT_FINALIZE_MISMATCH";
}

/**
 * Work waiting for the outstanding finalize, in order: inputs stepped meanwhile (a peer message shape-checked on
 * arrival), and what the step that decided had left to do after the decision (a sync request after a commit, the
 * rest of a WAL replay).
 */
type Deferred =
  | { kind: "peer"; from: number; message: ConsensusMessage }
  | { kind: "malformed"; from: number; reason: string }
  | { kind: "timeout"; height: number; round: number; step: TimerKind }
  | { kind: "txsAvailable" }
  | { kind: "syncBehind"; from: number; senderHeight: number }
  | { kind: "replay"; records: readonly WalRecord[]; next: number };

/** A decided height waiting for the runtime's `finalized`. */
interface PendingFinalize {
  commit: Commit;
  id: Hash;
}

export class Consensus {
  readonly #config: ConsensusConfig;
  readonly #limits: MessageLimits;
  readonly #scheme: SignatureScheme;
  readonly #app: ConsensusApp;
  readonly #mempool: Mempool;
  readonly #quorum: number;
  readonly #skip: number;

  /** This height's state, replaced whole at the next (height-state.ts). */
  #h: HeightState;
  #pendingEvidence = new Map<string, Evidence>();
  #committedEvidence = new Set<string>();
  #recent = new Map<number, Commit>();
  #out: ConsensusOutput[] = [];
  #replaying = false;
  /** deferFinalize: the decision waiting for `finalized`; while set, no rule fires and every input is queued. */
  #pending: PendingFinalize | null = null;
  #queue: Deferred[] = [];
  /** Per peer, its messages in `#queue` (all, and bulky ones), for the caps. */
  readonly #queuedFrom = new Map<number, { all: number; bulky: number }>();
  #txsAvailableQueued = false;
  #dropped = 0;

  constructor(
    config: ConsensusConfig,
    deps: { scheme: SignatureScheme; app: ConsensusApp; mempool: Mempool },
    tip: ChainTip,
  ) {
    if (!Number.isSafeInteger(config.validators) || config.validators < 1)
      throw new RangeError("validators must be ≥ 1");
    if (!Number.isSafeInteger(config.self) || config.self < 0 || config.self >= config.validators) {
      throw new RangeError(`self must be in [0, ${config.validators})`);
    }
    this.#config = config;
    this.#limits = { ...DEFAULT_LIMITS, ...config.limits, validators: config.validators };
    this.#scheme = deps.scheme;
    this.#app = deps.app;
    this.#mempool = deps.mempool;
    this.#quorum = quorum(config.validators);
    this.#skip = skipThreshold(config.validators);
    this.#h = new HeightState(tip.height, tip.lastBlockHash, tip.lastAppHash);
  }

  /**
   * The height being decided. While a finalize is outstanding (deferFinalize), still the decided height: it moves on
   * only when `finalized` completes the decision (and `lastAppHash` is still the app hash before that block).
   */
  get height(): number {
    return this.#h.height;
  }

  /** The height whose `finalize` is outstanding, or null. */
  get finalizing(): number | null {
    return this.#pending === null ? null : this.#pending.commit.block.height;
  }

  get round(): number {
    return this.#h.round;
  }

  get stepName(): Step {
    return this.#h.step;
  }

  get lastAppHash(): Hash {
    return this.#h.lastAppHash;
  }

  /** The round state, for status pages and debugging. */
  snapshot() {
    const rounds = this.#h.votes.rounds().sort((a, b) => a - b);
    return {
      height: this.#h.height,
      round: this.#h.round,
      step: this.#h.step,
      active: this.#h.active,
      finalizing: this.finalizing,
      /** Inputs waiting for the outstanding finalize, and peer messages dropped over the caps since this core began. */
      queued: this.#queue.length,
      droppedWhileFinalizing: this.#dropped,
      lockedRound: this.#h.lockedRound,
      validRound: this.#h.validRound,
      proposals: [...this.#h.proposals.keys()].sort((a, b) => a - b),
      votes: rounds.map((r) => ({
        round: r,
        prevotes: this.#h.votes.total(r, "prevote"),
        precommits: this.#h.votes.total(r, "precommit"),
        prevoteNil: this.#h.votes.count(r, "prevote", null),
        precommitNil: this.#h.votes.count(r, "precommit", null),
      })),
    };
  }

  /** Starts the current height (line 10: StartRound(0)). */
  start(): ConsensusOutput[] {
    return this.#run(() => {
      this.#startRound(0);
      // A validator booting past genesis may have missed decisions while it was down: ask who is ahead.
      if (this.#h.height > 1)
        this.#emit({ type: "broadcast", message: { type: "syncRequest", height: this.#h.height, round: 0 } });
    });
  }

  /**
   * Takes one input. While a finalize is outstanding (deferFinalize) every input but `finalized` is queued (see
   * MAX_QUEUED_PER_PEER for the caps) and draws no output; `finalized` completes the decision as the inline path does,
   * then processes the queued inputs in order and returns everything they led to. A `finalized` that answers no
   * outstanding finalize (none, or another height) throws FinalizeMismatch and changes nothing: it is a runtime bug.
   */
  step(input: ConsensusInput): ConsensusOutput[] {
    if (input.type === "finalized") return this.#onFinalized(input);
    if (this.#pending) {
      this.#enqueue(input);
      return [];
    }
    return this.#run(() => this.#onInput(input));
  }

  #onInput(input: Exclude<ConsensusInput, { type: "finalized" }>): void {
    switch (input.type) {
      case "message":
        this.#onMessage(input.from, input.message);
        break;
      case "timeout":
        this.#onTimeoutInput(pick(input));
        break;
      case "txsAvailable":
        this.#onTxsAvailable();
        break;
    }
  }

  #onTimeoutInput(timeout: { height: number; round: number; step: TimerKind }): void {
    this.#emit({ type: "wal", record: { kind: "timeout", ...timeout }, sync: false });
    this.#onTimeout(timeout.height, timeout.round, timeout.step);
  }

  #onTxsAvailable(): void {
    if (this.#mempool.size > 0) this.#wake();
  }

  /**
   * Rebuilds the current height from the WAL after a restart. Own signed messages are loaded first, so that
   * re-running the inputs re-sends exactly what was signed before the crash and never signs anything else for the
   * same height, round and step. Returns the outputs to carry out (messages to re-send, timers to re-arm). With
   * deferFinalize, a replay that decides the height ends in a `finalize` output like a live decision (the block was
   * decided before the crash but not stored): the rest of the replay runs once `finalized` comes.
   */
  restore(records: readonly WalRecord[]): ConsensusOutput[] {
    return this.#run(() => {
      this.#replaying = true;
      try {
        for (const r of records) {
          if (r.kind === "own" && r.message.height === this.#h.height) {
            this.#h.signed.set(
              `${r.message.round}:${r.message.type === "proposal" ? "propose" : r.message.type}`,
              r.message,
            );
          }
        }
        this.#startRound(0);
      } finally {
        this.#replaying = false;
      }
      this.#replay(records, 0);
    });
  }

  /**
   * Replays `records` from `next` on, then re-arms the timers and asks peers for what was missed. A record that
   * decides the height with deferFinalize stops the replay at the `finalize` output: the rest is queued and runs
   * after `finalized`, at the next height, as the inline path runs it after its decision.
   */
  #replay(records: readonly WalRecord[], next: number): void {
    this.#replaying = true;
    try {
      for (let i = next; i < records.length; i++) {
        const r = records[i]!;
        if (r.kind === "message") this.#onMessage(r.from, r.message);
        else if (r.kind === "timeout") this.#onTimeout(r.height, r.round, r.step);
        else if (r.message.height === this.#h.height) this.#acceptOwn(r.message);
        // The rules fire after each input, as they did before the crash: a lock taken in a round (lines 36–43) is
        // taken again before a later record (a precommit timeout) moves the replay past that round.
        this.#evaluate();
        if (this.#pending) return this.#defer({ kind: "replay", records, next: i + 1 });
      }
    } finally {
      this.#replaying = false;
    }
    if (this.#h.active) this.#armTimers();
    // Messages sent while this validator was down are lost: ask for them now rather than after a gossip period.
    this.#emit({ type: "broadcast", message: { type: "syncRequest", height: this.#h.height, round: this.#h.round } });
  }

  #run(action: () => void): ConsensusOutput[] {
    this.#out = [];
    action();
    this.#evaluate();
    return this.#out;
  }

  #emit(output: ConsensusOutput): void {
    // Replayed inputs are on disk already; a message signed during the replay is new (a slot restored from the WAL is
    // re-sent, never signed again) and must be written before it is sent, like any other.
    if (this.#replaying && output.type === "wal" && output.record.kind !== "own") return;
    this.#out.push(output);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Inputs
  // ---------------------------------------------------------------------------------------------------------------

  #onMessage(from: number, raw: unknown): void {
    const checked = this.#check(from, raw);
    if (checked === null) return;
    if ("reason" in checked) return this.#emit({ type: "rejected", from, reason: checked.reason });
    this.#handle(from, checked.message);
  }

  /** The first checks of a peer's message: null when the sender is no peer, else the message or why it is malformed. */
  #check(from: number, raw: unknown): { message: ConsensusMessage } | { reason: string } | null {
    if (!Number.isSafeInteger(from) || from < 0 || from >= this.#config.validators || from === this.#config.self) {
      return null; // not a peer of this epoch: the transport should never deliver this
    }
    try {
      return { message: checkMessage(raw, this.#limits) };
    } catch (error) {
      if (error instanceof MalformedMessage) return { reason: error.message };
      throw error;
    }
  }

  /**
   * Writes an admitted peer message to the WAL, before anything it leads to (own votes are synced, and sync the log
   * before them). A relayed proposal or vote is recorded as sent by its signer, so that replay checks it as if it
   * had come direct.
   */
  #logAdmitted(from: number, message: ConsensusMessage): void {
    this.#emit({ type: "wal", record: { kind: "message", from, message }, sync: false });
  }

  #handle(from: number, message: ConsensusMessage): void {
    switch (message.type) {
      case "syncRequest":
        if (message.height < this.#h.height) this.#serveCommit(from, message.height);
        else if (message.height === this.#h.height) {
          this.#relayRounds(from, message.round);
          // A peer working on this height means there is work here too, even if its messages were lost.
          this.#wake();
        }
        return;
      case "votes":
        if (message.height === this.#h.height) this.#onRelay(from, message.proposals, message.votes);
        return;
      case "commit":
        return this.#onCommit(from, message.commit, message.senderHeight);
      default:
        break;
    }
    if (message.height < this.#h.height) {
      // Votes of the deciding round arrive late as a matter of course; their senders decide without help. A sender
      // in a later round of a decided height is stuck (it crashed, or missed the precommits): send it the commit.
      const recent = this.#recent.get(message.height);
      if (recent && message.round <= recent.round) return;
      this.#serveCommit(from, message.height);
      return;
    }
    if (message.height === this.#h.height + 1) {
      // Bounded per sender, so that a Byzantine validator cannot push out the honest ones' messages.
      const kept = this.#h.futureFrom.get(from) ?? 0;
      if (kept < MAX_BUFFERED_FUTURE_MESSAGES_PER_VALIDATOR) {
        this.#h.futureFrom.set(from, kept + 1);
        this.#h.future.push({ from, message });
      }
      return;
    }
    if (message.height > this.#h.height + 1) {
      this.#requestSync(from);
      return;
    }
    if (message.type === "proposal") this.#onProposal(from, message);
    else this.#onVote(from, message);
  }

  #onProposal(from: number, proposal: Proposal, relayed = false): void {
    if ((!relayed && proposal.validator !== from) || proposal.validator !== this.#proposer(proposal.round)) {
      return this.#emit({
        type: "rejected",
        from,
        reason: `proposal for round ${proposal.round} not from its proposer`,
      });
    }
    if (proposal.block.height !== proposal.height || proposal.validRound >= proposal.round) {
      return this.#emit({ type: "rejected", from, reason: "proposal is inconsistent" });
    }
    if (this.#h.proposals.has(proposal.round)) return; // the first proposal of a round counts
    const hash = blockHash(proposal.block);
    const bytes = proposalSignBytes(this.#config.chainId, { ...proposal, blockHash: hash });
    // The proposer's key, not the sender's: a relayed proposal comes from another peer.
    if (!this.#scheme.verify(proposal.validator, bytes, proposal.signature)) {
      return this.#emit({ type: "rejected", from, reason: "bad proposal signature" });
    }
    for (const vote of proposal.polVotes ?? []) {
      const pol = vote.type === "prevote" && vote.height === this.#h.height && vote.round === proposal.validRound;
      if (!pol || vote.blockHash !== hash || !this.#verifyVote(vote)) {
        return this.#emit({ type: "rejected", from, reason: "proposal carries an invalid proof-of-lock vote" });
      }
    }
    if (proposal.validator !== this.#config.self) this.#logAdmitted(proposal.validator, proposal);
    const pol = proposal.polVotes ?? [];
    const certified = new Set(pol.map((v) => v.validator)).size >= this.#quorum;
    for (const vote of pol) this.#addVote(vote, certified);
    this.#h.proposals.set(proposal.round, proposal);
    this.#h.blocks.set(hash, proposal.block);
    this.#wake();
  }

  #onVote(from: number, vote: Vote): void {
    if (vote.validator !== from)
      return this.#emit({ type: "rejected", from, reason: "vote relayed for another validator" });
    if (!this.#verifyVote(vote)) return this.#emit({ type: "rejected", from, reason: "bad vote signature" });
    this.#addVote(vote, false, true);
    this.#wake();
  }

  #verifyVote(vote: Vote): boolean {
    return this.#scheme.verify(vote.validator, voteSignBytes(this.#config.chainId, vote), vote.signature);
  }

  /**
   * Counts a verified vote; `log` writes it to the WAL when it is new to this height (a repeated vote changes
   * nothing, so restore does not need it twice). Returns whether it was new.
   */
  #addVote(vote: Vote, certified = false, log = false): boolean {
    const result = this.#h.votes.add(vote, certified);
    if (result.kind === "duplicate") return false;
    if (log && vote.validator !== this.#config.self) this.#logAdmitted(vote.validator, vote);
    if (result.kind === "equivocation") this.#recordEvidence(result.evidence);
    return true;
  }

  #recordEvidence(evidence: Evidence): void {
    const key = evidenceKey(evidence);
    if (this.#pendingEvidence.has(key) || this.#committedEvidence.has(key)) return;
    this.#pendingEvidence.set(key, evidence);
    this.#emit({ type: "evidence", evidence });
  }

  /** A decided block with its precommits from a peer: how a lagging validator catches up. */
  #onCommit(from: number, commit: Commit, senderHeight: number): void {
    if (commit.block.height !== this.#h.height) {
      if (commit.block.height > this.#h.height) this.#requestSync(from);
      return;
    }
    const hash = blockHash(commit.block);
    for (const vote of commit.precommits) {
      const matches = vote.type === "precommit" && vote.height === this.#h.height && vote.round === commit.round;
      if (!matches || vote.blockHash !== hash || !this.#verifyVote(vote)) {
        return this.#emit({ type: "rejected", from, reason: "commit carries an invalid precommit" });
      }
    }
    const certified = new Set(commit.precommits.map((v) => v.validator)).size >= this.#quorum;
    const newBlock = !this.#h.blocks.has(hash);
    let newVotes = false;
    for (const vote of commit.precommits) newVotes = this.#addVote(vote, certified) || newVotes;
    // Logged only when it taught this height something: new precommits, or the block of a quorum's precommits (a
    // peer repeating a commit, or sending blocks no validator signed, adds no WAL record).
    if (newVotes || (newBlock && certified)) this.#logAdmitted(from, { type: "commit", commit, senderHeight });
    this.#h.blocks.set(hash, commit.block);
    this.#evaluate();
    // Still behind the sender: ask for the next height right away rather than wait for its votes (once the decision
    // this commit made is finalized, when it is deferred: asked now, the sync would be for the decided height).
    if (this.#pending) this.#defer({ kind: "syncBehind", from, senderHeight });
    else this.#syncBehind(from, senderHeight);
  }

  #syncBehind(from: number, senderHeight: number): void {
    if (senderHeight > this.#h.height) this.#requestSync(from);
  }

  #requestSync(to: number): void {
    if (this.#h.syncAsked.has(to)) return;
    this.#h.syncAsked.add(to);
    this.#emit({ type: "send", to, message: { type: "syncRequest", height: this.#h.height, round: this.#h.round } });
  }

  /**
   * Sends a peer at this height every proposal and vote held for rounds `fromRound` on (a bounded number), once per
   * window (see `served` in height-state.ts). Only answered rounds are recorded, and they are at most this
   * validator's round.
   */
  #relayRounds(to: number, fromRound: number): void {
    if (fromRound > this.#h.round || this.#h.relayed.has(`${to}:${fromRound}`)) return;
    const proposals: Proposal[] = [];
    const votes: Vote[] = [];
    for (let r = fromRound; r < fromRound + RELAY_ROUNDS && r <= this.#h.round; r++) {
      const proposal = this.#h.proposals.get(r);
      if (proposal) proposals.push(proposal);
      votes.push(...this.#h.votes.votesIn(r));
    }
    if (proposals.length > 0 || votes.length > 0) {
      this.#h.relayed.add(`${to}:${fromRound}`);
      this.#emit({ type: "send", to, message: { type: "votes", height: this.#h.height, proposals, votes } });
    }
  }

  /** Proposals and votes a peer relays: each is checked against its signer's key, not the relaying peer's. */
  #onRelay(from: number, proposals: Proposal[], votes: Vote[]): void {
    for (const proposal of proposals) this.#onProposal(from, proposal, true);
    for (const vote of votes) {
      if (!this.#verifyVote(vote))
        return this.#emit({ type: "rejected", from, reason: "relayed vote with a bad signature" });
      this.#addVote(vote, false, true);
    }
    if (votes.length > 0) this.#wake();
  }

  /** Serves a decided height's commit, at most once per peer and height in a window (`served` in height-state.ts). */
  #serveCommit(to: number, height: number): void {
    let heights = this.#h.served.get(to);
    if (!heights) this.#h.served.set(to, (heights = new Set()));
    if (heights.has(height)) return;
    heights.add(height);
    // Bounded: the oldest height is forgotten first, which a peer catching up height after height never asks again.
    if (heights.size > MAX_SERVED_HEIGHTS_PER_PEER) heights.delete(heights.values().next().value!);
    const commit = this.#recent.get(height);
    if (commit) this.#emit({ type: "send", to, message: { type: "commit", commit, senderHeight: this.#h.height } });
    else this.#emit({ type: "serveCommit", to, height });
  }

  /** Lines 57–66, and the gossip timer. */
  #onTimeout(height: number, round: number, step: TimerKind): void {
    if (height !== this.#h.height || round !== this.#h.round) return;
    if (step === "gossip") {
      // A new answer window: a peer whose answer was lost (it was down, or cut off) is answered again when it asks.
      this.#h.served.clear();
      this.#h.relayed.clear();
      // No decision yet at this height: ask every peer for what this validator may have missed, and keep asking.
      this.#emit({ type: "broadcast", message: { type: "syncRequest", height, round } });
      this.#scheduleTimeout("gossip");
    } else if (step === "propose" && this.#h.step === "propose") {
      this.#vote("prevote", null); // line 59
      this.#h.step = "prevote";
    } else if (step === "prevote" && this.#h.step === "prevote") {
      this.#vote("precommit", null); // line 63
      this.#h.step = "precommit";
    } else if (step === "precommit") {
      this.#startRound(this.#h.round + 1); // line 65
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Rounds
  // ---------------------------------------------------------------------------------------------------------------

  #proposer(round: number): number {
    return (this.#h.height + round) % this.#config.validators;
  }

  /** Lines 11–21, deferred while the height has no work. */
  #startRound(round: number): void {
    this.#h.round = round;
    this.#h.step = "propose";
    if (
      !this.#h.active &&
      (this.#mempool.size > 0 || this.#pendingEvidence.size > 0 || this.#h.votes.rounds().length > 0)
    ) {
      this.#h.active = true;
    }
    if (this.#h.active) this.#enterPropose();
  }

  /** A proposal, vote or transaction arrived for an idle height: start its round 0 for real. */
  #wake(): void {
    if (this.#h.active) return;
    this.#h.active = true;
    this.#enterPropose();
  }

  #enterPropose(): void {
    this.#scheduleTimeout("gossip");
    if (this.#proposer(this.#h.round) === this.#config.self) {
      // Lines 14–19: re-propose the valid value if there is one, else a new block.
      this.#propose(this.#h.validValue ?? this.#newBlock(), this.#h.validRound);
    } else {
      this.#scheduleTimeout("propose"); // line 21
    }
  }

  #armTimers(): void {
    this.#scheduleTimeout("gossip");
    if (this.#h.step === "propose" && this.#proposer(this.#h.round) !== this.#config.self)
      this.#scheduleTimeout("propose");
    if (this.#h.step === "prevote") this.#scheduleTimeout("prevote");
    this.#scheduleTimeout("precommit");
  }

  #scheduleTimeout(step: TimerKind): void {
    const t = this.#config.timeouts;
    const durations: Record<TimerKind, [number, number]> = {
      propose: [t.proposeMs, t.proposeDeltaMs],
      prevote: [t.prevoteMs, t.prevoteDeltaMs],
      precommit: [t.precommitMs, t.precommitDeltaMs],
      gossip: [t.gossipMs, t.proposeDeltaMs],
    };
    const [base, delta] = durations[step];
    this.#emit({
      type: "timeout",
      height: this.#h.height,
      round: this.#h.round,
      step,
      delayMs: base + this.#h.round * delta,
    });
  }

  #newBlock(): Block {
    const { maxTxsPerBlock, maxBlockBytes } = this.#limits;
    return {
      height: this.#h.height,
      prevHash: this.#h.lastBlockHash,
      lastAppHash: this.#h.lastAppHash,
      proposer: this.#config.self,
      txs: this.#mempool.reap(maxTxsPerBlock, maxBlockBytes),
      evidence: [...this.#pendingEvidence.values()].slice(0, this.#config.validators),
    };
  }

  #propose(block: Block, validRound: number): void {
    const key = `${this.#h.round}:propose`;
    let proposal = this.#h.signed.get(key) as Proposal | undefined;
    if (!proposal) {
      const hash = blockHash(block);
      const unsigned = { height: this.#h.height, round: this.#h.round, validRound, blockHash: hash };
      proposal = {
        type: "proposal",
        height: this.#h.height,
        round: this.#h.round,
        block,
        validRound,
        validator: this.#config.self,
        signature: this.#scheme.sign(proposalSignBytes(this.#config.chainId, unsigned)),
        ...(validRound >= 0 ? { polVotes: this.#h.votes.votesFor(validRound, "prevote", hash) } : {}),
      };
      this.#h.signed.set(key, proposal);
      this.#emit({ type: "wal", record: { kind: "own", message: proposal }, sync: true });
    }
    this.#emit({ type: "broadcast", message: proposal });
    this.#acceptOwn(proposal);
  }

  /** Signs (at most once per height, round and step) and broadcasts a vote, then counts it. */
  #vote(type: VoteType, hash: Hash | null): void {
    const key = `${this.#h.round}:${type}`;
    let vote = this.#h.signed.get(key) as Vote | undefined;
    // An existing vote for this slot (restored from the WAL) is re-sent as it is, even if this run would vote
    // otherwise: signing a second, different vote is exactly what must never happen.
    if (!vote) {
      const unsigned = { type, height: this.#h.height, round: this.#h.round, blockHash: hash };
      vote = {
        ...unsigned,
        validator: this.#config.self,
        signature: this.#scheme.sign(voteSignBytes(this.#config.chainId, unsigned)),
      };
      this.#h.signed.set(key, vote);
      this.#emit({ type: "wal", record: { kind: "own", message: vote }, sync: true });
    }
    this.#emit({ type: "broadcast", message: vote });
    this.#acceptOwn(vote);
  }

  #acceptOwn(message: Proposal | Vote): void {
    if (message.type === "proposal") {
      if (!this.#h.proposals.has(message.round)) {
        this.#h.proposals.set(message.round, message);
        this.#h.blocks.set(blockHash(message.block), message.block);
      }
    } else {
      this.#h.votes.add(message);
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // The upon-rules, evaluated until none fires
  // ---------------------------------------------------------------------------------------------------------------

  #evaluate(): void {
    for (let guard = 0; guard < 10_000; guard++) {
      if (!this.#fireOne()) return;
    }
    throw new Error("consensus rules did not settle (a bug)");
  }

  /** Fires the first rule whose condition holds; returns whether one fired. None while a decision awaits `finalized`. */
  #fireOne(): boolean {
    return (
      this.#pending === null &&
      (this.#ruleDecide() ||
        this.#ruleSkipRound() ||
        (this.#h.active &&
          (this.#ruleProposal() ||
            this.#ruleLock() ||
            this.#rulePrevoteNil() ||
            this.#rulePrevoteTimeout() ||
            this.#rulePrecommitTimeout())))
    );
  }

  #once(key: string): boolean {
    if (this.#h.fired.has(key)) return false;
    this.#h.fired.add(key);
    return true;
  }

  /** Lines 22–33: prevote on the round's proposal. */
  #ruleProposal(): boolean {
    if (this.#h.step !== "propose") return false;
    const proposal = this.#h.proposals.get(this.#h.round);
    if (!proposal) return false;
    const v = proposal.block;
    const id = blockHash(v);
    const vr = proposal.validRound;
    if (vr === -1) {
      // Line 22
      const ok = this.#isValid(v, id) && (this.#h.lockedRound === -1 || this.#lockedHash() === id);
      this.#vote("prevote", ok ? id : null);
    } else {
      // Line 28: a re-proposal needs a prevote quorum for it in its valid round.
      if (!(vr < this.#h.round && this.#h.votes.count(vr, "prevote", id) >= this.#quorum)) return false;
      const ok = this.#isValid(v, id) && (this.#h.lockedRound <= vr || this.#lockedHash() === id);
      this.#vote("prevote", ok ? id : null);
    }
    this.#h.step = "prevote";
    return true;
  }

  /** Lines 36–43: lock on (and remember as valid) a proposal with a prevote quorum. */
  #ruleLock(): boolean {
    if (this.#h.step === "propose") return false;
    const proposal = this.#h.proposals.get(this.#h.round);
    if (!proposal) return false;
    const id = blockHash(proposal.block);
    if (this.#h.votes.count(this.#h.round, "prevote", id) < this.#quorum || !this.#isValid(proposal.block, id))
      return false;
    if (!this.#once(`lock:${this.#h.round}`)) return false;
    if (this.#h.step === "prevote") {
      this.#h.lockedValue = proposal.block;
      this.#h.lockedRound = this.#h.round;
      this.#vote("precommit", id);
      this.#h.step = "precommit";
    }
    this.#h.validValue = proposal.block;
    this.#h.validRound = this.#h.round;
    return true;
  }

  /** Line 44. */
  #rulePrevoteNil(): boolean {
    if (this.#h.step !== "prevote" || this.#h.votes.count(this.#h.round, "prevote", null) < this.#quorum) return false;
    this.#vote("precommit", null);
    this.#h.step = "precommit";
    return true;
  }

  /** Line 34. */
  #rulePrevoteTimeout(): boolean {
    if (this.#h.step !== "prevote" || this.#h.votes.total(this.#h.round, "prevote") < this.#quorum) return false;
    if (!this.#once(`prevoteTimeout:${this.#h.round}`)) return false;
    this.#scheduleTimeout("prevote");
    return true;
  }

  /** Line 47. */
  #rulePrecommitTimeout(): boolean {
    if (this.#h.votes.total(this.#h.round, "precommit") < this.#quorum) return false;
    if (!this.#once(`precommitTimeout:${this.#h.round}`)) return false;
    this.#scheduleTimeout("precommit");
    return true;
  }

  /** Line 55: messages of a later round from more than a third of the validators. */
  #ruleSkipRound(): boolean {
    let target = -1;
    for (const r of this.#h.votes.rounds()) {
      if (r <= this.#h.round || r <= target) continue;
      const senders = this.#h.votes.validatorsIn(r);
      const proposal = this.#h.proposals.get(r);
      if (proposal) senders.add(proposal.validator);
      if (senders.size >= this.#skip) target = r;
    }
    if (target === -1) return false;
    this.#h.active = true;
    this.#startRound(target);
    return true;
  }

  /** Line 49: a precommit quorum for a known, valid block in any round decides the height. */
  #ruleDecide(): boolean {
    for (const r of this.#h.votes.rounds()) {
      for (const id of this.#h.votes.valuesWith(r, "precommit", this.#quorum)) {
        if (id === null) continue;
        const block = this.#h.blocks.get(id);
        if (block && this.#isValid(block, id)) {
          this.#decide(block, r, id);
          return true;
        }
      }
    }
    return false;
  }

  #decide(block: Block, round: number, id: Hash): void {
    const commit: Commit = { block, round, precommits: this.#h.votes.votesFor(round, "precommit", id) };
    if (this.#config.deferFinalize) {
      this.#pending = { commit, id };
      this.#emit({ type: "finalize", height: block.height, commit });
      return;
    }
    const { appHash, results } = this.#app.finalizeBlock(block);
    this.#completeDecision(commit, id, appHash, results);
  }

  /** What follows a decided block's finalization, inline or deferred: lines 50–54 and the bookkeeping around them. */
  #completeDecision(commit: Commit, id: Hash, appHash: Hash, results: unknown[]): void {
    const { block } = commit;
    this.#emit({ type: "decided", commit, appHash, results });
    this.#mempool.update(block.txs);
    for (const e of block.evidence) {
      const key = evidenceKey(e);
      this.#pendingEvidence.delete(key);
      this.#committedEvidence.add(key);
    }
    this.#recent.set(block.height, commit);
    this.#recent.delete(block.height - (this.#config.recentCommits ?? 64));

    // Lines 51–54: next height, fresh round state.
    const buffered = this.#h.future;
    this.#h = new HeightState(this.#h.height + 1, id, appHash);
    this.#startRound(0);
    // Proposals and votes only (a commit is never buffered), whose handling fires no rule: none decides mid-loop.
    for (const { from, message } of buffered) this.#handle(from, message);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Deferred finalization
  // ---------------------------------------------------------------------------------------------------------------

  #onFinalized(input: Extract<ConsensusInput, { type: "finalized" }>): ConsensusOutput[] {
    const pending = this.#pending;
    if (pending === null || input.height !== pending.commit.block.height) {
      throw new FinalizeMismatch(
        `finalized for height ${input.height}, but ${pending === null ? "no finalize is outstanding" : `the outstanding finalize is for height ${pending.commit.block.height}`}`,
      );
    }
    if (typeof input.appHash !== "string" || !Array.isArray(input.results)) {
      throw new FinalizeMismatch("finalized needs an app hash and a list of results");
    }
    return this.#run(() => {
      this.#pending = null;
      // What waited so far runs after what completing the decision leaves to do (it came earlier).
      const waiting = this.#queue;
      this.#queue = [];
      this.#completeDecision(pending.commit, pending.id, input.appHash, input.results);
      // The rules fire on, as the inline path's evaluate loop goes on after its decision.
      this.#evaluate();
      let i = 0;
      for (; i < waiting.length && this.#pending === null; i++) {
        this.#process(waiting[i]!);
        this.#evaluate();
      }
      // Decided again: what is left waits for that finalize.
      if (i < waiting.length) this.#queue = this.#queue.concat(waiting.slice(i));
      this.#recount();
    });
  }

  /** Queues an input stepped while a finalize is outstanding, within the caps of MAX_QUEUED_PER_PEER. */
  #enqueue(input: Exclude<ConsensusInput, { type: "finalized" }>): void {
    switch (input.type) {
      case "timeout":
        this.#queue.push({ kind: "timeout", ...pick(input) });
        return;
      case "txsAvailable":
        if (!this.#txsAvailableQueued) this.#queue.push({ kind: "txsAvailable" });
        this.#txsAvailableQueued = true;
        return;
      case "message":
        break;
    }
    const { from } = input;
    // Checked now (cheap, no signatures): a queued message holds its known fields only, within the message limits.
    const checked = this.#check(from, input.message);
    if (checked === null) return;
    const bulky = "message" in checked && isBulky(checked.message);
    const counts = this.#queuedFrom.get(from) ?? { all: 0, bulky: 0 };
    if (counts.all >= MAX_QUEUED_PER_PEER || (bulky && counts.bulky >= MAX_QUEUED_BULKY_PER_PEER)) {
      this.#dropped++;
      return;
    }
    this.#queuedFrom.set(from, { all: counts.all + 1, bulky: counts.bulky + (bulky ? 1 : 0) });
    this.#queue.push(
      "reason" in checked
        ? { kind: "malformed", from, reason: checked.reason }
        : { kind: "peer", from, message: checked.message },
    );
  }

  /** Queues what the deciding step had left to do: never dropped (bounded by the buffers it comes from). */
  #defer(item: Deferred): void {
    this.#queue.push(item);
  }

  /** Recomputes what the caps count after the queue was rebuilt. */
  #recount(): void {
    this.#queuedFrom.clear();
    this.#txsAvailableQueued = false;
    for (const d of this.#queue) {
      if (d.kind === "txsAvailable") this.#txsAvailableQueued = true;
      if (d.kind !== "peer" && d.kind !== "malformed") continue;
      const counts = this.#queuedFrom.get(d.from) ?? { all: 0, bulky: 0 };
      counts.all++;
      if (d.kind === "peer" && isBulky(d.message)) counts.bulky++;
      this.#queuedFrom.set(d.from, counts);
    }
  }

  #process(item: Deferred): void {
    switch (item.kind) {
      case "peer":
        return this.#handle(item.from, item.message);
      case "malformed":
        return this.#emit({ type: "rejected", from: item.from, reason: item.reason });
      case "timeout":
        return this.#onTimeoutInput(pick(item));
      case "txsAvailable":
        return this.#onTxsAvailable();
      case "syncBehind":
        return this.#syncBehind(item.from, item.senderHeight);
      case "replay":
        return this.#replay(item.records, item.next);
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // valid(v)
  // ---------------------------------------------------------------------------------------------------------------

  #lockedHash(): Hash | null {
    return this.#h.lockedValue === null ? null : blockHash(this.#h.lockedValue);
  }

  #isValid(block: Block, id: Hash): boolean {
    let valid = this.#h.validity.get(id);
    if (valid === undefined) {
      valid =
        block.height === this.#h.height &&
        block.prevHash === this.#h.lastBlockHash &&
        block.lastAppHash === this.#h.lastAppHash &&
        block.evidence.every((e) => this.#isValidEvidence(e)) &&
        new Set(block.evidence.map(evidenceKey)).size === block.evidence.length &&
        this.#app.processProposal(block);
      this.#h.validity.set(id, valid);
    }
    return valid;
  }

  #isValidEvidence({ first, second }: Evidence): boolean {
    return (
      first.validator === second.validator &&
      first.type === second.type &&
      first.height === second.height &&
      first.round === second.round &&
      first.blockHash !== second.blockHash &&
      first.height <= this.#h.height &&
      this.#verifyVote(first) &&
      this.#verifyVote(second)
    );
  }
}

function evidenceKey(e: Evidence): string {
  return `${e.first.validator}:${e.first.height}:${e.first.round}:${e.first.type}`;
}

/** Messages that may carry a block (up to the message limits), as opposed to a vote's or a request's few bytes. */
function isBulky(message: ConsensusMessage): boolean {
  return message.type === "proposal" || message.type === "commit" || message.type === "votes";
}

function pick(input: { height: number; round: number; step: TimerKind }) {
  return { height: input.height, round: input.round, step: input.step };
}
