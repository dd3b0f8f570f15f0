/**
 * The receiving side of the AVSS for one round of sharings, one per dealer: a key-generation batch (keygen.ts) or a
 * handover chunk (node/pss/receiver.ts), which run it alike. It checks each dealer's send (its shape here, its rows
 * against the commitments as a `rows` job, checks.ts), echoes and readies through each dealer's Sharing
 * (sharing.ts), checks ready signatures, and answers and takes commitment exchanges. What differs between the two
 * protocols comes from its `AvssProtocol` (the wire form of its messages, the domain of hashes and signatures, Feldman
 * or Pedersen commitments) and from the round's hooks (how many sharings a dealer makes, whether the round still
 * matters, the decided dealers, which commitments it refuses, what follows a completed sharing).
 */
import type { Point } from "../crypto/point.ts";
import type { PendingChecks } from "./checks.ts";
import { Sharing, completedDealers, symmetricSendProblem, type SendToNode, type SharingRecord } from "./sharing.ts";
import type { NodeSigner, SessionId } from "./types.ts";
import { commitmentHash, matricesToWire, readySignBytes, type Points } from "./wire.ts";

/** What a protocol that runs AVSS rounds gives them: its thresholds, its crypto and the wire form of its messages. */
export interface AvssProtocol {
  /** This node's index among the receivers, 1..n. */
  readonly self: number;
  readonly n: number;
  readonly t: number;
  readonly k: number;
  /** The epoch (key generation) or transition (the handover) that session ids carry. */
  readonly epoch: number;
  /** The domain of commitment hashes and ready signatures: "dkg", or the handover's. */
  readonly domain: "dkg" | "pss";
  readonly signingDomain: string;
  readonly signer: NodeSigner;
  /** Feldman commitments (the handover's resharing), which carry no blinding. */
  readonly feldman: boolean;
  readonly checks: PendingChecks;
  /** Sends receiver `to` this node's echo or ready of `id`'s sharing: `session.pointsForPeer(to)` in its wire form. */
  sendPoints(to: number, id: SessionId, session: Sharing, type: "echo" | "ready"): void;
  askCommitments(to: number, id: SessionId, hash: string): void;
  /** Answers a receiver's request with the commitments' wire form. */
  sendCommitments(to: number, id: SessionId, commitments: string[][][]): void;
  /** Refuses what a dealer (`dealer`) or another receiver sent. */
  reject(from: number, reason: string, role: "dealer" | "receiver"): void;
  persist(round: number, dealer: number, record: SharingRecord): void;
}

export interface AvssRoundHooks {
  /** Sharings per dealer: the keys of a batch or of a chunk. */
  keys(): number;
  /** Whether the round still takes sends (a batch forgotten or a chunk done while a check ran does not). */
  alive(): boolean;
  /** The decided dealers, once the round's dealer set is decided: no other dealer's messages count any more. */
  decided(): readonly { dealer: number }[] | undefined;
  /** Why `dealer`'s commitments cannot be its sharing's (the handover's must commit to the moved share keys). */
  refuses?(dealer: number, commitments: readonly Point[][][]): string | undefined;
  /** A dealer's sharing completed here. */
  completed(): void;
}

export type AvssSend = SendToNode & {
  readonly dealer: number;
  readonly commitments: Point[][][];
  readonly rows: bigint[][];
  readonly rowBlindings: bigint[][];
};
export type AvssPoints = { dealer: number; type: "echo" | "ready"; hash: string; points: Points[]; signature?: string };

export class AvssRound {
  readonly sessions = new Map<number, Sharing>();
  /** Dealers whose send is being checked, so that a resent copy does not start a second check. */
  readonly #checking = new Set<number>();

  constructor(
    private readonly protocol: AvssProtocol,
    readonly round: number,
    private readonly hooks: AvssRoundHooks,
  ) {}

  id(dealer: number): SessionId {
    return { epoch: this.protocol.epoch, batch: this.round, dealer };
  }

  /** `dealer`'s sharing, started on first use. */
  session(dealer: number): Sharing {
    const existing = this.sessions.get(dealer);
    if (existing) return existing;
    const p = this.protocol;
    const id = this.id(dealer);
    const hooks = this.hooks;
    const session: Sharing = new Sharing(
      p.self,
      p.k,
      {
        n: p.n,
        t: p.t,
        // Cachin et al.: ⌈(n + t + 1)/2⌉ echoes, and at least k so that a row can be interpolated from them.
        echoThreshold: Math.max(Math.ceil((p.n + p.t + 1) / 2), p.k),
        get keys() {
          return hooks.keys();
        },
        sendPoints: (m, type) => p.sendPoints(m, id, session, type),
        askCommitments: (from, hash) => p.askCommitments(from, id, hash),
        reject: (from, reason) => p.reject(from, reason, "receiver"),
        refuses: (commitments) => hooks.refuses?.(dealer, commitments),
        signReady: (hash) => p.signer.sign(readySignBytes(p.signingDomain, id, hash, p.domain)),
        persist: () => p.persist(this.round, dealer, session.record()),
        completed: () => hooks.completed(),
      },
      p.feldman,
    );
    this.sessions.set(dealer, session);
    return session;
  }

  /**
   * A dealer's send. This node's own (`own`: its dealing, in key generation) needs no check; a peer's is checked for
   * its shape, then for its rows against its commitments (the curve work, checks.ts).
   */
  onSend(from: number, message: AvssSend, own = false): void {
    const p = this.protocol;
    const { dealer } = message;
    if (from !== dealer) return p.reject(from, "send from a node that is not its dealer", "dealer");
    if (!this.#wantsSend(dealer)) return;
    if (own) return this.#acceptSend(message);
    const refused = this.hooks.refuses?.(dealer, message.commitments);
    if (refused) return p.reject(from, refused, "dealer");
    const problem = symmetricSendProblem(message);
    if (problem) return p.reject(from, problem, "dealer");
    if (this.#checking.has(dealer)) return;
    this.#checking.add(dealer);
    const session = this.session(dealer);
    session.sendChecking();
    const { commitments, rows } = message;
    // A Feldman sharing's rows carry no blindings.
    const rowBlindings = p.feldman ? undefined : message.rowBlindings;
    p.checks.run({ kind: "rows", k: p.k, self: p.self, commitments, rows, rowBlindings }, (verdict) => {
      this.#checking.delete(dealer);
      if (verdict.ok && this.#wantsSend(dealer)) return this.#acceptSend(message);
      session.sendRefused();
      if (!verdict.ok) p.reject(from, verdict.reason, "dealer");
    });
  }

  /** A receiver's echo or ready of a dealer's sharing; a ready's signature is checked here (this node's own is not). */
  onPoints(from: number, message: AvssPoints): void {
    const p = this.protocol;
    if (!this.#decides(message.dealer)) return;
    if (message.points.length !== this.hooks.keys())
      return p.reject(from, "points for another number of keys", "receiver");
    const session = this.session(message.dealer);
    if (session.has(message.type, message.hash, from)) return; // a duplicate
    const { signature } = message;
    if (
      signature !== undefined &&
      from !== p.self &&
      !p.signer.verify(
        from,
        readySignBytes(p.signingDomain, this.id(message.dealer), message.hash, p.domain),
        signature,
      )
    )
      return p.reject(from, "ready with a bad signature", "receiver");
    session.onPoints(from, message.type, message.hash, message.points, signature);
  }

  /** Commitments a receiver sent for a hash this node asked it about. */
  onCommitments(from: number, message: { dealer: number; commitments: Point[][][] }): void {
    const session = this.sessions.get(message.dealer);
    if (!session) return;
    const hash = commitmentHash(this.id(message.dealer), message.commitments, this.protocol.domain);
    session.onCommitments(from, hash, message.commitments);
  }

  /** A receiver asks for the commitments of `hash`: answered when this node knows them. */
  onCommitmentRequest(from: number, { dealer, hash }: { dealer: number; hash: string }): void {
    const commitments = this.sessions.get(dealer)?.commitments.get(hash);
    if (commitments) this.protocol.sendCommitments(from, this.id(dealer), matricesToWire(commitments));
  }

  /** Sends a receiver that lags this node's echoes and readies again. */
  resendTo(peer: number): void {
    for (const session of this.sessions.values()) session.resendTo(peer);
  }

  /** The dealers whose sharings completed here, with their proofs, once at least `atLeast` did. */
  completedDealers(atLeast: number): ReturnType<typeof completedDealers> {
    return completedDealers(this.sessions, atLeast);
  }

  /** Once the round's shares are computed: each sharing keeps only what answering a lagging receiver needs. */
  release(): void {
    for (const session of this.sessions.values()) session.release();
  }

  /** Whether a send from `dealer` would count: the first valid one of a live round, of a decided dealer. */
  #wantsSend(dealer: number): boolean {
    return this.hooks.alive() && this.#decides(dealer) && this.session(dealer).sendHash === undefined;
  }

  #decides(dealer: number): boolean {
    return this.hooks.decided()?.some((d) => d.dealer === dealer) ?? true;
  }

  #acceptSend(message: AvssSend): void {
    const hash = commitmentHash(this.id(message.dealer), message.commitments, this.protocol.domain);
    this.session(message.dealer).onSend(hash, message.commitments, {
      hash,
      rows: message.rows,
      rowBlindings: message.rowBlindings,
    });
  }
}
