/**
 * Key generation for one epoch as a sans-IO state machine: every node deals an AVSS sharing per batch of B keys
 * (sharing.ts), the set of completed dealers is agreed through an ordering service (`propose` out, `decided` in; the
 * BFT network in production), and each node then publishes Y_i = s_i·G with a proof against its Pedersen commitment;
 * any k valid Y_i fix the public key and every other Y_j. A key buffer starts batches as assignments drain it.
 *
 * Outputs are carried out in order: `persist` before the messages that depend on it (a dealing is on disk before any
 * row of it is sent, so a restarted dealer never deals a second polynomial for the same batch).
 */
import { bivariateRow, randomSymmetricBivariate, type BivariatePolynomial } from "../crypto/bivariate.ts";
import { randomScalar, type Rng } from "../crypto/field.ts";
import { ownPointHex, type Point } from "../crypto/point.ts";
import type { SharesJob } from "./batch-shares.ts";
import { PendingChecks, type CheckedInput, type CheckOutput } from "./checks.ts";
import { dealCommitments } from "./dealing.ts";
import { decisionProblem } from "./decision.ts";
import { AvssRound, type AvssProtocol } from "./avss-round.ts";
import type { OwnRows, Sharing, SharingRecord } from "./sharing.ts";
import type { DealerDecision, DkgMessage, GeneratedKey, NodeSigner, ProofsMessage } from "./types.ts";
import {
  MalformedDkgMessage,
  matricesToWire,
  parseDecision,
  parseDkgMessage,
  parseScalar,
  pointsToWire,
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

interface Batch {
  batch: number;
  dealing?: { f: BivariatePolynomial[]; fb: BivariatePolynomial[]; commitments: Point[][][]; wire: string[][][] };
  /** The AVSS receiving side: one sharing per dealer (avss-round.ts). */
  avss: AvssRound;
  decision?: DealerDecision;
  proposed: boolean;
  /** After the decision: Σ over dealers of column 0 of each key's matrix, the commitment to f(x, 0). */
  columnCommitments?: Point[][];
  shares?: { s: bigint[]; r: bigint[] };
  /** This node's Y_i with their proofs, made with the shares. */
  proofs?: ProofsMessage["proofs"];
  shareKeys: Map<number, Point[]>;
  parkedProofs: Map<number, ParsedMessage & { type: "proofs" }>;
  /** Jobs under way: "send:<dealer>", "proofs:<node>" and "shares", so that a resent copy does not start a second. */
  checking: Set<string>;
  keys?: GeneratedKey[];
}

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
  readonly #batches = new Map<number, Batch>();
  #nextBatch = 0;
  #refilling = false;
  #out: KeygenOutput[] = [];
  readonly #checks: PendingChecks;
  /** Messages for batches not started yet, and how many each sender sent (see #batchFor). */
  readonly #early = new Map<
    number,
    { senders: Map<number, number>; messages: { from: number; message: ParsedMessage }[] }
  >();
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
    this.#avss = {
      self: config.self,
      n,
      t,
      k,
      epoch: config.epoch,
      domain: "dkg",
      signingDomain: config.signingDomain,
      signer: config.signer,
      feldman: false,
      checks: this.#checks,
      sendPoints: (to, id, session, type) => {
        const points = session.pointsForPeer(to).map(pointsToWire);
        if (type === "echo") this.#send(to, { type, ...id, hash: session.own!.hash, points });
        else this.#send(to, { type, ...id, hash: session.readied!, points, signature: session.readySignature });
      },
      askCommitments: (to, id, hash) => this.#send(to, { type: "commitmentRequest", ...id, hash }),
      reject: (from, reason) => this.#reject(from, reason),
      persist: (batch, dealer, record) =>
        this.#out.push({ type: "persist", record: { kind: "sharing", batch, dealer, ...record } }),
    };
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
        const { commitments } = dealCommitments({ kind: "deal", f, fb });
        batch.dealing = { f, fb, commitments, wire: matricesToWire(commitments) };
        break;
      }
      case "sharing":
        batch.avss.session(record.dealer).restore(record);
        break;
      case "decision":
        batch.decision = record.decision;
        break;
      case "keys":
        batch.keys = record.keys;
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
      this.#progressBatch(b);
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
      case "commitmentRequest": {
        const commitments = batch.avss.commitmentsOf(message.dealer, message.hash);
        if (commitments) {
          this.#send(from, {
            type: "commitments",
            epoch: this.#c.epoch,
            batch: batch.batch,
            dealer: message.dealer,
            commitments: matricesToWire(commitments),
          });
        }
        return;
      }
      case "commitments":
        return batch.avss.onCommitments(from, message);
      case "resend":
        return this.#resendTo(from, batch);
      case "proofs":
        return this.#onProofs(from, batch, message);
    }
  }

  /**
   * The state of a batch. A batch this node has not started yet starts (and it deals) once t + 1 peers work on it:
   * at least one of them is honest, so a Byzantine node cannot make it deal batches nobody asked for. Until then
   * their messages wait, a bounded number of them.
   */
  #batchFor(number: number, from: number, message: ParsedMessage): Batch | undefined {
    const existing = this.#batches.get(number);
    if (existing) return existing;
    if (number < this.#nextBatch || number >= this.#nextBatch + MAX_BATCHES_AHEAD) {
      this.#reject(from, `batch ${number} is not open here`);
      return undefined;
    }
    let early = this.#early.get(number);
    if (!early) this.#early.set(number, (early = { senders: new Map(), messages: [] }));
    // Kept per sender, so that a Byzantine node cannot push out what honest ones sent. An honest one sends its
    // dealing, per dealer an echo, a ready and a commitment exchange, and its proofs.
    const kept = early.senders.get(from) ?? 0;
    early.senders.set(from, kept + 1);
    if (kept < 4 * this.#c.n + 8) early.messages.push({ from, message });
    if (early.senders.size <= this.#c.t) return undefined;
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
    if (batch?.shares && !batch.keys) this.#tryPublicKeys(batch, true);
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
    this.#deal(batch, f, fb);
    this.#out.push({ type: "timer", batch: number, delayMs: this.#c.resendMs });
    const early = this.#early.get(number);
    this.#early.delete(number);
    for (const { from, message } of early?.messages ?? []) this.#handle(from, message);
  }

  #newBatch(number: number): Batch {
    const batch: Batch = {
      batch: number,
      avss: new AvssRound(this.#avss, number, {
        keys: () => this.#c.batchSize,
        alive: () => this.#batches.get(number) === batch, // not forgotten while a check ran
        decided: () => batch.decision?.dealers,
        completed: () => this.#progressBatch(batch),
      }),
      proposed: false,
      shareKeys: new Map(),
      parkedProofs: new Map(),
      checking: new Set(),
    };
    this.#batches.set(number, batch);
    return batch;
  }

  /** The dealing's commitments (dealing.ts; on a worker when the node has them), then its rows to every node. */
  #deal(batch: Batch, f: BivariatePolynomial[], fb: BivariatePolynomial[]): void {
    batch.checking.add("deal");
    this.#checks.run({ kind: "deal", f, fb }, ({ commitments }) => {
      batch.checking.delete("deal");
      if (this.#batches.get(batch.batch) !== batch) return;
      batch.dealing = { f, fb, commitments, wire: matricesToWire(commitments) };
      for (let m = 1; m <= this.#c.n; m++) if (m !== this.#c.self) this.#send(m, this.#sendMessage(batch, m));
      this.#loopback.push(this.#ownSend(batch));
    });
  }

  /** This node's own send as parsed, from its dealing: its points need no decoding. */
  #ownSend(batch: Batch): ParsedMessage & { type: "send" } {
    const { f, fb, commitments } = batch.dealing!;
    const x = BigInt(this.#c.self);
    const rows = f.map((p) => bivariateRow(p, x));
    const rowBlindings = fb.map((p) => bivariateRow(p, x));
    return {
      type: "send",
      ...batch.avss.id(this.#c.self),
      commitments,
      rows,
      rowBlindings,
      cols: rows,
      colBlindings: rowBlindings,
    };
  }

  #sendMessage(batch: Batch, m: number): DkgMessage {
    const { f, fb, wire } = batch.dealing!;
    const x = BigInt(m);
    const rows = f.map((p) => bivariateRow(p, x).map(scalarHex));
    const rowBlindings = fb.map((p) => bivariateRow(p, x).map(scalarHex));
    return {
      type: "send",
      epoch: this.#c.epoch,
      batch: batch.batch,
      dealer: this.#c.self,
      commitments: wire,
      rows,
      rowBlindings,
      // The polynomials are symmetric: node m's column is its row.
      cols: rows,
      colBlindings: rowBlindings,
    };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // AVSS
  // ---------------------------------------------------------------------------------------------------------------

  #resendTo(peer: number, batch: Batch): void {
    if (batch.dealing) this.#send(peer, this.#sendMessage(batch, peer));
    batch.avss.resendTo(peer);
    if (batch.shares) this.#send(peer, this.#proofsMessage(batch));
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Dealer set, shares, public keys
  // ---------------------------------------------------------------------------------------------------------------

  #progressBatch(batch: Batch): void {
    const { k, t } = this.#c;
    const dealers = batch.decision || batch.proposed ? undefined : batch.avss.completedDealers(k + t);
    if (dealers) {
      batch.proposed = true;
      this.#out.push({
        type: "propose",
        decision: { type: "dealers", epoch: this.#c.epoch, batch: batch.batch, dealers },
      });
    }
    if (batch.decision && !batch.shares) this.#computeShares(batch);
    if (batch.shares && !batch.keys) this.#tryPublicKeys(batch);
  }

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
    batch.decision = decision;
    this.#out.push({ type: "persist", record: { kind: "decision", decision } });
    this.#progressBatch(batch);
  }

  /**
   * Once the sharings of the first k + t decided dealers are complete here: this node's shares of the batch's keys,
   * and its Y_i with proofs, to every node (batch-shares.ts; on a worker when the node has them).
   */
  #computeShares(batch: Batch): void {
    const { batchSize, k, t, self } = this.#c;
    const used = [...batch.decision!.dealers].sort((a, b) => a.dealer - b.dealer).slice(0, k + t);
    const sessions = used.map((d) => batch.avss.sessions.get(d.dealer));
    if (sessions.some((s, j) => s?.completed !== used[j]!.hash)) return; // AVSS will complete them
    if (batch.checking.has("shares")) return;
    batch.checking.add("shares");
    const owns = (sessions as Sharing[]).map((session) => session.own!);
    const perSharing = <T>(pick: (own: OwnRows, j: number, sharing: number) => T) =>
      Array.from({ length: batchSize }, (_, sharing) => owns.map((own, j) => pick(own, j, sharing)));
    const job: SharesJob = {
      kind: "shares",
      k,
      self,
      dealers: used.map((d) => d.dealer),
      // f_j(i, 0) is the constant term of this node's row; column 0 of the matrix commits to f_j(x, 0).
      values: perSharing((own, _, sharing) => own.rows[sharing]![0]!),
      blindings: perSharing((own, _, sharing) => own.rowBlindings[sharing]![0]!),
      dealerColumns: perSharing((own, j, sharing) =>
        (sessions[j] as Sharing).commitments.get(own.hash)![sharing]!.map((row) => row[0]!),
      ),
      contexts: Array.from({ length: this.#keysPerBatch }, (_, key) => this.#proofContext(batch, key, self)),
    };
    this.#checks.run(job, ({ s, r, columns, proofs }) => {
      batch.checking.delete("shares");
      if (this.#batches.get(batch.batch) !== batch || batch.shares) return;
      batch.shares = { s, r };
      batch.columnCommitments = columns;
      batch.proofs = proofs;
      // One message for every node: its proofs are of this node's shares, whoever checks them. This node takes its
      // own share keys as they are: it computed them.
      const message = this.#proofsMessage(batch);
      for (let m = 1; m <= this.#c.n; m++) if (m !== this.#c.self) this.#send(m, message);
      this.#loopback.push({ type: "proofs", epoch: this.#c.epoch, batch: batch.batch, proofs: proofs.map(ownProof) });
      for (const [from, parked] of batch.parkedProofs) this.#checkProofs(batch, from, parked);
      batch.parkedProofs.clear();
      if (this.#c.deferChecks) this.#progressBatch(batch); // inline, the caller goes on with the batch itself
    });
  }

  #proofContext(batch: Batch, key: number, node: number): Uint8Array {
    return new TextEncoder().encode(
      `dkg-share/1\x1c${this.#c.epoch}\x1c${this.#keyIndex(batch.batch, key)}\x1c${node}`,
    );
  }

  /** This node's proofs of its shares of the batch, made once, sent to every node and again to a lagging one. */
  #proofsMessage(batch: Batch): DkgMessage {
    return { type: "proofs", epoch: this.#c.epoch, batch: batch.batch, proofs: batch.proofs! };
  }

  #onProofs(from: number, batch: Batch, message: ParsedMessage & { type: "proofs" }): void {
    if (batch.shareKeys.has(from) || batch.keys) return;
    if (!batch.columnCommitments) {
      batch.parkedProofs.set(from, message);
      return;
    }
    this.#checkProofs(batch, from, message);
    this.#progressBatch(batch);
  }

  #checkProofs(batch: Batch, from: number, message: ParsedMessage & { type: "proofs" }): void {
    const accept = () =>
      batch.shareKeys.set(
        from,
        message.proofs.map((p) => p.Y),
      );
    if (from === this.#c.self) return void accept();
    const checking = `proofs:${from}`;
    if (batch.checking.has(checking)) return;
    batch.checking.add(checking);
    const claims = message.proofs.map(({ Y, T1, T2, u1, u2 }, key) => ({
      Y,
      proof: { T1, T2, u1, u2 },
      context: this.#proofContext(batch, key, from),
    }));
    this.#checks.run({ kind: "shareProofs", prover: from, columns: batch.columnCommitments!, claims }, (verdict) => {
      batch.checking.delete(checking);
      if (!verdict.ok) return this.#reject(from, verdict.reason);
      if (batch.keys || batch.shareKeys.has(from)) return;
      accept();
      if (this.#c.deferChecks) this.#progressBatch(batch); // inline, the caller goes on with the batch itself
    });
  }

  /**
   * k valid Y_j fix the public key and every node's Y (public-keys.ts; on a worker when the node has them). Normally
   * all n arrive and only the public key is interpolated; a node that waits for missing ones too long (its resend
   * timer) interpolates them from k.
   */
  #tryPublicKeys(batch: Batch, force = false): void {
    const { k, n } = this.#c;
    if (batch.shareKeys.size < k || (batch.shareKeys.size < n && !force)) return;
    if (batch.checking.has("publicKeys")) return;
    batch.checking.add("publicKeys");
    const shareKeys = Array.from({ length: n }, (_, m) => batch.shareKeys.get(m + 1) ?? null);
    this.#checks.run({ kind: "publicKeys", k, shareKeys }, (combined) => {
      batch.checking.delete("publicKeys");
      if (this.#batches.get(batch.batch) !== batch || batch.keys) return;
      const keys: GeneratedKey[] = combined.publicKeys.map((publicKey, key) => ({
        keyIndex: this.#keyIndex(batch.batch, key),
        publicKey,
        shareKeys: combined.shareKeys[key]!,
        share: scalarHex(batch.shares!.s[key]!),
        blinding: scalarHex(batch.shares!.r[key]!),
      }));
      batch.keys = keys;
      this.#out.push({ type: "persist", record: { kind: "keys", batch: batch.batch, keys } });
      this.#out.push({ type: "keys", batch: batch.batch, keys });
      this.#retire(batch);
    });
  }

  /**
   * A finished batch keeps only what answering a lagging peer's resend needs (the dealing, each sharing's own row and
   * column and its commitments, the shares for the proofs), until its resend window ends (`forget`); batches far
   * behind are forgotten sooner (their records stay on disk until that window ends).
   */
  #retire(batch: Batch): void {
    batch.avss.release();
    batch.parkedProofs.clear();
    for (const old of this.#batches.keys()) if (old < batch.batch - RETAINED_BATCHES) this.#batches.delete(old);
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

/** A proof this node made, as parsed: its points are its own, taken without decoding (`ownPointHex`). */
function ownProof({ Y, T1, T2, u1, u2 }: ProofsMessage["proofs"][number]) {
  return { Y: ownPointHex(Y), T1: ownPointHex(T1), T2: ownPointHex(T2), u1: BigInt("0x" + u1), u2: BigInt("0x" + u2) };
}
