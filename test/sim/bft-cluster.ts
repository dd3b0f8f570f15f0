/**
 * n BFT validators (consensus core + mempool + key-mapping app) on the simulated network, each with a simulated disk
 * (WAL frames and a block store) that survives crashes. The runtime loop here is what the real node does with the
 * core's outputs: WAL before anything that follows it, then messages, timers and the block store. With
 * `deferFinalize` the validators leave applying decided blocks to this loop, which answers each `finalize` after a
 * delay (a store loading and committing the block's state) while the core queues what arrives meanwhile.
 */
import {
  Consensus,
  walRecordHeight,
  type ConsensusInput,
  type ConsensusOutput,
  type WalRecord,
} from "../../node/bft/consensus.ts";
import { blockHash } from "../../node/bft/encoding.ts";
import { Mempool } from "../../node/bft/mempool.ts";
import {
  DEFAULT_TIMEOUTS,
  type Proposal,
  type Vote,
  type Commit,
  type ConsensusMessage,
  type SignatureScheme,
  type TimeoutConfig,
} from "../../node/bft/types.ts";
import { decodeWal, encodeWalRecord } from "../../node/bft/wal.ts";
import { KeyMappingApp } from "../../node/app/key-mapping-app.ts";
import type { Prng } from "../support/prng.ts";
import { CALM, SimNetwork, type NetworkFaults } from "./network.ts";
import { Scheduler } from "./scheduler.ts";

export class SimCrash extends Error {
  override readonly name = "SimCrash";
}

/** What survives a crash. */
export class SimDisk {
  readonly wal: Uint8Array[] = [];
  readonly blocks: Commit[] = [];
  writes = 0;
  /** Crash when this many WAL appends have happened (the append itself is lost, or torn if `tearOnCrash`). */
  crashAtWrite = Infinity;
  tearOnCrash = false;

  appendWal(record: WalRecord): void {
    const frame = encodeWalRecord(record);
    this.writes++;
    if (this.writes >= this.crashAtWrite) {
      this.crashAtWrite = Infinity;
      if (this.tearOnCrash) this.wal.push(frame.subarray(0, Math.max(1, frame.length >> 1)));
      throw new SimCrash(`crash at WAL write ${this.writes}`);
    }
    this.wal.push(frame);
  }

  /** The disk loses its last complete record (a write that was acknowledged but never reached the platter). */
  loseLastRecord(): void {
    this.wal.pop();
  }

  readWal(): WalRecord[] {
    const total = this.wal.reduce((sum, f) => sum + f.length, 0);
    const bytes = new Uint8Array(total);
    let offset = 0;
    for (const frame of this.wal) {
      bytes.set(frame, offset);
      offset += frame.length;
    }
    return decodeWal(bytes).records as WalRecord[];
  }
}

export interface ClusterOptions {
  n: number;
  prng: Prng;
  schemes: SignatureScheme[];
  faults?: NetworkFaults;
  timeouts?: TimeoutConfig;
  chainId?: string;
  /** Validators whose outgoing messages pass through this filter (Byzantine behaviour); return the messages to send. */
  byzantine?: Map<number, ByzantineFilter>;
  /** Runs every validator's core with `deferFinalize`, each finalize answered after a delay drawn from these. */
  deferFinalize?: FinalizeDelays;
}

/**
 * How long the simulated runtime takes to finalize a decided block: uniform in [0, maxDelayMs], and with probability
 * `slowRate` `slowDelayMs` more (a store stalling on a slow disk).
 */
export interface FinalizeDelays {
  maxDelayMs: number;
  slowRate?: number;
  slowDelayMs?: number;
}

/** Rewrites what a Byzantine validator sends to one peer: the honest message in, what it really sends out. */
export type ByzantineFilter = (message: ConsensusMessage, to: number, cluster: BftCluster) => ConsensusMessage[];

type WireMessage = { kind: "consensus"; message: unknown } | { kind: "tx"; tx: string };

export class SimValidator {
  up = false;
  incarnation = 0;
  consensus!: Consensus;
  mempool!: Mempool;
  app!: KeyMappingApp;
  readonly disk = new SimDisk();
  rejected = 0;
  /** Finalize outputs this validator answered (deferFinalize). */
  finalized = 0;

  constructor(
    readonly index: number,
    readonly cluster: BftCluster,
  ) {}

  /** Boots from the disk: replays the block store into a fresh app, then the WAL of the current height. */
  boot(): void {
    const { cluster } = this;
    this.incarnation++;
    this.up = true;
    this.app = new KeyMappingApp({
      chainId: cluster.chainId,
      validators: cluster.n,
      verify: (validator, message, signature) => cluster.schemes[0]!.verify(validator, message, signature),
    });
    this.mempool = new Mempool((tx) => this.app.checkTx(tx));
    let lastBlockHash = "";
    for (const commit of this.disk.blocks) {
      this.app.finalizeBlock(commit.block);
      lastBlockHash = cluster.hashOf(commit);
    }
    const height = this.disk.blocks.length + 1;
    this.consensus = new Consensus(
      {
        chainId: cluster.chainId,
        validators: cluster.n,
        self: this.index,
        timeouts: cluster.timeouts,
        ...(cluster.finalizeDelays ? { deferFinalize: true } : {}),
      },
      { scheme: cluster.schemes[this.index]!, app: this.app, mempool: this.mempool },
      { height, lastBlockHash, lastAppHash: this.app.appHash },
    );
    const records = this.disk.readWal().filter((r) => walRecordHeight(r) === height);
    const outputs = records.length > 0 ? this.consensus.restore(records) : this.consensus.start();
    if (outputs.some((o) => o.type === "finalize")) cluster.finalizesOnRestore++;
    this.apply(outputs);
  }

  crash(): void {
    this.up = false;
    this.incarnation++;
    this.#paused = null;
  }

  /** Carries out the core's outputs in order; a crash at a WAL write stops the rest, as it would in a process. */
  apply(outputs: ConsensusOutput[]): void {
    const { cluster } = this;
    try {
      for (const output of outputs) {
        switch (output.type) {
          case "wal":
            this.disk.appendWal(output.record);
            break;
          case "broadcast":
            for (let to = 0; to < cluster.n; to++) if (to !== this.index) this.#send(to, output.message);
            break;
          case "send":
            this.#send(output.to, output.message);
            break;
          case "timeout": {
            const incarnation = this.incarnation;
            const { height, round, step } = output;
            cluster.scheduler.after(output.delayMs, () => {
              if (this.up && this.incarnation === incarnation) {
                this.#whenRunning(() => this.apply(this.#step({ type: "timeout", height, round, step })));
              }
            });
            break;
          }
          case "finalize": {
            // Applied after a delay, unless the validator crashed meanwhile (its restart replays the WAL, which decides
            // the height again and asks again); a pause holds it back like any other work.
            const incarnation = this.incarnation;
            const { commit } = output;
            cluster.scheduler.after(cluster.finalizeDelay(), () => {
              if (this.up && this.incarnation === incarnation) this.#whenRunning(() => this.#finalize(commit));
            });
            break;
          }
          case "decided":
            this.disk.blocks.push(output.commit);
            cluster.recordDecision(this.index, output.commit, output.appHash, output.results);
            break;
          case "evidence":
            cluster.evidence.push({ by: this.index, evidence: output.evidence });
            break;
          case "rejected":
            this.rejected++;
            break;
          case "serveCommit": {
            const commit = this.disk.blocks[output.height - 1];
            if (commit) this.#send(output.to, { type: "commit", commit, senderHeight: this.consensus.height });
            break;
          }
        }
      }
    } catch (error) {
      if (!(error instanceof SimCrash)) throw error;
      this.crash();
      cluster.crashes++;
      cluster.scheduler.after(cluster.restartDelayMs, () => this.boot());
    }
  }

  /** Steps the core, counting the inputs that wait for a finalize (deferFinalize). */
  #step(input: ConsensusInput): ConsensusOutput[] {
    if (this.consensus.finalizing !== null && input.type !== "finalized") this.cluster.queuedWhileFinalizing++;
    return this.consensus.step(input);
  }

  /** The runtime's part of a deferred finalize: apply the block, then tell the core its app hash and results. */
  #finalize(commit: Commit): void {
    this.finalized++;
    const { appHash, results } = this.app.finalizeBlock(commit.block);
    this.apply(this.#step({ type: "finalized", height: commit.block.height, appHash, results }));
  }

  #send(to: number, message: ConsensusMessage): void {
    const { cluster } = this;
    if (message.type === "prevote" || message.type === "precommit" || message.type === "proposal") {
      cluster.recordSigned(this.index, message);
    }
    const filter = cluster.byzantine.get(this.index);
    const messages = filter ? filter(message, to, cluster) : [message];
    for (const m of messages)
      cluster.network.send(this.index, to, { kind: "consensus", message: m } satisfies WireMessage);
  }

  /** A paused process (a long GC, a stopped VM) keeps its state; what arrives meanwhile waits in order. */
  #paused: (() => void)[] | null = null;

  pause(): void {
    this.#paused ??= [];
  }

  resume(): void {
    const queued = this.#paused ?? [];
    this.#paused = null;
    for (const run of queued) if (this.up) run();
  }

  #whenRunning(run: () => void): void {
    if (this.#paused) this.#paused.push(run);
    else run();
  }

  receive(from: number, wire: WireMessage): void {
    if (this.#paused) {
      this.#paused.push(() => this.receive(from, wire));
      return;
    }
    if (wire.kind === "tx") {
      if (this.mempool.add(wire.tx, `peer-${from}`).ok) this.apply(this.#step({ type: "txsAvailable" }));
      return;
    }
    this.apply(this.#step({ type: "message", from, message: wire.message }));
  }

  /** A client submits a transaction to this validator, which admits it and gossips it to its peers. */
  submit(tx: string): boolean {
    if (!this.up || !this.mempool.add(tx, "client").ok) return false;
    for (let to = 0; to < this.cluster.n; to++) {
      if (to !== this.index) this.cluster.network.send(this.index, to, { kind: "tx", tx } satisfies WireMessage);
    }
    this.apply(this.#step({ type: "txsAvailable" }));
    return true;
  }
}

export interface Decision {
  hash: string;
  appHash: string;
  results: readonly unknown[];
  block: Commit["block"];
}

export class BftCluster {
  readonly n: number;
  readonly scheduler = new Scheduler();
  readonly network: SimNetwork;
  readonly validators: SimValidator[];
  readonly schemes: SignatureScheme[];
  readonly timeouts: TimeoutConfig;
  readonly chainId: string;
  readonly byzantine: Map<number, ByzantineFilter>;
  readonly prng: Prng;
  readonly finalizeDelays: FinalizeDelays | undefined;
  restartDelayMs = 500;
  crashes = 0;
  /** deferFinalize: inputs stepped while a finalize was outstanding, and restarts whose WAL replay decided a height. */
  queuedWhileFinalizing = 0;
  finalizesOnRestore = 0;
  /** decisions[height][validator] */
  readonly decisions: Map<number, Decision>[] = [];
  readonly evidence: { by: number; evidence: unknown }[] = [];
  /** Every consensus message each validator signed and sent: (height, round, step) → value, to catch double signing. */
  readonly signed = new Map<number, Map<string, string>>();
  readonly doubleSigned: string[] = [];
  readonly #hashes = new WeakMap<Commit, string>();

  constructor(options: ClusterOptions) {
    this.n = options.n;
    this.prng = options.prng;
    this.schemes = options.schemes;
    this.timeouts = options.timeouts ?? { ...DEFAULT_TIMEOUTS, proposeMs: 300, prevoteMs: 200, precommitMs: 200 };
    this.chainId = options.chainId ?? "sim-chain";
    this.byzantine = options.byzantine ?? new Map<number, ByzantineFilter>();
    this.finalizeDelays = options.deferFinalize;
    this.validators = Array.from({ length: this.n }, (_, i) => new SimValidator(i, this));
    this.network = new SimNetwork(
      this.scheduler,
      this.prng,
      options.faults ?? CALM,
      (from, to, message) => this.validators[to]!.receive(from, message as WireMessage),
      (node) => this.validators[node]!.up,
    );
  }

  start(): void {
    for (const v of this.validators) v.boot();
  }

  /** A finalize delay drawn from `finalizeDelays`. */
  finalizeDelay(): number {
    const { maxDelayMs, slowRate = 0, slowDelayMs = 0 } = this.finalizeDelays!;
    return this.prng.int(0, maxDelayMs) + (this.prng.chance(slowRate) ? slowDelayMs : 0);
  }

  hashOf(commit: Commit): string {
    let hash = this.#hashes.get(commit);
    if (hash === undefined) {
      hash = commit.precommits[0]?.blockHash ?? "";
      this.#hashes.set(commit, hash);
    }
    return hash;
  }

  /** Called on every decision of every validator (benchmarks measure latency here). */
  onDecision?: (validator: number, commit: Commit) => void;

  recordDecision(validator: number, commit: Commit, appHash: string, results: readonly unknown[]): void {
    this.onDecision?.(validator, commit);
    const height = commit.block.height;
    let atHeight = this.decisions[height];
    if (!atHeight) this.decisions[height] = atHeight = new Map<number, Decision>();
    atHeight.set(validator, { hash: this.hashOf(commit), appHash, results, block: commit.block });
  }

  recordSigned(validator: number, message: Proposal | Vote): void {
    let byValidator = this.signed.get(validator);
    if (!byValidator) this.signed.set(validator, (byValidator = new Map<string, string>()));
    const slot = `${message.height}/${message.round}/${message.type}`;
    const value = message.type === "proposal" ? blockHash(message.block) : String(message.blockHash);
    const before = byValidator.get(slot);
    if (before === undefined) byValidator.set(slot, value);
    else if (before !== value) this.doubleSigned.push(`validator ${validator} signed two values at ${slot}`);
  }

  /** Heights every validator in `who` has decided. */
  decidedHeight(who: number[]): number {
    return Math.min(...who.map((i) => this.validators[i]!.disk.blocks.length));
  }

  /** Safety: no two of `honest` decided different blocks (or reached different app hashes) at any height. */
  safetyViolations(honest: number[]): string[] {
    const problems: string[] = [];
    this.decisions.forEach((atHeight, height) => {
      if (!atHeight) return;
      const seen = honest.map((i) => atHeight.get(i)).filter((d): d is Decision => d !== undefined);
      const first = seen[0];
      for (const d of seen) {
        if (d.hash !== first!.hash) problems.push(`height ${height}: blocks ${first!.hash} and ${d.hash}`);
        if (d.appHash !== first!.appHash) problems.push(`height ${height}: app hashes differ`);
      }
    });
    return problems;
  }
}
