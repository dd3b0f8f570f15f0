/**
 * The node's side of the peer-to-peer wire: the envelope every message travels in, one channel per unit, and the one
 * map between libp2p peer ids and node indexes. An incoming frame is parsed once, its fields checked and bounded for its
 * channel, and handed to that channel's inbox with the sender's node index; anything else is dropped.
 *
 * It also sets the host's frame cap (node/p2p/frame-budget.ts) for this epoch and, during a handover, the other one.
 *
 * Must never step a core or queue work itself (the inbox decides what runs in the serial executor), and never accept a
 * message of the own epoch's channels from a peer outside the epoch. What the inbox returns for a message (the promise
 * of the executor's work on it) goes back to the host, which holds the next messages back while a few such promises
 * are pending (node/p2p/host.ts MAX_IN_PROGRESS): so the executor holds few peer messages at a time, and the host's
 * per-peer queues decide whose turn is next.
 */
import type { EpochView } from "../chain/registry.ts";
import { frameBudget } from "../p2p/frame-budget.ts";
import type { P2PPeer } from "../p2p/host.ts";
import { HANDOVER_CHUNK_SIZE, epochPeers } from "./handover.ts";
import { nodeIndex, nodeOf, validatorOf, type NodeIndex, type ValidatorIndex } from "./node-index.ts";

/** A signed answer to a commitment, as peers exchange them (ShareRequest carrying too few signatures). */
export interface SignatureAnswer {
  id: number;
  data: string;
  signature: string;
}

export type Envelope =
  | { ch: "bft"; m: unknown }
  | { ch: "dkg"; m: unknown }
  | { ch: "tx"; tx: string }
  /** The epoch and the hash of this node's verifier list (verifier-agreement.ts). */
  | { ch: "hello"; epoch: number; verifiers: string }
  /** "Send me the signature you issued on this commitment" (a ShareRequest that carried too few). */
  | { ch: "sigReq"; id: number; verifier: string; commitment: string }
  | ({ ch: "sigRes" } & SignatureAnswer)
  /** The handover, between the nodes of two epochs (and among the new ones). */
  | { ch: "pss"; m: unknown };

/** A peer's commitment data is at most this long: a longer answer is not one this network issues. */
const MAX_ANSWER_DATA = 1024;

/**
 * Where each channel's messages go. A channel whose work is queued returns its promise: the host counts it as pending
 * until it settles.
 */
export interface PeerInbox {
  bft(from: ValidatorIndex, message: unknown): void | Promise<void>;
  dkg(from: NodeIndex, message: unknown): void | Promise<void>;
  tx(from: NodeIndex, tx: string): void | Promise<void>;
  hello(from: NodeIndex, hello: { epoch: number; verifiers: string }): void;
  signatureRequest(from: NodeIndex, request: { id: number; verifier: string; commitment: string }): void;
  signatureAnswer(from: NodeIndex, answer: SignatureAnswer): void;
  /** From a node of either epoch of a handover: the handover units tell them apart by peer id. */
  handover(fromPeer: string, message: unknown): void | Promise<void>;
}

/** What the router needs of the libp2p host. */
export interface PeerTransport {
  send(peerId: string, message: unknown): void;
  sendMany(peerIds: readonly string[], message: unknown): void;
  setPeers(peers: readonly P2PPeer[]): void;
  setMaxFrameBytes(bytes: number): void;
}

export class PeerRouter {
  /** This epoch's nodes in node-index order (node i at i − 1). */
  readonly #peers: P2PPeer[];
  readonly #indexOf: Map<string, NodeIndex>;
  #transport: PeerTransport | undefined;
  #inbox: PeerInbox | undefined;

  constructor(
    private readonly epoch: EpochView,
    private readonly self: NodeIndex,
    /** Sharings per key-generation batch (config.keygen.batchSize): the dealers' messages grow with it. */
    private readonly batchSize: number,
  ) {
    this.#peers = epochPeers(epoch);
    this.#indexOf = new Map(this.#peers.map((p, i) => [p.id, nodeIndex(i + 1)]));
  }

  /** The frame cap of this epoch's messages and, given the other epoch of a handover, of the handover's. */
  frameBudget(partners: readonly EpochView[] = []): number {
    return frameBudget({ epoch: this.epoch, batchSize: this.batchSize, partners, chunkSize: HANDOVER_CHUNK_SIZE });
  }

  /** The host is started after the router exists (its message callback is the router's `deliver`). */
  attach(transport: PeerTransport, inbox: PeerInbox): void {
    [this.#transport, this.#inbox] = [transport, inbox];
  }

  /** To one node of this epoch. */
  send(to: NodeIndex, message: Envelope): void {
    const peer = this.#peers[to - 1];
    if (peer) this.#transport?.send(peer.id, message);
  }

  sendToValidator(to: ValidatorIndex, message: Envelope): void {
    this.send(nodeOf(to), message);
  }

  /** To a peer of either epoch by its id (the handover addresses the other epoch's nodes). */
  sendToPeer(peerId: string, message: unknown): void {
    this.#transport?.send(peerId, message);
  }

  /** To this epoch's other nodes only (during a handover the host also links to the other epoch's). */
  broadcast(message: Envelope): void {
    this.#transport?.sendMany(
      this.#peers.filter((_, i) => i + 1 !== this.self).map((p) => p.id),
      message,
    );
  }

  /**
   * The host links to this epoch's other nodes, and during a handover to `others` (the nodes of `partners`, the other
   * epoch) too; its frame cap covers the handover's messages first, so that no frame of the new peers is refused.
   */
  setPeers(others: readonly P2PPeer[], partners: readonly EpochView[] = []): void {
    const own = this.#peers.filter((_, i) => i + 1 !== this.self);
    this.#transport?.setMaxFrameBytes(this.frameBudget(partners));
    this.#transport?.setPeers([...own, ...others]);
  }

  /** One frame from the host: checked for its channel and handed to the inbox (its work returned), or dropped. */
  deliver(fromPeer: string, message: unknown): void | Promise<void> {
    const inbox = this.#inbox;
    if (!inbox || typeof message !== "object" || message === null) return;
    const envelope = message as Record<string, unknown>;
    if (envelope.ch === "pss") return inbox.handover(fromPeer, envelope.m);
    const from = this.#indexOf.get(fromPeer);
    if (from === undefined) return;
    switch (envelope.ch) {
      case "bft":
        return inbox.bft(validatorOf(from), envelope.m);
      case "dkg":
        return inbox.dkg(from, envelope.m);
      case "tx":
        if (typeof envelope.tx === "string") return inbox.tx(from, envelope.tx);
        return;
      case "hello": {
        const { epoch, verifiers } = envelope;
        if (typeof verifiers === "string" && typeof epoch === "number") inbox.hello(from, { epoch, verifiers });
        return;
      }
      case "sigReq": {
        const { id, verifier, commitment } = envelope;
        if (typeof id === "number" && typeof verifier === "string" && typeof commitment === "string")
          inbox.signatureRequest(from, { id, verifier, commitment });
        return;
      }
      case "sigRes": {
        const { id, data, signature } = envelope;
        if (
          typeof id === "number" &&
          typeof data === "string" &&
          typeof signature === "string" &&
          data.length < MAX_ANSWER_DATA
        )
          inbox.signatureAnswer(from, { id, data, signature });
        return;
      }
      default:
        return;
    }
  }
}
