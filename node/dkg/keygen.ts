/**
 * Key generation for one epoch as a sans-IO state machine: every node deals an AVSS sharing per batch of B keys
 * (sharing.ts), the set of completed dealers is agreed through an ordering service (`propose` out, `decided` in; the
 * BFT network in production), and each node then publishes Y_i = s_i·G with a proof against its Pedersen commitment;
 * any k valid Y_i fix the public key and every other Y_j. A key buffer starts batches as assignments drain it.
 *
 * Outputs are carried out in order: `persist` before the messages that depend on it (a dealing is on disk before any
 * row of it is sent, so a restarted dealer never deals a second polynomial for the same batch).
 */
import { randomSymmetricBivariate, type BivariatePolynomial } from "../crypto/bivariate.ts";
import { randomScalar, type Rng } from "../crypto/field.ts";
import { PendingChecks, type CheckedInput, type CheckOutput } from "./checks.ts";
import { dealCommitments } from "./dealing.ts";
import { decisionProblem } from "./decision.ts";
import type { AvssProtocol } from "./avss-round.ts";
import { KeygenBatch, batchAvss, type BatchHost } from "./keygen-batch.ts";
import { WaitingMessages } from "./waiting-messages.ts";
import type { SharingRecord } from "./sharing.ts";
import type { DealerDecision, DkgMessage, GeneratedKey, NodeSigner } from "./types.ts";
import {
  MalformedDkgMessage,
  parseDecision,
  parseDkgMessage,
  parseScalar,
  scalarHex,
  type ParsedMessage,
  type Shape,
} from "./wire.ts";

export interface KeygenConfig {
  epoch: number;
  n: number;
  t: number;
  k: number;
  /** This node's index, 1..n. */
  self: number;
  batchSize: number;
  /** Unassigned keys to keep generated ahead of demand. */
  keyBuffer: number;
  /** Batches start when fewer keys than this are ahead (default: half of keyBuffer). */
  refillMark?: number;
  maxConcurrentBatches: number;
  /** How long a batch may make no progress before this node asks its peers to resend. */
  resendMs: number;
  /** Index of the first key (default 0); a successor epoch continues from the moved next key index. */
  firstKeyIndex?: number;
  /** The epoch's encoded signing domain (node/crypto/domain.ts), which every ready signature names. */
  signingDomain: string;
  signer: NodeSigner;
  rng: Rng;
  /**
   * Hand the curve work of checking peers' sends and proofs to the shell as `check` outputs (a node with a worker
   * pool) instead of doing it in place (the default).
   */
  deferChecks?: boolean;
}

/** Default number of generated, unassigned keys a node keeps ahead of demand. */
export const DEFAULT_KEY_BUFFER = 64;

export type KeygenRecord =
  | { kind: "dealing"; batch: number; f: string[][][]; fb: string[][][] }
  | ({ kind: "sharing"; batch: number; dealer: number } & SharingRecord)
  | { kind: "decision"; decision: DealerDecision }
  | { kind: "keys"; batch: number; keys: GeneratedKey[] }
  /**
   * Every record of this batch was erased from the log (the node's key store holds its shares; see
   * KeygenDriver's erasure): the batch, and every earlier one the log holds nothing of, finished here.
   */
  | { kind: "erased"; batch: number };

export type KeygenInput =
  | { type: "message"; from: number; message: unknown }
  /** A decision the ordering service delivered (in the same order to every node). */
  | { type: "decided"; decision: unknown }
  /** Generated keys not yet assigned; the buffer starts batches to keep `keyBuffer` of them. */
  | { type: "demand"; unassigned: number }
  | { type: "timer"; batch: number }
  | CheckedInput;

export type KeygenOutput =
  | { type: "persist"; record: KeygenRecord }
  | { type: "send"; to: number; message: DkgMessage }
  | { type: "propose"; decision: DealerDecision }
  | { type: "keys"; batch: number; keys: GeneratedKey[] }
  | { type: "timer"; batch: number; delayMs: number }
  | { type: "rejected"; from: number; reason: string }
  | CheckOutput;

const MAX_BATCHES_AHEAD = 4;
/** Finished batches kept in memory to answer resends from peers that are behind. */
const RETAINED_BATCHES = 16;

export class KeyGenerator {
  readonly #c: KeygenConfig;
  readonly #shape: Shape;
  /** What the batches' AVSS rounds need of key generation (avss-round.ts). */
  readonly #avss: AvssProtocol;
  /** Each batch's batchSize sharings per dealer yield k keys each, by randomness extraction. */
  readonly #keysPerBatch: number;
  readonly #batches = new Map<number, KeygenBatch>();
  /** What the batches need of the generator (keygen-batch.ts). */
  readonly #host: BatchHost;
  #nextBatch = 0;
  #refilling = false;
  #out: KeygenOutput[] = [];
  readonly #checks: PendingChecks;
  /** Messages for batches not started yet, and how many each sender sent (see #batchFor). */
  readonly #early = new Map<number, WaitingMessages<number, ParsedMessage>>();
  /** Messages to this node itself, processed after the current input (no recursion). */
  #loopback: ParsedMessage[] = [];

  constructor(config: KeygenConfig) {
    const { n, t, k } = config;
    if (!(n >= 4 * t + 1 && k === Math.floor(n / 2) + 1 && k <= n - 2 * t))
      throw new RangeError(`bad thresholds n${n} k${k} t${t}`);
    if (config.self < 1 || config.self > n) throw new RangeError(`self must be in 1..${n}`);
    this.#c = config;
    this.#checks = new PendingChecks(config.deferChecks ?? false, config.rng, (output) => this.#out.push(output));
    this.#keysPerBatch = config.batchSize * k;
    this.#shape = { n, k, batchSize: config.batchSize, keysPerBatch: this.#keysPerBatch };
    this.#host = {
      config,
      checks: this.#checks,
      keyIndex: (batch, key) => this.#keyIndex(batch, key),
      holds: (batch) => this.#batches.get(batch.batch) === batch,
      send: (to, message) => this.#send(to, message),
      loopback: (message) => this.#loopback.push(message),
      reject: (from, reason) => this.#reject(from, reason),
      persist: (record) => this.#out.push({ type: "persist", record }),
      keys: (batch, keys) => this.#out.push({ type: "keys", batch, keys }),
      propose: (decision) => this.#out.push({ type: "propose", decision }),
      // Batches far behind are forgotten sooner than their resend window (their records stay until it ends).
      finished: (batch) => {
        for (const old of this.#batches.keys()) if (old < batch.batch - RETAINED_BATCHES) this.#batches.delete(old);
      },
    };
    this.#avss = batchAvss(this.#host);
  }

  #keyIndex(batch: number, key: number): number {
    return (this.#c.firstKeyIndex ?? 0) + batch * this.#keysPerBatch + key;
  }

  get nextBatch(): number {
    return this.#nextBatch;
  }

  step(input: KeygenInput): KeygenOutput[] {
    this.#out = [];
    switch (input.type) {
      case "message":
        this.#onMessage(input.from, input.message);
        break;
      case "decided":
        this.#onDecision(input.decision);
        break;
      case "demand":
        this.#onDemand(input.unassigned);
        break;
      case "timer":
        this.#onTimer(input.batch);
        break;
      case "checked":
        this.#checks.settle(input);
        break;
    }
    this.#drainLoopback();
    return this.#out;
  }

  /** A fresh start: nothing to do until the key buffer asks for keys (`demand`) or peers start a batch. */
  start(): KeygenOutput[] {
    return [];
  }

  /**
   * Rebuilds the state after a restart from the persisted records, then asks every peer to resend what it sent this
   * node for each unfinished batch (messages that arrived while it was down are lost): `restoreRecord` for each record
   * in the order they were persisted, then `resume`.
   */
  restore(records: Iterable<KeygenRecord>): KeygenOutput[] {
    for (const record of records) this.restoreRecord(record);
    return this.resume();
  }

  /**
   * Rebuilds what one persisted record says, after a restart: the caller feeds the records in the order they were
   * persisted, as it reads them (a store pages them), and calls `resume` after the last.
   */
  restoreRecord(record: KeygenRecord): void {
    if (record.kind === "erased") {
      this.#nextBatch = Math.max(this.#nextBatch, record.batch + 1);
      return;
    }
    const batch = this.#batches.get(batchOfRecord(record)) ?? this.#newBatch(batchOfRecord(record));
    this.#nextBatch = Math.max(this.#nextBatch, batch.batch + 1);
    switch (record.kind) {
      case "dealing": {
        const f = record.f.map((m) => m.map((row) => row.map((c) => parseScalar(c, "f"))));
        const fb = record.fb.map((m) => m.map((row) => row.map((c) => parseScalar(c, "fb"))));
        batch.restoreDealing(f, fb, dealCommitments({ kind: "deal", f, fb }).commitments);
        break;
      }
      case "sharing":
        batch.avss.session(record.dealer).restore(record);
        break;
      case "decision":
        batch.decide(record.decision);
        break;
      case "keys":
        batch.restoreKeys(record.keys);
        break;
    }
  }

  /** After the last `restoreRecord`: asks every peer to resend for each unfinished batch, and goes on with it. */
  resume(): KeygenOutput[] {
    this.#out = [];
    for (const b of this.#batches.values()) {
      if (b.keys) continue;
      for (let m = 1; m <= this.#c.n; m++) {
        if (m !== this.#c.self) this.#send(m, { type: "resend", epoch: this.#c.epoch, batch: b.batch });
      }
      this.#out.push({ type: "timer", batch: b.batch, delayMs: this.#c.resendMs });
      b.progress();
    }
    this.#drainLoopback();
    return this.#out;
  }

  /**
   * Forgets a finished batch: its dealing, the rows and columns this node received, its shares. Its records are
   * erased from the log alongside (the caller's job); afterwards the batch is one that finished long ago, whose
   * messages, resend requests and decisions change nothing. A batch that has not finished here is kept.
   */
  forget(batch: number): void {
    if (this.#batches.get(batch)?.keys) this.#batches.delete(batch);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Inputs
  // ---------------------------------------------------------------------------------------------------------------

  #onMessage(from: number, raw: unknown): void {
    if (!Number.isSafeInteger(from) || from < 1 || from > this.#c.n || from === this.#c.self) return;
    let message: ParsedMessage;
    try {
      message = parseDkgMessage(raw, this.#shape);
    } catch (error) {
      if (error instanceof MalformedDkgMessage) return this.#reject(from, error.message);
      throw error;
    }
    if (message.epoch !== this.#c.epoch) return this.#reject(from, `message of epoch ${message.epoch}`);
    this.#handle(from, message);
  }

  #reject(from: number, reason: string): void {
    this.#out.push({ type: "rejected", from, reason });
  }

  #handle(from: number, message: ParsedMessage): void {
    const batch = this.#batchFor(message.batch, from, message);
    if (!batch) return;
    switch (message.type) {
      case "send":
        return batch.avss.onSend(from, message, from === this.#c.self);
      case "echo":
      case "ready":
        return batch.avss.onPoints(from, message);
      case "commitmentRequest":
        return batch.avss.onCommitmentRequest(from, message);
      case "commitments":
        return batch.avss.onCommitments(from, message);
      case "resend":
        return batch.resendTo(from);
      case "proofs":
        return batch.onProofs(from, message);
    }
  }

  /**
   * The state of a batch. A batch this node has not started yet starts (and it deals) once t + 1 peers work on it:
   * at least one of them is honest, so a Byzantine node cannot make it deal batches nobody asked for. Until then
   * their messages wait, a bounded number of them.
   */
  #batchFor(number: number, from: number, message: ParsedMessage): KeygenBatch | undefined {
    const existing = this.#batches.get(number);
    if (existing) return existing;
    if (number < this.#nextBatch || number >= this.#nextBatch + MAX_BATCHES_AHEAD) {
      this.#reject(from, `batch ${number} is not open here`);
      return undefined;
    }
    let early = this.#early.get(number);
    // An honest peer sends its dealing, per dealer an echo, a ready and a commitment exchange, and its proofs.
    if (!early)
      this.#early.set(number, (early = new WaitingMessages(4 * this.#c.n + 8, (peer: number) => String(peer))));
    early.add(from, message);
    if (early.senders <= this.#c.t) return undefined;
    while (this.#nextBatch <= number) this.#startBatch();
    return undefined; // #startBatch replays the waiting messages, this one among them
  }

  /**
   * The key buffer: when the keys generated and not yet assigned, plus those of batches under way, fall below the
   * refill mark, start batches until `keyBuffer` are ahead (at most `maxConcurrentBatches` at a time).
   */
  #onDemand(unassigned: number): void {
    const inFlight = [...this.#batches.values()].filter((b) => !b.keys).length;
    let ahead = unassigned + inFlight * this.#keysPerBatch;
    // Hysteresis: refilling starts below the mark and goes on until the buffer is full, not just back at the mark.
    if (ahead < (this.#c.refillMark ?? Math.floor(this.#c.keyBuffer / 2))) this.#refilling = true;
    if (ahead >= this.#c.keyBuffer) this.#refilling = false;
    if (!this.#refilling) return;
    for (let running = inFlight; ahead < this.#c.keyBuffer && running < this.#c.maxConcurrentBatches; running++) {
      this.#startBatch();
      ahead += this.#keysPerBatch;
    }
  }

  #onTimer(batchNumber: number): void {
    const batch = this.#batches.get(batchNumber);
    batch?.tryPublicKeys(true);
    if (!batch || batch.keys) return;
    for (let m = 1; m <= this.#c.n; m++) {
      if (m !== this.#c.self) this.#send(m, { type: "resend", epoch: this.#c.epoch, batch: batchNumber });
    }
    this.#out.push({ type: "timer", batch: batchNumber, delayMs: this.#c.resendMs });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Dealing
  // ---------------------------------------------------------------------------------------------------------------

  #startBatch(): void {
    const number = this.#nextBatch++;
    const batch = this.#newBatch(number);
    const { k, batchSize, rng } = this.#c;
    const f = Array.from({ length: batchSize }, () => randomSymmetricBivariate(randomScalar(rng), k, rng));
    const fb = Array.from({ length: batchSize }, () => randomSymmetricBivariate(randomScalar(rng), k, rng));
    this.#out.push({
      type: "persist",
      record: { kind: "dealing", batch: number, f: f.map(matrixHex), fb: fb.map(matrixHex) },
    });
    batch.deal(f, fb);
    this.#out.push({ type: "timer", batch: number, delayMs: this.#c.resendMs });
    const early = this.#early.get(number);
    this.#early.delete(number);
    for (const { from, message } of early?.take() ?? []) this.#handle(from, message);
  }

  #newBatch(number: number): KeygenBatch {
    const batch = new KeygenBatch(this.#host, this.#avss, number);
    this.#batches.set(number, batch);
    return batch;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Dealer set
  // ---------------------------------------------------------------------------------------------------------------

  #onDecision(raw: unknown): void {
    let decision: DealerDecision;
    try {
      decision = parseDecision(raw, this.#shape);
    } catch (error) {
      if (error instanceof MalformedDkgMessage) return this.#reject(0, `decision: ${error.message}`);
      throw error;
    }
    if (decision.epoch !== this.#c.epoch) return;
    const existing = this.#batches.get(decision.batch);
    if (existing?.decision) return; // the first valid decision wins
    const problem = decisionProblem(decision, this.#c, this.#c.signingDomain, (node, bytes, sig) =>
      this.#c.signer.verify(node, bytes, sig),
    );
    if (problem) return this.#reject(0, `decision for batch ${decision.batch}: ${problem}`);
    // A valid decision is signed by k + t nodes per dealer: a batch this node has not reached yet is real, start it.
    while (this.#nextBatch <= decision.batch) this.#startBatch();
    const batch = this.#batches.get(decision.batch);
    if (!batch) return; // finished long ago
    batch.decide(decision);
    this.#out.push({ type: "persist", record: { kind: "decision", decision } });
    batch.progress();
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Transport
  // ---------------------------------------------------------------------------------------------------------------

  #send(to: number, message: DkgMessage): void {
    if (to === this.#c.self) this.#loopback.push(parseDkgMessage(message, this.#shape));
    else this.#out.push({ type: "send", to, message });
  }

  #drainLoopback(): void {
    for (let guard = 0; this.#loopback.length > 0; guard++) {
      if (guard > 100_000) throw new Error("key generation loopback did not settle (a bug)");
      this.#handleOwn(this.#loopback.shift()!);
    }
  }

  /** A message this node sent itself: trusted, so it skips signature checks but follows the same paths. */
  #handleOwn(message: ParsedMessage): void {
    this.#handle(this.#c.self, message);
  }
}

/** The batch a record belongs to (an `erased` record's: the highest batch erased). */
export function batchOfRecord(record: KeygenRecord): number {
  return record.kind === "decision" ? record.decision.batch : record.batch;
}

/**
 * Erasing a finished batch's records, as a compaction of the log (RecordStore.compact): every record of `batch` goes,
 * and so does the `erased` record, replaced by one for the highest batch erased so far. Restore needs no more: every
 * earlier batch the log holds nothing of finished too, and the order of the records left does not matter to it.
 */
export function batchErasure(batch: number): {
  select: (record: KeygenRecord) => boolean;
  replace: (picked: KeygenRecord[]) => KeygenRecord[];
} {
  return {
    select: (record) => record.kind === "erased" || batchOfRecord(record) === batch,
    replace: (picked) => [
      { kind: "erased", batch: Math.max(batch, ...picked.filter((r) => r.kind === "erased").map((r) => r.batch)) },
    ],
  };
}

function matrixHex(m: BivariatePolynomial): string[][] {
  return m.map((row) => row.map(scalarHex));
}
