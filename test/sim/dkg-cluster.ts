/**
 * n key-generation cores on the simulated network, with an in-simulation ordering service (the role the BFT network
 * plays in production: every proposal is appended to one log in arrival order, and the log is delivered to every node
 * in that order, replayed in full to a node that restarts) and a simulated disk per node that survives crashes.
 */
import { extractionMatrix } from "../../node/dkg/extraction.ts";
import { KeyGenerator, type KeygenOutput, type KeygenRecord } from "../../node/dkg/keygen.ts";
import type { DealerDecision, DkgMessage, GeneratedKey, NodeSigner } from "../../node/dkg/types.ts";
import { mod } from "../../node/crypto/field.ts";
import { G } from "../../node/crypto/point.ts";
import { evaluatePolynomial, interpolatePolynomial } from "../../node/crypto/polynomial.ts";
import type { Prng } from "../support/prng.ts";
import { fastSchemes } from "./fast-signer.ts";
import { CALM, SimNetwork, type NetworkFaults } from "./network.ts";
import { SimCheckRunner, type SimChecks } from "./checks.ts";
import { Scheduler } from "./scheduler.ts";

/** Rewrites what a Byzantine node sends to one peer. */
export type DkgFilter = (message: DkgMessage, to: number, cluster: DkgCluster) => DkgMessage[];

export interface DkgClusterOptions {
  n: number;
  t: number;
  prng: Prng;
  batchSize?: number;
  keyBuffer?: number;
  faults?: NetworkFaults;
  byzantine?: Map<number, DkgFilter>;
  orderingDelayMs?: number;
  maxConcurrentBatches?: number;
  firstKeyIndex?: number;
  /** How the nodes' checks run (checks.ts): in place by default. */
  checks?: SimChecks;
}

export class SimDkgNode {
  up = false;
  incarnation = 0;
  core!: KeyGenerator;
  readonly disk: KeygenRecord[] = [];
  readonly keys = new Map<number, GeneratedKey[]>();
  rejected = 0;
  /** What this incarnation's deferred checks draw their weights from. */
  checkRng!: (bytes: number) => Uint8Array;
  /** Crash before writing the record with this ordinal (1-based), like a process killed mid-write. */
  crashAtWrite = Infinity;
  writes = 0;

  constructor(
    readonly index: number,
    readonly cluster: DkgCluster,
  ) {}

  boot(): void {
    const { cluster } = this;
    this.incarnation++;
    this.up = true;
    this.core = new KeyGenerator({
      epoch: cluster.epoch,
      n: cluster.n,
      t: cluster.t,
      k: cluster.k,
      self: this.index,
      batchSize: cluster.batchSize,
      keyBuffer: cluster.keyBuffer,
      maxConcurrentBatches: cluster.maxConcurrentBatches,
      firstKeyIndex: cluster.firstKeyIndex,
      resendMs: 2000,
      signingDomain: cluster.signingDomain,
      signer: cluster.signers[this.index - 1]!,
      rng: cluster.rngFor(this.index, this.incarnation),
      deferChecks: cluster.checks.deferred,
    });
    this.checkRng = cluster.rngFor(this.index + 1000, this.incarnation);
    this.apply(this.disk.length > 0 ? this.core.restore(this.disk) : this.core.start());
    for (const decision of cluster.log) this.apply(this.core.step({ type: "decided", decision }));
  }

  crash(): void {
    this.up = false;
    this.incarnation++;
  }

  apply(outputs: KeygenOutput[]): void {
    const { cluster } = this;
    for (const output of outputs) {
      if (!this.up) return;
      switch (output.type) {
        case "persist":
          if (++this.writes >= this.crashAtWrite) {
            this.crashAtWrite = Infinity;
            this.crash();
            cluster.scheduler.after(cluster.restartDelayMs, () => this.boot());
            return;
          }
          this.disk.push(JSON.parse(JSON.stringify(output.record)) as KeygenRecord);
          break;
        case "send": {
          const filter = cluster.byzantine.get(this.index);
          for (const m of filter ? filter(output.message, output.to, cluster) : [output.message]) {
            cluster.network.send(this.index - 1, output.to - 1, m);
          }
          break;
        }
        case "propose":
          cluster.propose(output.decision);
          break;
        case "keys":
          this.keys.set(output.batch, output.keys);
          break;
        case "timer": {
          const incarnation = this.incarnation;
          cluster.scheduler.after(output.delayMs, () => {
            if (this.up && this.incarnation === incarnation)
              this.apply(this.core.step({ type: "timer", batch: output.batch }));
          });
          break;
        }
        case "check": {
          const incarnation = this.incarnation;
          cluster.checks.run(output.job, this.checkRng, (result) => {
            if (this.up && this.incarnation === incarnation)
              this.apply(this.core.step({ type: "checked", id: output.id, result }));
          });
          break;
        }
        case "rejected":
          this.rejected++;
          break;
      }
    }
  }

  receive(from: number, message: unknown): void {
    this.apply(this.core.step({ type: "message", from, message }));
  }
}

export class DkgCluster {
  readonly n: number;
  readonly t: number;
  readonly k: number;
  readonly epoch = 1;
  /** What the simulated nodes' readies name (a real network's is node/crypto/domain.ts encodeDomain's). */
  readonly signingDomain = "dkg-sim";
  readonly batchSize: number;
  readonly keyBuffer: number;
  readonly scheduler = new Scheduler();
  readonly network: SimNetwork;
  readonly checks: SimCheckRunner;
  readonly nodes: SimDkgNode[];
  readonly signers: NodeSigner[];
  readonly byzantine: Map<number, DkgFilter>;
  readonly prng: Prng;
  /** The ordering service's log of decisions, in delivery order. */
  readonly log: DealerDecision[] = [];
  readonly orderingDelayMs: number;
  readonly maxConcurrentBatches: number;
  readonly firstKeyIndex: number;
  restartDelayMs = 500;

  constructor(options: DkgClusterOptions) {
    this.n = options.n;
    this.t = options.t;
    this.k = Math.floor(options.n / 2) + 1;
    this.prng = options.prng;
    this.batchSize = options.batchSize ?? 1;
    this.keyBuffer = options.keyBuffer ?? this.batchSize;
    this.byzantine = options.byzantine ?? new Map<number, DkgFilter>();
    this.orderingDelayMs = options.orderingDelayMs ?? 50;
    this.maxConcurrentBatches = options.maxConcurrentBatches ?? 2;
    this.firstKeyIndex = options.firstKeyIndex ?? 0;
    this.checks = new SimCheckRunner(options.checks, this.scheduler, this.prng);
    const schemes = fastSchemes(this.n, "dkg");
    this.signers = schemes.map((scheme) => ({
      sign: (message: Uint8Array) => scheme.sign(message),
      verify: (node: number, message: Uint8Array, signature: string) => scheme.verify(node - 1, message, signature),
    }));
    this.nodes = Array.from({ length: this.n }, (_, i) => new SimDkgNode(i + 1, this));
    this.network = new SimNetwork(
      this.scheduler,
      this.prng,
      options.faults ?? CALM,
      (from, to, message) => this.nodes[to]!.receive(from + 1, message),
      (node) => this.nodes[node]!.up,
    );
  }

  /** A deterministic byte source per node and incarnation (a restarted node draws fresh randomness). */
  rngFor(node: number, incarnation: number): (bytes: number) => Uint8Array {
    let state = (this.prng.seed * 1_000_003 + node * 7919 + incarnation * 104_729) >>> 0;
    return (bytes) =>
      Uint8Array.from({ length: bytes }, () => {
        state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
        return state >>> 24;
      });
  }

  start(): void {
    for (const node of this.nodes) node.boot();
  }

  /** Starts `batches` batches on every node (what the key buffer does when assignments drain it). */
  demand(unassigned: number): void {
    for (const node of this.nodes) if (node.up) node.apply(node.core.step({ type: "demand", unassigned }));
  }

  propose(decision: DealerDecision): void {
    this.scheduler.after(this.orderingDelayMs, () => {
      this.log.push(decision);
      for (const node of this.nodes) {
        if (node.up) node.apply(node.core.step({ type: "decided", decision }));
      }
    });
  }

  /**
   * Problems with batch `batch` among the honest nodes (empty = every check passed): they hold keys, agree on each
   * public key and Y vector; their shares lie on one polynomial F of degree exactly k − 1 (so k − 1 shares do not
   * determine F(0)) and any k of them reconstruct F(0); the public key is g^F(0) and Y_i = g^(s_i). When every dealer
   * the batch used is honest, F must also be the extraction of the dealers' own persisted polynomials.
   */
  check(batch: number, honest: number[]): string[] {
    const problems: string[] = [];
    const keysOf = honest.map((i) => this.nodes[i - 1]!.keys.get(batch));
    const missing = honest.filter((_, j) => keysOf[j] === undefined);
    if (missing.length > 0) return [`batch ${batch}: nodes ${missing.join(",")} have no keys`];
    const decision = this.decisionFor(batch, honest[0]!);
    if (!decision) return [`batch ${batch}: no decision`];
    const used = [...decision.dealers].sort((a, b) => a.dealer - b.dealer).slice(0, this.k + this.t);
    const M = extractionMatrix(
      used.map((d) => BigInt(d.dealer)),
      this.k,
    );
    const hex = (secret: bigint) => Buffer.from(G.multiply(secret).toBytes(false)).toString("hex");
    for (let key = 0; key < this.batchSize * this.k; key++) {
      const [sharing, output] = [Math.floor(key / this.k), key % this.k];
      const at = `batch ${batch} key ${key}`;
      const first = keysOf[0]![key]!;
      for (const keys of keysOf) {
        if (keys![key]!.publicKey !== first.publicKey) problems.push(`${at}: public keys differ`);
        if (keys![key]!.shareKeys.join() !== first.shareKeys.join()) problems.push(`${at}: Y vectors differ`);
      }
      const shares = honest.map((i, j) => ({ x: BigInt(i), y: BigInt("0x" + keysOf[j]![key]!.share) }));
      const F = interpolatePolynomial(shares.slice(0, this.k));
      if (F[this.k - 1] === 0n) problems.push(`${at}: the polynomial has degree < k − 1`);
      for (const { x, y } of shares)
        if (evaluatePolynomial(F, x) !== y) problems.push(`${at}: node ${x}'s share is off F`);
      // Any k honest shares reconstruct F(0): the last k as well as the first k.
      if (interpolatePolynomial(shares.slice(-this.k))[0] !== F[0]) problems.push(`${at}: two k-subsets disagree`);
      if (first.publicKey !== hex(F[0]!)) problems.push(`${at}: public key ≠ g^secret`);
      honest.forEach((i, j) => {
        if (first.shareKeys[i - 1] !== hex(BigInt("0x" + keysOf[j]![key]!.share)))
          problems.push(`${at}: Y_${i} ≠ g^(s_${i})`);
      });
      if (used.every((d) => honest.includes(d.dealer))) {
        const dealings = used.map((d) => this.dealingOf(d.dealer, batch));
        const expected = Array.from({ length: this.k }, (_, c) =>
          mod(dealings.reduce((acc, f, j) => acc + M[output]![j]! * f![sharing]![c]![0]!, 0n)),
        );
        if (expected.join() !== F.join()) problems.push(`${at}: F is not the extraction of the honest dealings`);
      }
    }
    return problems;
  }

  /** The decision a node accepted for a batch (the first valid one the ordering service delivered). */
  decisionFor(batch: number, node: number): DealerDecision | undefined {
    const record = this.nodes[node - 1]!.disk.find((r) => r.kind === "decision" && r.decision.batch === batch);
    return record?.kind === "decision" ? record.decision : undefined;
  }

  dealingOf(dealer: number, batch: number): bigint[][][] | undefined {
    const record = this.nodes[dealer - 1]!.disk.find((r) => r.kind === "dealing" && r.batch === batch);
    if (!record || record.kind !== "dealing") return undefined;
    return record.f.map((m) => m.map((row) => row.map((c) => BigInt("0x" + c))));
  }
}
