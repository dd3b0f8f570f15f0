/**
 * The node's libp2p host: TCP, Noise, Yamux, with the node's secp256k1 key (the key registered on-chain) as its peer
 * identity. Only peers on the allow-list (the nodes of the current and next epochs) may connect, in either direction.
 *
 * Messages are JSON values in length-prefixed frames (u32 big-endian length, then UTF-8 JSON) on one long-lived
 * outbound stream per peer. Each peer has a bounded send queue: a peer that is down or slow loses the oldest
 * messages first, which the protocols recover from (BFT gossip, key-generation resend). A peer that sends an oversized
 * frame or bytes that are not JSON is disconnected and counted, never trusted and never able to crash the node.
 *
 * Received frames wait in a bounded queue per peer (node/p2p/fair-queue.ts) and are parsed and handed to `onMessage`
 * the peers taking turns; when `onMessage` returns a promise (the node's work on the message), at most
 * MAX_IN_PROGRESS such promises are pending and the next frame waits for one to settle. So a peer that floods the
 * node, with maximal frames or many small ones, fills only its own queue (the excess is dropped unparsed and counted)
 * and delays another peer's next message by one of its own per turn, plus the few already handed over.
 */
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { privateKeyFromRaw, publicKeyFromRaw } from "@libp2p/crypto/keys";
import type { Connection, Libp2p, PeerId, Stream } from "@libp2p/interface";
import { peerIdFromPublicKey } from "@libp2p/peer-id";
import { tcp } from "@libp2p/tcp";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";

import { FairQueue } from "./fair-queue.ts";
import { FrameDecoder, FrameTooLarge, encodeFrame as frameOf } from "./framing.ts";

/**
 * The peer protocol's version: a node speaks only to peers of the same one. 2: the AVSS of key generation and of the
 * handover deals symmetric bivariate polynomials, which version 1 nodes neither deal nor accept.
 */
export const PROTOCOL = "/torus-network/2.0.0";
/** The frame cap when the node sets none (P2POptions.maxFrameBytes; a node sets node/p2p/frame-budget.ts's). */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Frames waiting to be sent to one peer, and received from one peer: an honest peer's full send queue fits. */
const MAX_QUEUED_FRAMES = 4096;
/**
 * Bytes of frames waiting to be sent to one peer, and received from one peer, in frame caps: a maximal frame and as
 * much again in smaller ones (an honest peer's burst: a dealer's sharing and the echoes and readies around it).
 */
const QUEUED_BYTES_IN_FRAMES = 2;
/**
 * Peer messages whose work may be pending at once (in the node's executor). Few, so that a flooder's messages there
 * stay few and the peers' turns decide the order; more than one, so that peer messages keep a fair share of the
 * executor while client requests queue there too (each handed-over message waits for the tasks queued before it).
 */
export const MAX_IN_PROGRESS = 8;
/** At most one warning per peer in this long about its dropped frames (the count says how many). */
const DROP_WARNING_INTERVAL_MS = 10_000;
const DIAL_BACKOFF_MS = [250, 500, 1000, 2000, 5000, 10_000];

/** The libp2p peer id of a secp256k1 public key given as 33-byte compressed or 65-byte uncompressed bytes. */
export function peerIdOf(publicKey: Uint8Array): string {
  return peerIdFromPublicKey(publicKeyFromRaw(compress(publicKey))).toString();
}

function compress(publicKey: Uint8Array): Uint8Array {
  if (publicKey.length === 33) return publicKey;
  if (publicKey.length !== 65 || publicKey[0] !== 4) throw new RangeError("public key must be 33 or 65 bytes");
  const out = new Uint8Array(33);
  out[0] = (publicKey[64]! & 1) === 0 ? 2 : 3;
  out.set(publicKey.subarray(1, 33), 1);
  return out;
}

export interface P2PPeer {
  /** The peer's libp2p id (from its node key). */
  id: string;
  /** Where it listens, e.g. /ip4/127.0.0.1/tcp/9001 (from the NodeList). */
  address: string;
}

export interface P2PStats {
  /** Frames received whole (queued, or dropped from a full queue). */
  framesReceived: number;
  /** Frames handed to `onMessage`. */
  framesIn: number;
  framesOut: number;
  /** Frames dropped from full send queues (the oldest first). */
  dropped: number;
  /** Received frames dropped because their sender's inbound queue was full. */
  inboundDropped: number;
  rejectedPeers: number;
  malformedFrames: number;
}

export interface P2POptions {
  /** The node key, 32 bytes. */
  privateKey: Uint8Array;
  listen: string;
  /** A peer's message; a returned promise is the node's work on it, pending until it settles (MAX_IN_PROGRESS). */
  onMessage: (from: string, message: unknown) => void | Promise<void>;
  log?: (message: string) => void;
  /** The largest frame sent or taken (default MAX_FRAME_BYTES); a peer that announces a larger one is dropped. */
  maxFrameBytes?: number;
}

/** A received frame waiting for its turn, with what to close if it turns out not to be JSON. */
interface InboundFrame {
  payload: Uint8Array;
  stream: Stream;
  connection: Connection;
}

class PeerLink {
  queue: Uint8Array[] = [];
  /** Bytes of the frames in `queue`. */
  queuedBytes = 0;
  stream: Stream | undefined;
  connecting = false;
  attempt = 0;
  retryTimer: NodeJS.Timeout | undefined;
  constructor(public peer: P2PPeer) {}
}

export class P2PHost {
  readonly stats: P2PStats = {
    framesReceived: 0,
    framesIn: 0,
    framesOut: 0,
    dropped: 0,
    inboundDropped: 0,
    rejectedPeers: 0,
    malformedFrames: 0,
  };
  #node!: Libp2p;
  #links = new Map<string, PeerLink>();
  #allowed = new Set<string>();
  #stopped = false;
  #maxFrameBytes: number;
  readonly #inbound: FairQueue<InboundFrame>;
  /** Messages handed to `onMessage` whose work is still pending. */
  #inProgress = 0;
  readonly #utf8 = new TextDecoder("utf-8", { fatal: true });
  /** Per peer: frames dropped since the last warning, and when that was. */
  readonly #drops = new Map<string, { count: number; warnedAt: number }>();

  private constructor(private readonly options: P2POptions) {
    this.#maxFrameBytes = options.maxFrameBytes ?? MAX_FRAME_BYTES;
    this.#inbound = new FairQueue(this.#inboundBounds());
  }

  get maxFrameBytes(): number {
    return this.#maxFrameBytes;
  }

  /** A new cap (a handover's other epoch became known): for frames sent from now on and frames not yet announced. */
  setMaxFrameBytes(bytes: number): void {
    this.#maxFrameBytes = bytes;
    this.#inbound.bounds = this.#inboundBounds();
  }

  #inboundBounds() {
    return { maxItems: MAX_QUEUED_FRAMES, maxBytes: QUEUED_BYTES_IN_FRAMES * this.#maxFrameBytes };
  }

  static async start(options: P2POptions): Promise<P2PHost> {
    const host = new P2PHost(options);
    await host.#start();
    return host;
  }

  get peerId(): string {
    return this.#node.peerId.toString();
  }

  get connectedPeers(): number {
    return [...this.#links.values()].filter((l) => l.stream !== undefined).length;
  }

  async #start(): Promise<void> {
    const gater = (peerId: PeerId) => {
      const denied = !this.#allowed.has(peerId.toString());
      if (denied) this.stats.rejectedPeers++;
      return denied;
    };
    this.#node = await createLibp2p({
      privateKey: privateKeyFromRaw(this.options.privateKey),
      addresses: { listen: [this.options.listen] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: {
        denyDialPeer: gater,
        denyInboundEncryptedConnection: gater,
        denyOutboundEncryptedConnection: gater,
      },
    });
    await this.#node.handle(PROTOCOL, (stream, connection) => this.#read(stream, connection), {
      maxInboundStreams: 4,
    });
  }

  /** Sets who may connect: the nodes of the current and next epochs (this node excluded). */
  setPeers(peers: readonly P2PPeer[]): void {
    this.#allowed = new Set(peers.map((p) => p.id));
    for (const peer of peers) {
      const link = this.#links.get(peer.id);
      if (link) link.peer = peer;
      else this.#links.set(peer.id, new PeerLink(peer));
    }
    for (const [id, link] of this.#links) {
      if (!this.#allowed.has(id)) {
        this.#inbound.clear(id);
        this.#drops.delete(id);
        clearTimeout(link.retryTimer);
        void link.stream?.close().catch(() => undefined);
        this.#links.delete(id);
      }
    }
  }

  /** Queues a message for a peer; it is sent as soon as the peer is reachable. */
  send(to: string, message: unknown): void {
    this.sendMany([to], message);
  }

  /** Queues one message for several peers, encoded once. */
  sendMany(to: readonly string[], message: unknown): void {
    const frame = encodeFrame(message, this.#maxFrameBytes);
    for (const id of to) {
      const link = this.#links.get(id);
      if (link) this.#enqueue(link, frame);
    }
  }

  /**
   * Queues a frame for a peer, dropping its oldest frames beyond the bounds: by bytes too, since the frames this node
   * sends a peer that does not read (served commits of large blocks, say) would otherwise pile up to 4096 caps.
   */
  #enqueue(link: PeerLink, frame: Uint8Array): void {
    const maxBytes = QUEUED_BYTES_IN_FRAMES * this.#maxFrameBytes;
    while (
      link.queue.length > 0 &&
      (link.queue.length >= MAX_QUEUED_FRAMES || link.queuedBytes + frame.length > maxBytes)
    ) {
      link.queuedBytes -= link.queue.shift()!.length;
      this.stats.dropped++;
    }
    link.queue.push(frame);
    link.queuedBytes += frame.length;
    this.#flush(link);
  }

  #flush(link: PeerLink): void {
    if (this.#stopped) return;
    const stream = link.stream;
    if (!stream) {
      this.#connect(link);
      return;
    }
    while (link.queue.length > 0) {
      if (stream.writeStatus !== "writable") {
        link.stream = undefined;
        this.#connect(link);
        return;
      }
      const frame = link.queue.shift()!;
      link.queuedBytes -= frame.length;
      this.stats.framesOut++;
      if (!stream.send(frame)) {
        // Backpressure: wait for the stream to drain before sending more.
        stream.addEventListener("drain", () => this.#flush(link), { once: true });
        return;
      }
    }
  }

  #connect(link: PeerLink): void {
    if (link.connecting || link.retryTimer || this.#stopped) return;
    link.connecting = true;
    const target = multiaddr(`${link.peer.address}/p2p/${link.peer.id}`);
    this.#node
      .dialProtocol(target, PROTOCOL, { signal: AbortSignal.timeout(5000) })
      .then((stream) => {
        link.connecting = false;
        link.attempt = 0;
        link.stream = stream;
        stream.addEventListener("close", () => {
          if (link.stream === stream) link.stream = undefined;
          if (link.queue.length > 0) this.#connect(link);
        });
        this.#flush(link);
      })
      .catch(() => {
        link.connecting = false;
        const delay = DIAL_BACKOFF_MS[Math.min(link.attempt++, DIAL_BACKOFF_MS.length - 1)]!;
        link.retryTimer = setTimeout(() => {
          link.retryTimer = undefined;
          if (this.#links.get(link.peer.id) === link) this.#flush(link);
        }, delay);
        link.retryTimer.unref();
      });
  }

  #read(stream: Stream, connection: Connection): void {
    const from = connection.remotePeer.toString();
    if (!this.#allowed.has(from)) {
      this.stats.rejectedPeers++;
      stream.abort(new Error("not an allowed peer"));
      return;
    }
    const decoder = new FrameDecoder(() => this.#maxFrameBytes);
    stream.addEventListener("message", (event) => {
      let payloads: Uint8Array[];
      try {
        payloads = decoder.push(event.data instanceof Uint8Array ? event.data : event.data.subarray());
      } catch (error) {
        if (error instanceof FrameTooLarge) return this.#drop(stream, connection, `frame of ${error.bytes} bytes`);
        throw error;
      }
      for (const payload of payloads) {
        this.stats.framesReceived++;
        if (!this.#inbound.push(from, { payload, stream, connection }, payload.length)) this.#dropped(from);
      }
      this.#deliver();
    });
  }

  /** Hands queued frames to `onMessage`, the peers in turn, while fewer than MAX_IN_PROGRESS are being worked on. */
  #deliver(): void {
    while (this.#inProgress < MAX_IN_PROGRESS && !this.#stopped) {
      const next = this.#inbound.take();
      if (!next) return;
      const { peer: from, item } = next;
      let message: unknown;
      try {
        message = JSON.parse(this.#utf8.decode(item.payload));
      } catch {
        this.#inbound.clear(from);
        this.#drop(item.stream, item.connection, "a frame that is not JSON");
        continue;
      }
      this.stats.framesIn++;
      let work: void | Promise<void>;
      try {
        work = this.options.onMessage(from, message);
      } catch (error) {
        this.#handlerFailed(from, error);
        continue;
      }
      if (work) {
        this.#inProgress++;
        void work
          .catch((error: unknown) => this.#handlerFailed(from, error))
          .finally(() => {
            this.#inProgress--;
            this.#deliver();
          });
      }
    }
  }

  #handlerFailed(from: string, error: unknown): void {
    this.options.log?.(`handler failed on a message from ${from}: ${(error as Error).message}`);
  }

  /** Counts a frame dropped from a full inbound queue; warns about the peer at most once per interval. */
  #dropped(from: string): void {
    this.stats.inboundDropped++;
    const now = Date.now();
    const drops = this.#drops.get(from) ?? { count: 0, warnedAt: -Infinity };
    drops.count++;
    if (now - drops.warnedAt >= DROP_WARNING_INTERVAL_MS) {
      const { items, bytes } = this.#inbound.waiting(from);
      this.options.log?.(
        `dropped ${drops.count} frames from peer ${from}: its inbound queue is full (${items} frames, ${bytes} bytes)`,
      );
      [drops.count, drops.warnedAt] = [0, now];
    }
    this.#drops.set(from, drops);
  }

  #drop(stream: Stream, connection: Connection, why: string): void {
    this.stats.malformedFrames++;
    this.options.log?.(`dropping peer ${connection.remotePeer.toString()}: it sent ${why}`);
    stream.abort(new Error(why));
    void connection.close().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const link of this.#links.values()) clearTimeout(link.retryTimer);
    await this.#node.stop();
  }
}

/** A message as it goes on the wire: its JSON in one length-prefixed frame (FrameTooLarge above the cap). */
export function encodeFrame(message: unknown, maxFrameBytes = MAX_FRAME_BYTES): Uint8Array {
  return frameOf(new TextEncoder().encode(JSON.stringify(message)), maxFrameBytes);
}
