/**
 * An epoch handover on the simulated network: n_old dealer cores (ReshareDealer) holding shares of K keys, n_new
 * receiver cores (ReshareReceiver) with a simulated disk each, and an in-simulation ordering service for the reshare
 * decisions (e + 1's BFT in production). The old epoch's keys are made here by a trusted dealer (the test knows every
 * polynomial), so the checks can compare the new shares with the old secrets.
 */
import { randomScalar } from "../../node/crypto/field.ts";
import { G } from "../../node/crypto/point.ts";
import { evaluatePolynomial, interpolatePolynomial } from "../../node/crypto/polynomial.ts";
import type { NodeSigner } from "../../node/dkg/types.ts";
import { pointHex } from "../../node/dkg/wire.ts";
import { ReshareDealer, type DealerKey, type DealerSend } from "../../node/pss/dealer.ts";
import { ReshareReceiver, type ReceiverOutput } from "../../node/pss/receiver.ts";
import type { ReceiverRecord } from "../../node/pss/receiver-records.ts";
import type { KeyOwner, Party, PssMessage, ReshareDecision, ResharedKey, Thresholds } from "../../node/pss/types.ts";
import type { Prng } from "../support/prng.ts";
import { fastSchemes } from "./fast-signer.ts";
import { CALM, SimNetwork, type NetworkFaults } from "./network.ts";
import { SimCheckRunner, type SimChecks } from "./checks.ts";
import { Scheduler } from "./scheduler.ts";

/** Rewrites what a Byzantine old dealer sends to one new node. */
export type DealerFilter = (message: PssMessage, to: number, cluster: PssCluster) => PssMessage[];

export function thresholds(n: number): Thresholds {
  const t = Math.floor((n - 1) / 4);
  return { n, t, k: Math.floor(n / 2) + 1 };
}

export interface PssClusterOptions {
  old: Thresholds;
  next: Thresholds;
  prng: Prng;
  keys: number;
  chunkSize?: number;
  faults?: NetworkFaults;
  byzantine?: Map<number, DealerFilter>;
  /** Old dealers that never send anything. */
  silent?: Set<number>;
  orderingDelayMs?: number;
  transition?: number;
  /** The old epoch's keys (default: made from the seed). */
  oldKeys?: OldKey[];
  /** How the new nodes' checks run (checks.ts): in place by default. */
  checks?: SimChecks;
}

/** The old epoch's state for one key: its polynomial (known to the test only), shares, share keys and owner. */
export interface OldKey {
  keyIndex: number;
  owner?: KeyOwner;
  polynomial: bigint[];
  shares: bigint[];
  publicKey: string;
  shareKeys: string[];
}

class SimOldNode {
  up = false;
  core!: ReshareDealer;

  constructor(
    readonly index: number,
    readonly cluster: PssCluster,
  ) {}

  boot(): void {
    const c = this.cluster;
    this.up = true;
    const keys: DealerKey[] = c.oldKeys.map((k) => ({
      moved: {
        keyIndex: k.keyIndex,
        publicKey: k.publicKey,
        shareKeys: k.shareKeys,
        ...(k.owner ? { owner: k.owner } : {}),
      },
      share: k.shares[this.index - 1]!,
    }));
    this.core = new ReshareDealer(
      {
        transition: c.transition,
        old: c.old,
        new: c.next,
        self: this.index,
        chunkSize: c.chunkSize,
        nextKeyIndex: c.nextKeyIndex,
        seed: new TextEncoder().encode(`dealer-seed-${c.prng.seed}-${this.index}`),
      },
      keys,
    );
    this.send(this.core.start());
  }

  send(sends: DealerSend[]): void {
    const c = this.cluster;
    if (!this.up || c.silent.has(this.index)) return;
    const filter = c.byzantine.get(this.index);
    for (const { to, message } of sends)
      for (const m of filter ? filter(message, to, c) : [message]) c.network.send(c.oldId(this.index), c.newId(to), m);
  }

  receive(from: Party, message: unknown): void {
    if (from.role === "new") this.send(this.core.onMessage(from.index, message));
  }
}

class SimNewNode {
  up = false;
  incarnation = 0;
  core!: ReshareReceiver;
  readonly disk: ReceiverRecord[] = [];
  readonly keys = new Map<number, ResharedKey[]>();
  done = false;
  nextKeyIndex: number | undefined;
  rejected = 0;
  /** What this incarnation's deferred checks draw their weights from. */
  checkRng!: (bytes: number) => Uint8Array;

  constructor(
    readonly index: number,
    readonly cluster: PssCluster,
  ) {}

  boot(): void {
    const c = this.cluster;
    this.incarnation++;
    this.up = true;
    this.core = new ReshareReceiver({
      transition: c.transition,
      old: c.old,
      new: c.next,
      self: this.index,
      chunkSize: c.chunkSize,
      resendMs: 2000,
      signingDomain: c.signingDomain,
      signer: c.signers[this.index - 1]!,
      rng: c.rngFor(this.index, this.incarnation),
      deferChecks: c.checks.deferred,
    });
    this.checkRng = c.rngFor(this.index + 1000, this.incarnation);
    this.apply(this.disk.length > 0 ? this.core.restore(this.disk) : this.core.start());
    for (const decision of c.log) this.apply(this.core.step({ type: "decided", decision }));
  }

  crash(): void {
    this.up = false;
    this.incarnation++;
  }

  apply(outputs: ReceiverOutput[]): void {
    const c = this.cluster;
    for (const output of outputs) {
      if (!this.up) return;
      switch (output.type) {
        case "persist":
          this.disk.push(JSON.parse(JSON.stringify(output.record)) as ReceiverRecord);
          break;
        case "send":
          c.network.send(
            c.newId(this.index),
            output.to.role === "old" ? c.oldId(output.to.index) : c.newId(output.to.index),
            output.message,
          );
          break;
        case "propose":
          c.propose(output.decision);
          break;
        case "keys":
          this.keys.set(output.chunk, output.keys);
          break;
        case "done":
          this.done = true;
          this.nextKeyIndex = output.nextKeyIndex;
          break;
        case "timer": {
          const incarnation = this.incarnation;
          c.scheduler.after(output.delayMs, () => {
            if (this.up && this.incarnation === incarnation)
              this.apply(this.core.step({ type: "timer", chunk: output.chunk }));
          });
          break;
        }
        case "check": {
          const incarnation = this.incarnation;
          c.checks.run(output.job, this.checkRng, (result) => {
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

  receive(from: Party, message: unknown): void {
    this.apply(this.core.step({ type: "message", from, message }));
  }
}

export class PssCluster {
  readonly old: Thresholds;
  readonly next: Thresholds;
  readonly transition: number;
  /** What the simulated new nodes' readies name (a real network's is node/crypto/domain.ts encodeDomain's). */
  readonly signingDomain = "pss-sim";
  readonly chunkSize: number;
  readonly scheduler = new Scheduler();
  readonly network: SimNetwork;
  readonly checks: SimCheckRunner;
  readonly oldNodes: SimOldNode[];
  readonly newNodes: SimNewNode[];
  readonly signers: NodeSigner[];
  readonly byzantine: Map<number, DealerFilter>;
  readonly silent: Set<number>;
  readonly prng: Prng;
  readonly oldKeys: OldKey[];
  /** Past every key index the old epoch used (its abandoned batches included). */
  readonly nextKeyIndex: number;
  readonly log: ReshareDecision[] = [];
  readonly orderingDelayMs: number;

  constructor(options: PssClusterOptions) {
    this.old = options.old;
    this.next = options.next;
    this.prng = options.prng;
    this.transition = options.transition ?? 2;
    this.chunkSize = options.chunkSize ?? 4;
    this.byzantine = options.byzantine ?? new Map<number, DealerFilter>();
    this.silent = options.silent ?? new Set();
    this.orderingDelayMs = options.orderingDelayMs ?? 50;
    this.checks = new SimCheckRunner(options.checks, this.scheduler, this.prng);
    const schemes = fastSchemes(this.next.n, `pss-${this.transition}`);
    this.signers = schemes.map((scheme) => ({
      sign: (message: Uint8Array) => scheme.sign(message),
      verify: (node: number, message: Uint8Array, signature: string) => scheme.verify(node - 1, message, signature),
    }));
    this.oldKeys = options.oldKeys ?? this.#genesis(options.keys);
    this.nextKeyIndex = 3 * this.oldKeys.length + 5;
    this.oldNodes = Array.from({ length: this.old.n }, (_, i) => new SimOldNode(i + 1, this));
    this.newNodes = Array.from({ length: this.next.n }, (_, i) => new SimNewNode(i + 1, this));
    this.network = new SimNetwork(
      this.scheduler,
      this.prng,
      options.faults ?? CALM,
      (from, to, message) => this.#node(to).receive(this.#party(from), message),
      (id) => this.#node(id).up,
    );
  }

  oldId(index: number): number {
    return index - 1;
  }

  newId(index: number): number {
    return this.old.n + index - 1;
  }

  #party(id: number): Party {
    return id < this.old.n ? { role: "old", index: id + 1 } : { role: "new", index: id - this.old.n + 1 };
  }

  #node(id: number): SimOldNode | SimNewNode {
    return id < this.old.n ? this.oldNodes[id]! : this.newNodes[id - this.old.n]!;
  }

  #genesis(count: number): OldKey[] {
    const rng = this.rngFor(0, 0);
    return Array.from({ length: count }, (_, keyIndex) => {
      const polynomial = Array.from({ length: this.old.k }, () => randomScalar(rng));
      const shares = Array.from({ length: this.old.n }, (_, i) => evaluatePolynomial(polynomial, BigInt(i + 1)));
      return {
        keyIndex: keyIndex * 3 + 1, // indexes need not be dense (abandoned batches leave gaps)
        // Every other key is assigned; the rest were still in the buffer and move too.
        ...(keyIndex % 2 === 0 ? { owner: { verifier: "google", verifierId: `user-${keyIndex}@example.com` } } : {}),
        polynomial,
        shares,
        publicKey: pointHex(G.multiply(polynomial[0]!)),
        shareKeys: shares.map((s) => pointHex(G.multiply(s))),
      };
    });
  }

  rngFor(node: number, incarnation: number): (bytes: number) => Uint8Array {
    let state = (this.prng.seed * 1_000_003 + node * 7919 + incarnation * 104_729 + 17) >>> 0;
    return (bytes) =>
      Uint8Array.from({ length: bytes }, () => {
        state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
        return state >>> 24;
      });
  }

  start(): void {
    for (const node of this.newNodes) node.boot();
    for (const node of this.oldNodes) node.boot();
  }

  propose(decision: ReshareDecision): void {
    this.scheduler.after(this.orderingDelayMs, () => {
      this.log.push(decision);
      for (const node of this.newNodes) if (node.up) node.apply(node.core.step({ type: "decided", decision }));
    });
  }

  run(untilMs = 600_000): void {
    this.scheduler.run({
      done: () => this.newNodes.every((n) => !n.up || n.done),
      untilTime: this.scheduler.now + untilMs,
    });
  }

  /**
   * Problems among the honest new nodes (empty = every check passed): each holds every key with the unchanged public
   * key and the same Y' vector; their shares lie on one polynomial of degree k_new − 1 whose value at 0 is the old
   * secret; Y'_j = g^(s'_j); no old share fits the new share keys, and k_old − 1 old shares with one new share do not
   * rebuild the secret (the two sharings are independent apart from the secret).
   */
  check(honest: number[]): string[] {
    const problems: string[] = [];
    const held = honest.map(
      (j) => new Map([...this.newNodes[j - 1]!.keys.values()].flat().map((k) => [k.keyIndex, k])),
    );
    const kNew = this.next.k;
    const kOld = this.old.k;
    for (const j of honest) {
      const next = this.newNodes[j - 1]!.nextKeyIndex;
      if (next !== this.nextKeyIndex)
        problems.push(`new node ${j} continues from key ${next}, not ${this.nextKeyIndex}`);
    }
    for (const old of this.oldKeys) {
      const at = `key ${old.keyIndex}`;
      const keys = held.map((h) => h.get(old.keyIndex));
      const missing = honest.filter((_, j) => !keys[j]);
      if (missing.length > 0) {
        problems.push(`${at}: new nodes ${missing.join(",")} do not hold it`);
        continue;
      }
      const first = keys[0]!;
      for (const key of keys) {
        if (key!.publicKey !== old.publicKey) problems.push(`${at}: the public key changed`);
        if (JSON.stringify(key!.owner) !== JSON.stringify(old.owner)) problems.push(`${at}: its owner did not move`);
        if (key!.shareKeys.join() !== first.shareKeys.join()) problems.push(`${at}: Y' vectors differ`);
      }
      const shares = honest.map((j, i) => ({ x: BigInt(j), y: BigInt("0x" + keys[i]!.share) }));
      const F = interpolatePolynomial(shares.slice(0, kNew));
      if (F[0] !== old.polynomial[0]) problems.push(`${at}: k_new new shares do not rebuild the secret`);
      if (F[kNew - 1] === 0n) problems.push(`${at}: the new polynomial has degree < k_new − 1`);
      for (const { x, y } of shares) if (evaluatePolynomial(F, x) !== y) problems.push(`${at}: node ${x} is off F`);
      if (interpolatePolynomial(shares.slice(-kNew))[0] !== F[0]) problems.push(`${at}: two k_new-subsets disagree`);
      honest.forEach((j, i) => {
        if (first.shareKeys[j - 1] !== pointHex(G.multiply(BigInt("0x" + keys[i]!.share))))
          problems.push(`${at}: Y'_${j} ≠ g^(s'_${j})`);
      });
      // Old shares are useless against the new sharing.
      old.shares.forEach((s, i) => {
        if (i < this.next.n && first.shareKeys[i] === pointHex(G.multiply(s)))
          problems.push(`${at}: old share ${i + 1} fits the new share keys`);
      });
      const newShare = shares[shares.length - 1]!;
      const oldIndexes = old.shares.map((_, i) => i + 1).filter((i) => BigInt(i) !== newShare.x);
      const mixed = [...oldIndexes.slice(0, kOld - 1).map((i) => ({ x: BigInt(i), y: old.shares[i - 1]! })), newShare];
      if (interpolatePolynomial(mixed)[0] === old.polynomial[0])
        problems.push(`${at}: old and new shares mixed rebuild the secret`);
    }
    return problems;
  }
}
