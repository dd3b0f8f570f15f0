/**
 * The new node's side of the handover, sans-IO. Per chunk of moved keys it
 *  1. takes the chunk's records (public key and every old Y_i per key) once t_old + 1 old nodes sent identical bytes;
 *  2. runs, per old dealer, the receiving side of the key-generation AVSS (echo/ready among the new nodes, with
 *     node/dkg/sharing.ts) on Feldman commitments, refusing any whose constant terms are not the moved Y_dealer;
 *  3. proposes the dealers whose sharings completed (at least k_old, each with k_new + t_new signed readies) to the
 *     ordering service (e + 1's BFT), and on the first valid decision combines the sub-shares of the first k_old
 *     decided dealers by Lagrange over their old indexes: s'_j = Σ λ_i f_i(j, 0), with the public commitment
 *     Ĉ = Σ λ_i C_i(x, 0), whose constant term must be the unchanged public key and whose value at m is Y'_m.
 * Outputs are carried out in order: a `persist` before the messages that depend on it.
 */
import type { Rng } from "../crypto/field.ts";
import { PendingChecks, type CheckedInput, type CheckOutput } from "../dkg/checks.ts";
import { fitsMovedKeys, receiverAvss } from "./receiver-avss.ts";
import { chunkOfRecord, type ReceiverRecord } from "./receiver-records.ts";
import { RecordCopies, acceptedRecords, type AcceptedRecords, type ChunkRecords } from "./record-copies.ts";
import { combineReshares } from "./reshare-combine.ts";
import { AvssRound, type AvssProtocol } from "../dkg/avss-round.ts";
import { WaitingMessages } from "../dkg/waiting-messages.ts";
import type { Sharing } from "../dkg/sharing.ts";
import type { NodeSigner } from "../dkg/types.ts";
import { reshareDecisionProblem } from "./decision.ts";
import type { Party, PssMessage, ReshareDecision, ResharedKey, Thresholds } from "./types.ts";
import { MalformedPssMessage, parsePssMessage, parseReshareDecision, type ParsedPss, type PssShape } from "./wire.ts";

export interface ReceiverConfig {
  transition: number;
  old: Thresholds;
  new: Thresholds;
  /** This node's index in the new epoch, 1..n_new. */
  self: number;
  chunkSize: number;
  /** How long a chunk may make no progress before this node asks old and new peers to resend. */
  resendMs: number;
  /**
   * The new epoch's encoded signing domain (node/crypto/domain.ts): it names the deployment, the old and the new epoch
   * and the attempt, and every ready signature carries it.
   */
  signingDomain: string;
  /** Signs and checks ready signatures of the new nodes. */
  signer: NodeSigner;
  rng: Rng;
  /** Hand the curve work of checking the old dealers' sends to the shell as `check` outputs (node/dkg/checks.ts). */
  deferChecks?: boolean;
}

export type ReceiverInput =
  | { type: "message"; from: Party; message: unknown }
  | { type: "decided"; decision: unknown }
  | { type: "timer"; chunk: number }
  | CheckedInput;

export type ReceiverOutput =
  | { type: "persist"; record: ReceiverRecord }
  | { type: "send"; to: Party; message: PssMessage }
  | { type: "propose"; decision: ReshareDecision }
  /** A chunk is done: its keys with this node's verified new shares, and the handover's chunk count and next index. */
  | { type: "keys"; chunk: number; chunks: number; nextKeyIndex: number; keys: ResharedKey[] }
  /** Every chunk is done: this node holds verified shares of every moved key. */
  | { type: "done"; keys: number; nextKeyIndex: number }
  | { type: "timer"; chunk: number; delayMs: number }
  | { type: "rejected"; from: Party | undefined; reason: string }
  | CheckOutput;

interface Chunk {
  chunk: number;
  copies: RecordCopies;
  accepted?: AcceptedRecords;
  /** AVSS messages that arrived before the records were accepted (bounded). */
  waiting: WaitingMessages<Party, ParsedPss>;
  /** The AVSS receiving side: one sharing per old dealer (node/dkg/avss-round.ts), once the records are accepted. */
  avss: AvssRound;
  decision?: ReshareDecision;
  proposed: boolean;
  keys?: ResharedKey[];
}

/** Chunks this node opens before it knows how many there are (a Byzantine old node cannot make it open more). */
const MAX_UNKNOWN_CHUNKS = 100_000;

export class ReshareReceiver {
  readonly #c: ReceiverConfig;
  readonly #shape: PssShape;
  /** What the chunks' AVSS rounds need of the handover (node/dkg/avss-round.ts). */
  readonly #avss: AvssProtocol;
  readonly #chunks = new Map<number, Chunk>();
  #chunkCount: number | undefined;
  /** Chunks with a resend timer running (one per chunk). */
  readonly #timed = new Set<number>();
  #done = false;
  /** Restored from a `completed` record: nothing is left to receive, answer or confirm. */
  #finished = false;
  #out: ReceiverOutput[] = [];
  readonly #checks: PendingChecks;
  #loopback: ParsedPss[] = [];

  constructor(config: ReceiverConfig) {
    const { n, t, k } = config.new;
    if (!(n >= 4 * t + 1 && k === Math.floor(n / 2) + 1 && k <= n - 2 * t))
      throw new RangeError(`bad new thresholds n${n} k${k} t${t}`);
    if (config.self < 1 || config.self > n) throw new RangeError(`self must be in 1..${n}`);
    this.#c = config;
    this.#checks = new PendingChecks(config.deferChecks ?? false, config.rng, (output) => this.#out.push(output));
    this.#shape = { nOld: config.old.n, nNew: n, kNew: k, chunkSize: config.chunkSize };
    this.#avss = receiverAvss({
      config,
      checks: this.#checks,
      send: (to, message) => this.#send(to, message),
      reject: (from, reason) => this.#reject(from, reason),
      persist: (record) => this.#out.push({ type: "persist", record }),
    });
  }

  /** Every chunk is done here: this node holds verified shares of every moved key. */
  get done(): boolean {
    return this.#done;
  }

  /** The handover completed and its records were erased (a `completed` record): every input is ignored. */
  get finished(): boolean {
    return this.#finished;
  }

  step(input: ReceiverInput): ReceiverOutput[] {
    this.#out = [];
    if (this.#finished) return this.#out;
    switch (input.type) {
      case "message":
        this.#onMessage(input.from, input.message);
        break;
      case "decided":
        this.#onDecision(input.decision);
        break;
      case "timer":
        this.#onTimer(input.chunk);
        break;
      case "checked":
        this.#checks.settle(input);
        break;
    }
    this.#drainLoopback();
    return this.#out;
  }

  /** A fresh start: arms the resend timers. */
  start(): ReceiverOutput[] {
    return this.resume();
  }

  /** Rebuilds the state after a restart from the persisted records, then goes on (`resume`). */
  restore(records: Iterable<ReceiverRecord>): ReceiverOutput[] {
    for (const record of records) this.restoreRecord(record);
    return this.resume();
  }

  /**
   * After the last `restoreRecord` (or at a fresh start): arms the resend timers, and asks every old and new peer to
   * resend each unfinished chunk (messages that arrived while it was down are lost).
   */
  resume(): ReceiverOutput[] {
    this.#out = [];
    if (this.#finished) return this.#out;
    const count = this.#chunkCount ?? 1;
    for (let c = 0; c < count; c++) {
      const chunk = this.#chunks.get(c);
      if (chunk?.keys) continue;
      if (chunk) this.#requestResend(c);
      else this.#arm(c);
    }
    this.#checkDone();
    this.#drainLoopback();
    return this.#out;
  }

  /**
   * Rebuilds what one persisted record says, after a restart: the caller feeds the records in the order they were
   * persisted, as it reads them, and calls `resume` after the last.
   */
  restoreRecord(record: ReceiverRecord): void {
    if (record.kind === "completed") return this.finish();
    if (this.#finished) return;
    const chunk = this.#chunkState(chunkOfRecord(record));
    switch (record.kind) {
      case "records":
        this.#accept(chunk, record);
        break;
      case "sharing":
        chunk.avss.session(record.dealer).restore(record);
        break;
      case "decision":
        chunk.decision = record.decision;
        break;
      case "keys":
        chunk.keys = record.keys;
        break;
    }
  }

  /**
   * Forgets a done chunk's sharings: the rows and columns this node received from each dealer, their commitments and
   * readies. Its `sharing` records are erased alongside (the caller's job, `chunkSharingErasure`); the chunk stays done
   * (its records, decision and keys are kept), answers no resend request any more, and ignores echoes and readies as
   * before. A chunk that is not done here is kept whole.
   */
  forget(chunk: number): void {
    const state = this.#chunks.get(chunk);
    if (state?.keys) state.avss.sessions.clear();
  }

  /**
   * The handover completed and every record was erased (`handoverErasure`, then a `completed` record): everything is
   * forgotten, and every input from now on is ignored.
   */
  finish(): void {
    this.#finished = this.#done = true;
    this.#chunks.clear();
    this.#loopback = [];
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Inputs
  // ---------------------------------------------------------------------------------------------------------------

  #onMessage(from: Party, raw: unknown): void {
    const limit = from.role === "old" ? this.#c.old.n : this.#c.new.n;
    if (!Number.isSafeInteger(from.index) || from.index < 1 || from.index > limit) return;
    if (from.role === "new" && from.index === this.#c.self) return;
    // Every old node sends every chunk's records; once a chunk is taken (t_old + 1 copies), the other copies are not
    // worth parsing and hashing.
    const { type, chunk } = (raw ?? {}) as { type?: unknown; chunk?: unknown };
    if (type === "records" && typeof chunk === "number" && this.#chunks.get(chunk)?.accepted) return;
    let message: ParsedPss;
    try {
      message = parsePssMessage(raw, this.#shape);
    } catch (error) {
      if (error instanceof MalformedPssMessage) return this.#reject(from, error.message);
      throw error;
    }
    const transition = message.type === "records" ? message.transition : message.epoch;
    if (transition !== this.#c.transition) return this.#reject(from, `message of transition ${transition}`);
    // Old nodes send records and their own resharing; everything else is among new nodes.
    const fromOld = message.type === "records" || message.type === "send";
    if (fromOld !== (from.role === "old")) return this.#reject(from, `${message.type} from an ${from.role} node`);
    this.#handle(from, message);
  }

  #handle(from: Party, message: ParsedPss): void {
    const number = message.type === "records" ? message.chunk : message.batch;
    const limit = this.#chunkCount ?? MAX_UNKNOWN_CHUNKS;
    if (number >= limit) return this.#reject(from, `chunk ${number} does not exist`);
    const chunk = this.#chunkState(number);
    if (message.type === "records") return this.#onRecords(from.index, chunk, message);
    if (message.type === "resend") return chunk.avss.resendTo(from.index);
    if (!chunk.accepted) {
      chunk.waiting.add(from, message);
      return;
    }
    // A lagging peer rebuilds a row it was never sent from the echoes it asks for (a resend), whose commitments it
    // asks for too: a finished chunk answers both as long as it keeps its sharings, or a decided dealer that went
    // down after dealing would leave that peer without its new shares for good.
    if (message.type === "commitmentRequest") return chunk.avss.onCommitmentRequest(from.index, message);
    if (chunk.keys) return; // finished: nothing more to take
    switch (message.type) {
      case "send":
        return chunk.avss.onSend(from.index, message);
      case "echo":
      case "ready":
        return chunk.avss.onPoints(from.index, message);
      case "commitments":
        return chunk.avss.onCommitments(from.index, message);
    }
  }

  #onTimer(number: number): void {
    this.#timed.delete(number);
    if (this.#chunks.get(number)?.keys || (this.#chunkCount !== undefined && number >= this.#chunkCount)) return;
    this.#requestResend(number);
  }

  #requestResend(chunk: number): void {
    const message: PssMessage = { type: "resend", transition: this.#c.transition, chunk };
    for (let i = 1; i <= this.#c.old.n; i++) this.#send({ role: "old", index: i }, message);
    for (let m = 1; m <= this.#c.new.n; m++) if (m !== this.#c.self) this.#send({ role: "new", index: m }, message);
    this.#arm(chunk);
  }

  #arm(chunk: number): void {
    if (this.#timed.has(chunk)) return;
    this.#timed.add(chunk);
    this.#out.push({ type: "timer", chunk, delayMs: this.#c.resendMs });
  }

  #reject(from: Party | undefined, reason: string): void {
    this.#out.push({ type: "rejected", from, reason });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Moved records
  // ---------------------------------------------------------------------------------------------------------------

  #chunkState(number: number): Chunk {
    let chunk = this.#chunks.get(number);
    if (!chunk) {
      const state: Chunk = {
        chunk: number,
        copies: new RecordCopies(this.#c.old.t + 1),
        // An honest new node sends an echo, a ready and a commitment exchange or two per dealer, an old node its
        // resharing.
        waiting: new WaitingMessages(4 * this.#c.old.n + 4, (from: Party) => `${from.role}:${from.index}`),
        avss: new AvssRound(this.#avss, number, {
          // A chunk's sessions run only once its records are accepted (#handle holds their messages until then).
          keys: () => state.accepted!.keys.length,
          alive: () => state.keys === undefined, // done while a check ran
          decided: () => state.decision?.dealers,
          refuses: (dealer, commitments) =>
            fitsMovedKeys(state.accepted!.shareKeys, dealer, commitments)
              ? undefined
              : "commitments that do not commit to the moved share keys",
          completed: () => this.#progressChunk(state),
        }),
        proposed: false,
      };
      chunk = state;
      this.#chunks.set(number, chunk);
    }
    return chunk;
  }

  /** The records of a chunk count once t_old + 1 old nodes sent the same bytes: at least one of them is honest. */
  #onRecords(from: number, chunk: Chunk, message: ParsedPss & { type: "records" }): void {
    if (chunk.accepted) return;
    const { chunks, nextKeyIndex, keys } = message;
    const record = chunk.copies.add(from, message.digest, { chunks, nextKeyIndex, keys });
    if (!record || !this.#accept(chunk, record)) return;
    this.#out.push({ type: "persist", record: { kind: "records", chunk: chunk.chunk, ...record } });
    // Now the number of chunks is known: every one of them gets a timer, so none is waited for forever.
    for (let c = 0; c < record.chunks; c++) if (!this.#chunks.get(c)?.keys) this.#arm(c);
    for (const { from: sender, message: m } of chunk.waiting.take()) this.#handle(sender, m);
  }

  /** Takes a chunk's agreed records; every chunk must agree on the chunk count and the next key index. */
  #accept(chunk: Chunk, record: ChunkRecords): boolean {
    const { chunks, nextKeyIndex } = record;
    const other = [...this.#chunks.values()].find((c) => c.accepted)?.accepted;
    if (other && (other.chunks !== chunks || other.nextKeyIndex !== nextKeyIndex)) {
      // t_old + 1 old nodes vouched for both: impossible with at most t_old Byzantine ones.
      this.#reject(undefined, `chunk ${chunk.chunk} disagrees with another on the chunk count or next key index`);
      return false;
    }
    this.#chunkCount = chunks;
    for (const number of this.#chunks.keys()) if (number >= chunks) this.#chunks.delete(number);
    chunk.accepted = acceptedRecords(record);
    return true;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Dealer set and the new shares
  // ---------------------------------------------------------------------------------------------------------------

  #progressChunk(chunk: Chunk): void {
    const dealers = chunk.decision || chunk.proposed ? undefined : chunk.avss.completedDealers(this.#c.old.k);
    if (dealers) {
      chunk.proposed = true;
      this.#out.push({
        type: "propose",
        decision: { type: "reshareDealers", transition: this.#c.transition, chunk: chunk.chunk, dealers },
      });
    }
    if (chunk.decision && !chunk.keys) this.#computeShares(chunk);
  }

  #onDecision(raw: unknown): void {
    let decision: ReshareDecision;
    try {
      decision = parseReshareDecision(raw, this.#shape);
    } catch (error) {
      if (error instanceof MalformedPssMessage) return this.#reject(undefined, `decision: ${error.message}`);
      throw error;
    }
    if (decision.transition !== this.#c.transition) return;
    if (this.#chunkCount !== undefined && decision.chunk >= this.#chunkCount) return;
    const chunk = this.#chunkState(decision.chunk);
    if (chunk.decision) return; // the first valid decision wins
    const problem = reshareDecisionProblem(
      decision,
      this.#c.old,
      this.#c.new,
      this.#c.signingDomain,
      (node, bytes, sig) => this.#c.signer.verify(node, bytes, sig),
    );
    if (problem) return this.#reject(undefined, `decision for chunk ${decision.chunk}: ${problem}`);
    chunk.decision = decision;
    this.#out.push({ type: "persist", record: { kind: "decision", decision } });
    if (chunk.accepted) this.#progressChunk(chunk);
  }

  /** Once the sharings of the first k_old decided dealers are complete here: the new shares (reshare-combine.ts). */
  #computeShares(chunk: Chunk): void {
    const used = [...chunk.decision!.dealers].sort((a, b) => a.dealer - b.dealer).slice(0, this.#c.old.k);
    const sessions = used.map((d) => chunk.avss.sessions.get(d.dealer));
    if (sessions.some((s, j) => s?.completed !== used[j]!.hash || s.own?.hash !== used[j]!.hash)) return;
    const { accepted } = chunk;
    const { n, k } = this.#c.new;
    const keys = combineReshares({
      chunk: chunk.chunk,
      dealers: used.map((d) => d.dealer),
      sessions: sessions as Sharing[],
      keys: accepted!.keys,
      publicKeys: accepted!.publicKeys,
      self: this.#c.self,
      n,
      k,
    });
    chunk.keys = keys;
    this.#out.push({ type: "persist", record: { kind: "keys", chunk: chunk.chunk, keys } });
    const { chunks, nextKeyIndex } = chunk.accepted!;
    this.#out.push({ type: "keys", chunk: chunk.chunk, chunks, nextKeyIndex, keys });
    chunk.avss.release();
    this.#checkDone();
  }

  #checkDone(): void {
    if (this.#done || this.#chunkCount === undefined) return;
    let keys = 0;
    let nextKeyIndex = 0;
    for (let c = 0; c < this.#chunkCount; c++) {
      const chunk = this.#chunks.get(c);
      if (!chunk?.keys) return;
      keys += chunk.keys.length;
      nextKeyIndex = chunk.accepted!.nextKeyIndex;
    }
    this.#done = true;
    this.#out.push({ type: "done", keys, nextKeyIndex });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Transport
  // ---------------------------------------------------------------------------------------------------------------

  #send(to: Party, message: PssMessage): void {
    if (to.role === "new" && to.index === this.#c.self) this.#loopback.push(parsePssMessage(message, this.#shape));
    else this.#out.push({ type: "send", to, message });
  }

  #drainLoopback(): void {
    for (let guard = 0; this.#loopback.length > 0; guard++) {
      if (guard > 100_000) throw new Error("handover loopback did not settle (a bug)");
      this.#handle({ role: "new", index: this.#c.self }, this.#loopback.shift()!);
    }
  }
}
