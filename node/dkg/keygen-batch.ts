/**
 * One batch of key generation at one node (keygen.ts holds the batches): this node's dealing, the AVSS round of every
 * dealer's sharing (avss-round.ts), and after the dealer-set decision this node's shares of the batch's keys, its
 * share keys Y_i with proofs to every node, the others' proofs checked, and the public keys once enough are valid.
 * The curve work runs as jobs (checks.ts): in place, or on the node's check workers.
 *
 * A batch goes through its phases in order — sharing (the dealers' sharings under way), decided (the dealer set is
 * known), proving (this node's shares are computed; share keys are collected), done (its keys are stored) — and each
 * phase carries what exists in it.
 */
import { bivariateRow, type BivariatePolynomial } from "../crypto/bivariate.ts";
import { ownPointHex, type Point } from "../crypto/point.ts";
import { AvssRound, type AvssProtocol } from "./avss-round.ts";
import type { SharesJob } from "./batch-shares.ts";
import type { CheckJob, CheckResult, PendingChecks } from "./checks.ts";
import type { Sharing } from "./sharing.ts";
import type { DealerDecision, DkgMessage, GeneratedKey, ProofsMessage } from "./types.ts";
import type { KeygenConfig, KeygenRecord } from "./keygen.ts";
import { matricesToWire, pointsToWire, scalarHex, type ParsedMessage } from "./wire.ts";

/** What a batch needs of the key generator that holds it. */
export interface BatchHost {
  readonly config: Pick<KeygenConfig, "epoch" | "n" | "t" | "k" | "self" | "batchSize" | "signingDomain" | "signer">;
  readonly checks: PendingChecks;
  /** A key's index in the epoch. */
  keyIndex(batch: number, key: number): number;
  /** Whether the generator still holds this batch (it may have forgotten it while a job ran). */
  holds(batch: KeygenBatch): boolean;
  /** To a peer. */
  send(to: number, message: DkgMessage): void;
  /** To this node itself, as parsed: its own points need no decoding. */
  loopback(message: ParsedMessage): void;
  reject(from: number, reason: string): void;
  persist(record: KeygenRecord): void;
  /** The batch's keys, once they are persisted. */
  keys(batch: number, keys: GeneratedKey[]): void;
  propose(decision: DealerDecision): void;
  /** The batch's keys are stored: the generator retires it. */
  finished(batch: KeygenBatch): void;
}

/** What the batches' AVSS rounds (avss-round.ts) need of key generation: its wire forms, its records. */
export function batchAvss(host: BatchHost): AvssProtocol {
  const { self, n, t, k, epoch, signingDomain, signer } = host.config;
  return {
    self,
    n,
    t,
    k,
    epoch,
    signingDomain,
    signer,
    domain: "dkg",
    feldman: false,
    checks: host.checks,
    sendPoints: (to, id, session, type) => {
      const points = session.pointsForPeer(to).map(pointsToWire);
      if (type === "echo") host.send(to, { type, ...id, hash: session.own!.hash, points });
      else host.send(to, { type, ...id, hash: session.readied!, points, signature: session.readySignature });
    },
    askCommitments: (to, id, hash) => host.send(to, { type: "commitmentRequest", ...id, hash }),
    sendCommitments: (to, id, commitments) => host.send(to, { type: "commitments", ...id, commitments }),
    reject: (from, reason) => host.reject(from, reason),
    persist: (batch, dealer, record) => host.persist({ kind: "sharing", batch, dealer, ...record }),
  };
}

type Proofs = ProofsMessage["proofs"];
type ProofsInput = ParsedMessage & { type: "proofs" };

export type BatchPhase =
  | { is: "sharing"; proposed: boolean }
  | { is: "decided"; decision: DealerDecision }
  | {
      is: "proving";
      decision: DealerDecision;
      shares: { s: bigint[]; r: bigint[] };
      /** Per key: Σ over the decided dealers of column 0 of its matrices, the commitment to f(x, 0). */
      columns: Point[][];
      /** This node's Y_i with their proofs, made with the shares. */
      proofs: Proofs;
    }
  /** The keys are stored; the proofs are resent to a lagging peer (a batch restored done has none to send). */
  | { is: "done"; decision?: DealerDecision; keys: GeneratedKey[]; proofs?: Proofs };

export class KeygenBatch {
  phase: BatchPhase = { is: "sharing", proposed: false };
  readonly avss: AvssRound;
  dealing:
    { f: BivariatePolynomial[]; fb: BivariatePolynomial[]; commitments: Point[][][]; wire: string[][][] } | undefined;
  /** Valid share keys by node, each node's Y for every key of the batch. */
  readonly #shareKeys = new Map<number, Point[]>();
  /** Proofs that came before this node's own shares (their check needs the batch's columns). */
  readonly #parkedProofs = new Map<number, ProofsInput>();
  /** Jobs under way ("deal", "shares", "publicKeys", "proofs:<node>"), so that a resent copy does not start another. */
  readonly #jobs = new Set<string>();

  constructor(
    private readonly host: BatchHost,
    avss: AvssProtocol,
    readonly batch: number,
  ) {
    this.avss = new AvssRound(avss, batch, {
      keys: () => host.config.batchSize,
      alive: () => host.holds(this),
      decided: () => ("decision" in this.phase ? this.phase.decision?.dealers : undefined),
      completed: () => this.progress(),
    });
  }

  get keys(): GeneratedKey[] | undefined {
    return this.phase.is === "done" ? this.phase.keys : undefined;
  }

  get decision(): DealerDecision | undefined {
    return "decision" in this.phase ? this.phase.decision : undefined;
  }

  /** The dealing's commitments (dealing.ts; a job), then its rows to every node. */
  deal(f: BivariatePolynomial[], fb: BivariatePolynomial[]): void {
    this.#job("deal", { kind: "deal", f, fb }, ({ commitments }) => {
      this.restoreDealing(f, fb, commitments);
      const { n, self } = this.host.config;
      for (let m = 1; m <= n; m++) if (m !== self) this.host.send(m, this.#sendMessage(m));
      this.host.loopback(this.#ownSend());
    });
  }

  restoreDealing(f: BivariatePolynomial[], fb: BivariatePolynomial[], commitments: Point[][][]): void {
    this.dealing = { f, fb, commitments, wire: matricesToWire(commitments) };
  }

  decide(decision: DealerDecision): void {
    if (this.phase.is === "sharing") this.phase = { is: "decided", decision };
  }

  restoreKeys(keys: GeneratedKey[]): void {
    this.phase = { is: "done", decision: this.decision, keys };
  }

  /** Sends a peer that lags what this node sent it for the batch: its dealing, echoes, readies and proofs. */
  resendTo(peer: number): void {
    if (this.dealing) this.host.send(peer, this.#sendMessage(peer));
    this.avss.resendTo(peer);
    const proofs = "proofs" in this.phase ? this.phase.proofs : undefined;
    if (proofs) this.host.send(peer, this.#proofsMessage(proofs));
  }

  /** Goes on as far as the batch can: proposes its completed dealers, computes its shares, combines its keys. */
  progress(): void {
    const { phase } = this;
    const { k, t, epoch } = this.host.config;
    if (phase.is === "sharing" && !phase.proposed) {
      const dealers = this.avss.completedDealers(k + t);
      if (dealers) {
        phase.proposed = true;
        this.host.propose({ type: "dealers", epoch, batch: this.batch, dealers });
      }
    }
    if (phase.is === "decided") this.#computeShares(phase.decision);
    if (phase.is === "proving") this.tryPublicKeys();
  }

  onProofs(from: number, message: ProofsInput): void {
    if (this.#shareKeys.has(from) || this.phase.is === "done") return;
    if (this.phase.is !== "proving") return void this.#parkedProofs.set(from, message);
    this.#checkProofs(from, message, this.phase.columns);
  }

  /**
   * k valid Y_j fix the public key and every node's Y (public-keys.ts; a job). Normally all n arrive and only the
   * public key is interpolated; a node that waits for missing ones too long (`force`: its resend timer) interpolates
   * them from k.
   */
  tryPublicKeys(force = false): void {
    const { phase } = this;
    const { k, n } = this.host.config;
    if (phase.is !== "proving") return;
    if (this.#shareKeys.size < k || (this.#shareKeys.size < n && !force)) return;
    const shareKeys = Array.from({ length: n }, (_, m) => this.#shareKeys.get(m + 1) ?? null);
    this.#job("publicKeys", { kind: "publicKeys", k, shareKeys }, (combined) => {
      if (this.phase !== phase) return;
      const keys: GeneratedKey[] = combined.publicKeys.map((publicKey, key) => ({
        keyIndex: this.host.keyIndex(this.batch, key),
        publicKey,
        shareKeys: combined.shareKeys[key]!,
        share: scalarHex(phase.shares.s[key]!),
        blinding: scalarHex(phase.shares.r[key]!),
      }));
      this.phase = { is: "done", decision: phase.decision, keys, proofs: phase.proofs };
      this.host.persist({ kind: "keys", batch: this.batch, keys });
      this.host.keys(this.batch, keys);
      // Only what answering a lagging peer's resend needs stays: each sharing's own row and its commitments.
      this.avss.release();
      this.#parkedProofs.clear();
      this.host.finished(this);
    });
  }

  /**
   * Once the sharings of the first k + t decided dealers are complete here: this node's shares of the batch's keys,
   * and its Y_i with proofs, to every node (batch-shares.ts; a job).
   */
  #computeShares(decision: DealerDecision): void {
    const { batchSize, k, t, self, n, epoch } = this.host.config;
    const used = [...decision.dealers].sort((a, b) => a.dealer - b.dealer).slice(0, k + t);
    const sessions = used.map((d) => this.avss.sessions.get(d.dealer));
    if (sessions.some((s, j) => s?.completed !== used[j]!.hash)) return; // the AVSS will complete them
    const owns = (sessions as Sharing[]).map((session) => session.own!);
    const perSharing = <T>(pick: (j: number, sharing: number) => T) =>
      Array.from({ length: batchSize }, (_, sharing) => owns.map((_, j) => pick(j, sharing)));
    const job: SharesJob = {
      kind: "shares",
      k,
      self,
      dealers: used.map((d) => d.dealer),
      // f_j(i, 0) is the constant term of this node's row; column 0 of the matrix commits to f_j(x, 0).
      values: perSharing((j, sharing) => owns[j]!.rows[sharing]![0]!),
      blindings: perSharing((j, sharing) => owns[j]!.rowBlindings[sharing]![0]!),
      dealerColumns: perSharing((j, sharing) =>
        (sessions[j] as Sharing).commitments.get(owns[j]!.hash)![sharing]!.map((row) => row[0]!),
      ),
      contexts: Array.from({ length: batchSize * k }, (_, key) => this.#proofContext(key, self)),
    };
    this.#job("shares", job, ({ s, r, columns, proofs }) => {
      if (this.phase.is !== "decided") return;
      this.phase = { is: "proving", decision, shares: { s, r }, columns, proofs };
      // One message for every node: its proofs are of this node's shares, whoever checks them. This node takes its
      // own share keys as they are: it computed them.
      for (let m = 1; m <= n; m++) if (m !== self) this.host.send(m, this.#proofsMessage(proofs));
      this.host.loopback({ type: "proofs", epoch, batch: this.batch, proofs: proofs.map(ownProof) });
      for (const [from, parked] of this.#parkedProofs) this.#checkProofs(from, parked, columns);
      this.#parkedProofs.clear();
      this.progress();
    });
  }

  /** Checks a node's proofs (a job), then takes its share keys and goes on with the batch. */
  #checkProofs(from: number, message: ProofsInput, columns: Point[][]): void {
    const accept = () => {
      this.#shareKeys.set(
        from,
        message.proofs.map((p) => p.Y),
      );
      this.progress();
    };
    if (from === this.host.config.self) return accept();
    const claims = message.proofs.map(({ Y, T1, T2, u1, u2 }, key) => ({
      Y,
      proof: { T1, T2, u1, u2 },
      context: this.#proofContext(key, from),
    }));
    this.#job(`proofs:${from}`, { kind: "shareProofs", prover: from, columns, claims }, (verdict) => {
      if (!verdict.ok) return this.host.reject(from, verdict.reason);
      if (this.phase.is !== "proving" || this.#shareKeys.has(from)) return;
      accept();
    });
  }

  /**
   * Runs a job of the batch once at a time, and its continuation only while the generator still holds the batch.
   * Inline (no check workers) the continuation runs at once, within the caller's step.
   */
  #job<J extends CheckJob>(name: string, job: J, then: (result: CheckResult<J>) => void): void {
    if (this.#jobs.has(name)) return;
    this.#jobs.add(name);
    this.host.checks.run(job, (result) => {
      this.#jobs.delete(name);
      if (this.host.holds(this)) then(result);
    });
  }

  #proofContext(key: number, node: number): Uint8Array {
    const { epoch } = this.host.config;
    return new TextEncoder().encode(`dkg-share/1\x1c${epoch}\x1c${this.host.keyIndex(this.batch, key)}\x1c${node}`);
  }

  /** This node's proofs of its shares of the batch, made once, sent to every node and again to a lagging one. */
  #proofsMessage(proofs: Proofs): DkgMessage {
    return { type: "proofs", epoch: this.host.config.epoch, batch: this.batch, proofs };
  }

  /** This node's own send as parsed, from its dealing: its points need no decoding. */
  #ownSend(): ParsedMessage & { type: "send" } {
    const { f, fb, commitments } = this.dealing!;
    const x = BigInt(this.host.config.self);
    const rows = f.map((p) => bivariateRow(p, x));
    const rowBlindings = fb.map((p) => bivariateRow(p, x));
    const id = this.avss.id(this.host.config.self);
    return { type: "send", ...id, commitments, rows, rowBlindings, cols: rows, colBlindings: rowBlindings };
  }

  #sendMessage(m: number): DkgMessage {
    const { f, fb, wire } = this.dealing!;
    const x = BigInt(m);
    const rows = f.map((p) => bivariateRow(p, x).map(scalarHex));
    const rowBlindings = fb.map((p) => bivariateRow(p, x).map(scalarHex));
    // The polynomials are symmetric: node m's column is its row.
    const id = this.avss.id(this.host.config.self);
    return { type: "send", ...id, commitments: wire, rows, rowBlindings, cols: rows, colBlindings: rowBlindings };
  }
}

/** A proof this node made, as parsed: its points are its own, taken without decoding (`ownPointHex`). */
function ownProof({ Y, T1, T2, u1, u2 }: Proofs[number]) {
  return { Y: ownPointHex(Y), T1: ownPointHex(T1), T2: ownPointHex(T2), u1: BigInt("0x" + u1), u2: BigInt("0x" + u2) };
}
