/**
 * The handover's two sides wired to a node's IO (the cores are in node/pss/). The old epoch's node deals, once its
 * state is frozen, to the next epoch's nodes; the new epoch's node receives, orders reshare decisions on its own BFT
 * network, and confirms on-chain once it holds verified shares of every moved key. Peers of the other epoch are
 * reached over the same libp2p host, on the "pss" channel.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import type { Logger } from "pino";

import { canonicalJson } from "../crypto/encoding.ts";
import type { EpochView } from "../chain/registry.ts";
import { systemRng } from "../crypto/field.ts";
import { pointFromCoordinates } from "../crypto/point.ts";
import type { CheckJob, CheckResult } from "../dkg/checks.ts";
import type { NodeSigner } from "../dkg/types.ts";
import { peerIdOf, type P2PPeer } from "../p2p/host.ts";
import { ReshareDealer, type DealerKey, type DealerSend } from "../pss/dealer.ts";
import { ReshareReceiver, type ReceiverOutput } from "../pss/receiver.ts";
import type { ReceiverRecord } from "../pss/receiver-records.ts";
import type { ReshareDecision, ResharedKey } from "../pss/types.ts";

/** Keys per handover chunk: one AVSS session per old dealer carries this many keys. */
export const HANDOVER_CHUNK_SIZE = 25;

export const thresholdsOf = (e: EpochView) => ({ n: e.n, t: e.t, k: e.k });

/**
 * The id of one attempt of the handover to `epoch` (epoch·1,000,000 + attempt): every message, ready signature,
 * commitment hash, dealing and decision is bound to it, so nothing of an aborted attempt counts in a retry, and a
 * dealer's polynomials for a retry are fresh (the snapshot that moves may differ).
 */
export function transitionId(epoch: number, attempt: number): number {
  return epoch * 1_000_000 + attempt;
}

/** The libp2p peers of an epoch's nodes, in index order. */
export function epochPeers(epoch: EpochView): P2PPeer[] {
  return epoch.nodes.map((n) => ({
    id: peerIdOf(pointFromCoordinates(n.pubKx, n.pubKy, `node ${n.index} key`).toBytes(false)),
    address: n.p2pListenAddress,
  }));
}

/** The old epoch's side: deals every frozen key to the next epoch's nodes and answers their resend requests. */
export class DealingSide {
  readonly #dealer: ReshareDealer;
  readonly #peers: P2PPeer[];
  readonly #indexOf: Map<string, number>;

  constructor(
    readonly next: EpochView,
    readonly attempt: number,
    own: { epoch: EpochView; index: number; seed: Uint8Array },
    keys: { keys: DealerKey[]; nextKeyIndex: number },
    private readonly send: (peerId: string, message: unknown) => void,
  ) {
    this.#peers = epochPeers(next);
    this.#indexOf = new Map(this.#peers.map((p, i) => [p.id, i + 1]));
    this.#dealer = new ReshareDealer(
      {
        transition: transitionId(next.epoch, attempt),
        old: thresholdsOf(own.epoch),
        new: thresholdsOf(next),
        self: own.index,
        chunkSize: HANDOVER_CHUNK_SIZE,
        nextKeyIndex: keys.nextKeyIndex,
        seed: own.seed,
      },
      keys.keys,
    );
  }

  get peers(): P2PPeer[] {
    return this.#peers;
  }

  start(): void {
    this.#carryOut(this.#dealer.start());
  }

  /** A message from a peer; false when the peer is not a node of the next epoch. */
  onMessage(peerId: string, message: unknown): boolean {
    const index = this.#indexOf.get(peerId);
    if (index === undefined) return false;
    this.#carryOut(this.#dealer.onMessage(index, message));
    return true;
  }

  #carryOut(sends: DealerSend[]): void {
    for (const { to, message } of sends) this.send(this.#peers[to - 1]!.id, { ch: "pss", m: message });
  }
}

/** A handover chunk as a new node holds it once done. */
export interface MovedChunk {
  chunk: number;
  chunks: number;
  nextKeyIndex: number;
  keys: ResharedKey[];
}

/** What the new epoch's side needs from its node. */
export interface ReceivingHost {
  log: Logger;
  /** Sends to a peer of either epoch (an envelope on the "pss" channel). */
  send(peerId: string, message: unknown): void;
  persist(record: ReceiverRecord): Promise<void>;
  propose(decision: ReshareDecision): Promise<void>;
  after(ms: number, task: () => Promise<void>): void;
  /** A chunk is done (live, or found in the records at a restart): this node holds verified shares of its keys. */
  chunkDone(chunk: MovedChunk): Promise<void>;
  /** Confirms on-chain: every moved key is held, with the digest every honest new node computes. */
  confirm(digest: { mappingRoot: string; keyCount: number; commitmentsRoot: string }): Promise<void>;
  /** Runs a check on the node's check workers; absent, the receiver checks in place. */
  check?: ((job: CheckJob) => Promise<CheckResult>) | undefined;
}

/** The new epoch's side: receives the moved keys and reshared shares, and confirms once it holds all of them. */
export class ReceivingSide {
  readonly #receiver: ReshareReceiver;
  readonly #oldPeers: P2PPeer[];
  readonly #ownPeers: P2PPeer[];
  readonly #oldIndex: Map<string, number>;
  readonly #newIndex: Map<string, number>;
  /** The moved keys by chunk, as this node holds them. */
  readonly #moved = new Map<number, MovedChunk>();
  #confirmed = false;

  constructor(
    readonly from: EpochView,
    own: { epoch: EpochView; attempt: number; index: number; signingDomain: string; signer: NodeSigner },
    private readonly host: ReceivingHost,
  ) {
    this.#oldPeers = epochPeers(from);
    this.#ownPeers = epochPeers(own.epoch);
    this.#oldIndex = new Map(this.#oldPeers.map((p, i) => [p.id, i + 1]));
    this.#newIndex = new Map(this.#ownPeers.map((p, i) => [p.id, i + 1]));
    this.#receiver = new ReshareReceiver({
      transition: transitionId(own.epoch.epoch, own.attempt),
      old: thresholdsOf(from),
      new: thresholdsOf(own.epoch),
      self: own.index,
      chunkSize: HANDOVER_CHUNK_SIZE,
      resendMs: 5000,
      signingDomain: own.signingDomain,
      signer: own.signer,
      rng: systemRng,
      deferChecks: host.check !== undefined,
    });
  }

  /** The old epoch's nodes, which this node must be able to reach. */
  get oldPeers(): P2PPeer[] {
    return this.#oldPeers;
  }

  /** Every chunk is done here: this node holds verified shares of every moved key. */
  get done(): boolean {
    return this.#receiver.done;
  }

  /** The handover completed and its records were erased: nothing is left to receive. */
  get finished(): boolean {
    return this.#receiver.finished;
  }

  /** A done chunk's sharings are erased (node/pss/receiver.ts, `forget`). */
  forget(chunk: number): void {
    this.#receiver.forget(chunk);
  }

  /** Every record was erased (the handover completed): the moved keys held for the confirmation go too. */
  finish(): void {
    this.#moved.clear();
    this.#receiver.finish();
  }

  /**
   * Restores the receiver from its records, read as they come (a store pages them; nothing else appends meanwhile),
   * hands every chunk found done to the host again, then starts it and tells it the decisions the stored blocks made.
   */
  async start(records: AsyncIterable<ReceiverRecord>, decisions: readonly ReshareDecision[]): Promise<void> {
    const accepted = new Map<number, { chunks: number; nextKeyIndex: number }>();
    for await (const record of records) {
      this.#receiver.restoreRecord(record);
      if (record.kind === "records")
        accepted.set(record.chunk, { chunks: record.chunks, nextKeyIndex: record.nextKeyIndex });
      if (record.kind !== "keys") continue;
      const { chunks, nextKeyIndex } = accepted.get(record.chunk)!;
      const moved = { chunk: record.chunk, chunks, nextKeyIndex, keys: record.keys };
      this.#moved.set(record.chunk, moved);
      await this.host.chunkDone(moved);
    }
    await this.#carryOut(this.#receiver.resume());
    for (const decision of decisions) await this.decided(decision);
  }

  /** A message from a peer of either epoch; false when it is neither's. */
  async onMessage(peerId: string, message: unknown): Promise<boolean> {
    const old = this.#oldIndex.get(peerId);
    const own = this.#newIndex.get(peerId);
    if (old === undefined && own === undefined) return false;
    const from = old !== undefined ? { role: "old" as const, index: old } : { role: "new" as const, index: own! };
    await this.#carryOut(this.#receiver.step({ type: "message", from, message }));
    return true;
  }

  async decided(decision: ReshareDecision): Promise<void> {
    await this.#carryOut(this.#receiver.step({ type: "decided", decision }));
  }

  async #carryOut(outputs: ReceiverOutput[]): Promise<void> {
    for (const output of outputs) {
      switch (output.type) {
        case "persist":
          await this.host.persist(output.record);
          break;
        case "send": {
          const peers = output.to.role === "old" ? this.#oldPeers : this.#ownPeers;
          const peer = peers[output.to.index - 1];
          if (peer) this.host.send(peer.id, { ch: "pss", m: output.message });
          break;
        }
        case "propose":
          await this.host.propose(output.decision);
          break;
        case "keys": {
          const { chunk, chunks, nextKeyIndex, keys } = output;
          this.#moved.set(chunk, { chunk, chunks, nextKeyIndex, keys });
          await this.host.chunkDone({ chunk, chunks, nextKeyIndex, keys });
          break;
        }
        case "timer": {
          const chunk = output.chunk;
          this.host.after(output.delayMs, () => this.#carryOut(this.#receiver.step({ type: "timer", chunk })));
          break;
        }
        case "done":
          this.host.log.info({ keys: output.keys, nextKeyIndex: output.nextKeyIndex }, "holds every moved key");
          await this.#confirm();
          break;
        case "check": {
          const { id, job } = output;
          this.host.check!(job).then(
            (result) => this.host.after(0, () => this.#carryOut(this.#receiver.step({ type: "checked", id, result }))),
            (error: unknown) => this.host.log.error({ err: error }, "a handover check failed"),
          );
          break;
        }
        case "rejected":
          this.host.log.debug({ from: output.from, reason: output.reason }, "handover message rejected");
          break;
      }
    }
  }

  async #confirm(): Promise<void> {
    if (this.#confirmed) return;
    const keys = [...this.#moved.values()].flatMap((c) => c.keys).sort((a, b) => a.keyIndex - b.keyIndex);
    const root = (value: unknown) => "0x" + bytesToHex(keccak_256(utf8ToBytes(canonicalJson(value))));
    await this.host.confirm({
      mappingRoot: root(keys.filter((k) => k.owner).map((k) => [k.keyIndex, k.owner])),
      keyCount: keys.length,
      commitmentsRoot: root(keys.map((k) => [k.keyIndex, k.publicKey, k.shareKeys])),
    });
    this.#confirmed = true;
  }
}
