/**
 * The node's libp2p host: TCP, Noise, Yamux, with the node's secp256k1 key (the key registered on-chain) as its peer
 * identity. Only peers on the allow-list (the nodes of the current and next epochs) may connect, in either direction.
 *
 * Messages are JSON values in length-prefixed frames (u32 big-endian length, then UTF-8 JSON) on one long-lived
 * outbound stream per peer. Each peer has a bounded send queue: a peer that is down or slow loses the oldest
 * messages first, which the protocols recover from (BFT gossip, key-generation resend). A peer that sends an oversized
 * frame or bytes that are not JSON is disconnected and counted, never trusted and never able to crash the node.
 */
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { privateKeyFromRaw, publicKeyFromRaw } from "@libp2p/crypto/keys";
import type { Connection, Libp2p, PeerId, Stream } from "@libp2p/interface";
import { peerIdFromPublicKey } from "@libp2p/peer-id";
import { tcp } from "@libp2p/tcp";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";

import { FrameDecoder, FrameTooLarge, encodeFrame as frameOf } from "./framing.ts";

export const PROTOCOL = "/torus-network/1.0.0";
/** The frame cap when the node sets none (P2POptions.maxFrameBytes). */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;
const MAX_QUEUED_FRAMES = 4096;
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
  framesIn: number;
  framesOut: number;
  dropped: number;
  rejectedPeers: number;
  malformedFrames: number;
}

export interface P2POptions {
  /** The node key, 32 bytes. */
  privateKey: Uint8Array;
  listen: string;
  onMessage: (from: string, message: unknown) => void;
  log?: (message: string) => void;
  /** The largest frame sent or taken (default MAX_FRAME_BYTES); a peer that announces a larger one is dropped. */
  maxFrameBytes?: number;
}

class PeerLink {
  queue: Uint8Array[] = [];
  stream: Stream | undefined;
  connecting = false;
  attempt = 0;
  retryTimer: NodeJS.Timeout | undefined;
  constructor(public peer: P2PPeer) {}
}

export class P2PHost {
  readonly stats: P2PStats = { framesIn: 0, framesOut: 0, dropped: 0, rejectedPeers: 0, malformedFrames: 0 };
  #node!: Libp2p;
  #links = new Map<string, PeerLink>();
  #allowed = new Set<string>();
  #stopped = false;

  private constructor(private readonly options: P2POptions) {}

  get #maxFrameBytes(): number {
    return this.options.maxFrameBytes ?? MAX_FRAME_BYTES;
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

  #enqueue(link: PeerLink, frame: Uint8Array): void {
    if (link.queue.length >= MAX_QUEUED_FRAMES) {
      link.queue.shift();
      this.stats.dropped++;
    }
    link.queue.push(frame);
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
    const decoder = new FrameDecoder(this.#maxFrameBytes);
    const utf8 = new TextDecoder("utf-8", { fatal: true });
    stream.addEventListener("message", (event) => {
      let payloads: Uint8Array[];
      try {
        payloads = decoder.push(event.data instanceof Uint8Array ? event.data : event.data.subarray());
      } catch (error) {
        if (error instanceof FrameTooLarge) return this.#drop(stream, connection, `frame of ${error.bytes} bytes`);
        throw error;
      }
      for (const payload of payloads) {
        let message: unknown;
        try {
          message = JSON.parse(utf8.decode(payload));
        } catch {
          return this.#drop(stream, connection, "a frame that is not JSON");
        }
        this.stats.framesIn++;
        try {
          this.options.onMessage(from, message);
        } catch (error) {
          this.options.log?.(`handler failed on a message from ${from}: ${(error as Error).message}`);
        }
      }
    });
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
