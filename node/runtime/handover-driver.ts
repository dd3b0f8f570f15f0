/**
 * The handover as this node takes part in it (the sides themselves are in handover.ts, the cores in node/pss/).
 * Old epoch: the signed freeze vote once the chain started the transition, the dealing of the frozen snapshot, the
 * thaw vote when the attempt was aborted, and the end of serving and dealing once it retired. New epoch: the
 * receiving side, a signed vote per moved chunk (repeated until installed), the confirmation on-chain, and the
 * erasure of the receiver's records once nobody needs them (#eraseChunk, #eraseHandover).
 *
 * Must never decide from chain state when to freeze, thaw, deal or retire (epoch-lifecycle.ts does), never deal for an
 * attempt that ended, never vote twice for the same thing, and never erase a receiver record a restart would need to
 * finish the handover or confirm it.
 */
import type { Logger } from "pino";

import type { KeyMappingApp } from "../app/key-mapping-app.ts";
import type { EpochView, Registry } from "../chain/registry.ts";
import type { GeneratedKey, NodeSigner } from "../dkg/types.ts";
import { dealerKeys } from "../pss/moved-state.ts";
import { chunkSharingErasure, handoverErasure } from "../pss/receiver-records.ts";
import type { ReshareDecision } from "../pss/types.ts";
import { encodeTx, type MoveKeysBody } from "../app/transactions.ts";
import type { BftDriver } from "./bft-driver.ts";
import type { CheckPool } from "./check-pool.ts";
import type { EpochStorage } from "./epoch-storage.ts";
import { DealingSide, ReceivingSide, transitionId, type MovedChunk } from "./handover.ts";
import type { KeygenDriver } from "./keygen-driver.ts";
import type { NodeIndex } from "./node-index.ts";
import type { OwnVotes } from "./own-votes.ts";
import type { PeerRouter } from "./peer-router.ts";
import type { SerialExecutor } from "./serial-executor.ts";

type HandoverDigest = { mappingRoot: string; keyCount: number; commitmentsRoot: string };

export interface HandoverDriverParts {
  epoch: EpochView;
  self: NodeIndex;
  /** In a successor epoch: the epoch it takes over from and the transition attempt this node runs. */
  successor: { from: EpochView; attempt: number } | undefined;
  /** This epoch's encoded signing domain (node/crypto/domain.ts); a successor's names the handover attempt. */
  signingDomain: string;
  signer: NodeSigner;
  registry: Pick<Registry, "readEpoch" | "call">;
  storage: EpochStorage;
  bft: BftDriver;
  keygen: KeygenDriver;
  votes: OwnVotes;
  router: PeerRouter;
  executor: SerialExecutor;
  findKey(keyIndex: number): Promise<GeneratedKey | undefined>;
  /**
   * keygen.resendWindowSeconds: how long after a batch's keys are published its peers keep what a lagging node needs
   * to finish it. A dealer that lacks shares at the freeze waits that long for them at most (#waitedTooLong).
   */
  resendWindowSeconds: number;
  log: Logger;
  /** The node's check workers, when it has any (`crypto.workers`): the receiving side's checks run there. */
  checks?: CheckPool | undefined;
}

export class HandoverDriver {
  /** The old epoch's side, once its state is frozen. */
  #dealing: DealingSide | undefined;
  /** Why this node cannot deal in the frozen attempt at all: it sits the attempt out. */
  #dealingProblem: string | undefined;
  /**
   * The keys of the frozen snapshot this node lacked when it first tried to deal for `attempt`, less those the key
   * store gained since: its key generation may still be finishing a batch it was down for, or rebuilding one from its
   * log. Once none is missing, the node reads its keys again and deals (#stored); until then a poll reads nothing.
   */
  #lacking: { attempt: number; missing: Set<number> } | undefined;
  /** The attempt this epoch froze for and that ended without completing: nothing more is dealt for it. */
  #endedAttempt = 0;
  /** The new epoch's side (a successor epoch's only). */
  readonly #receiving: ReceivingSide | undefined;
  /** This node's signed vote for each moved chunk it holds. */
  readonly #moveVotes = new Map<number, string>();
  /** Moved chunks whose keys are in the key store, waiting to be installed before their resend window starts. */
  readonly #uninstalled = new Set<number>();
  /** Moved chunks whose sharings are erased, and how many chunks the handover moves (0 before one is done here). */
  readonly #erasedChunks = new Set<number>();
  #chunks = 0;
  /** The handover to this epoch completed (it serves): the receiver's records wait only for the chunks' erasure. */
  #completed = false;
  readonly #votedFor = new Set<string>();
  #retired = false;

  constructor(private readonly parts: HandoverDriverParts) {
    const { epoch, successor, self, signingDomain, signer, storage, bft, executor, log } = parts;
    storage.keyStore.onStored((keyIndexes) => this.#stored(keyIndexes));
    if (successor)
      this.#receiving = new ReceivingSide(
        successor.from,
        { epoch, attempt: successor.attempt, index: self, signingDomain, signer },
        {
          log,
          send: (peerId, message) => parts.router.sendToPeer(peerId, message),
          persist: (record) => storage.pss!.append(record, { sync: true }),
          propose: async (decision) => void (await bft.propose(encodeTx({ type: "reshareDecision", decision }))),
          after: (ms, task) => executor.after(ms, task),
          confirm: (digest) => this.#confirm(digest),
          chunkDone: (chunk) => this.#onMovedChunk(chunk),
          check: parts.checks && ((job) => parts.checks!.run(job)),
        },
      );
  }

  get retired(): boolean {
    return this.#retired;
  }

  /** Starts the receiving side from its records (`pss.sqlite`) and the reshare decisions the stored blocks made. */
  async start(reshares: ReshareDecision[]): Promise<void> {
    await this.#receiving?.start(this.parts.storage.pss!.records(), reshares);
    this.#afterInstall();
  }

  /** The other epoch's nodes the host must link to while the handover runs. */
  setPeers(): void {
    const partners = [this.#receiving?.from, this.#dealing?.next].filter((e) => e !== undefined);
    this.parts.router.setPeers([...(this.#receiving?.oldPeers ?? []), ...(this.#dealing?.peers ?? [])], partners);
  }

  /** A "pss" message: to the dealing side if from the next epoch's nodes, else to the receiving side. */
  async fromPeer(peerId: string, message: unknown): Promise<void> {
    if (this.#dealing?.onMessage(peerId, message)) return;
    await this.#receiving?.onMessage(peerId, message);
  }

  /**
   * A block decided: its reshare decisions go to the receiving side; votes the app refused for now go again; moved
   * chunks it installed start their resend window.
   */
  async decided(reshares: ReshareDecision[]): Promise<void> {
    for (const decision of reshares) await this.#receiving?.decided(decision);
    await this.#voteAgain();
    this.#afterInstall();
  }

  /**
   * The handover to this epoch completed on-chain, and every moved chunk is installed: this epoch serves
   * (ServingState). The receiver's records go once every chunk's resend window has passed (#eraseHandover).
   */
  async handoverCompleted(): Promise<void> {
    if (!this.#receiving) return;
    this.#completed = true;
    await this.#eraseHandover();
  }

  /** The chain started the transition to `nextEpoch`: vote, signed, that this epoch's state freezes. */
  async voteFreeze(nextEpoch: number, attempt: number): Promise<void> {
    if (this.parts.bft.app.frozen) return;
    await this.#vote("freeze", nextEpoch, attempt);
  }

  /**
   * The attempt this epoch froze for ended without completing: stop dealing, and vote, signed, to thaw the state; at
   * a quorum it serves new users and generates keys again, and a retry freezes it anew.
   */
  async voteThaw(): Promise<void> {
    const frozen = this.parts.bft.app.frozen;
    if (!frozen) return;
    this.#endedAttempt = frozen.attempt;
    if (this.#dealing) {
      this.#dealing = undefined;
      this.setPeers();
      this.parts.log.warn({ nextEpoch: frozen.nextEpoch, attempt: frozen.attempt }, "the handover was aborted");
    }
    this.#dealingProblem = undefined;
    this.#lacking = undefined;
    await this.#vote("unfreeze", frozen.nextEpoch, frozen.attempt);
  }

  /**
   * The old epoch's side: once the state is frozen, deal every key of the snapshot to the next epoch's nodes. A node
   * that lacks shares of some keys waits for them (each poll calls this; it reads nothing until the key store gained
   * them all) and then deals late; the dealing is the same as on time, since the snapshot is fixed at the freeze and
   * the polynomials are derived from the dealer's seed and the keys dealt (node/pss/dealer.ts). A node that can never
   * deal (a damaged key, or shares that did not come within the resend window) sits out and says why; at least k_old
   * honest nodes carry the handover.
   */
  async startDealing(): Promise<void> {
    const { app } = this.parts.bft;
    const { log } = this.parts;
    const frozen = app.frozen;
    if (!frozen || this.#dealingProblem || this.#endedAttempt === frozen.attempt || this.#retired) return;
    if (this.#dealing?.attempt === frozen.attempt && this.#dealing.next.epoch === frozen.nextEpoch) return;
    const lacking = this.#lacking?.attempt === frozen.attempt ? this.#lacking : undefined;
    if (lacking && lacking.missing.size > 0) return;
    const next = await this.parts.registry.readEpoch(frozen.nextEpoch);
    const snapshot = await this.#snapshot();
    const keys = await dealerKeys(snapshot, (i) => this.parts.findKey(i));
    if ("problem" in keys) {
      if (!keys.missing) return this.#sitOut(keys.problem);
      this.#lacking = { attempt: frozen.attempt, missing: new Set(keys.missing) };
      if (lacking) return; // found missing again after all (already said so, and the wait is timed)
      log.warn(
        { problem: keys.problem, waitSeconds: this.parts.resendWindowSeconds },
        "this node cannot deal in the handover yet: it deals once its key store holds the shares it lacks",
      );
      const attempt = frozen.attempt;
      this.parts.executor.after(this.parts.resendWindowSeconds * 1000, () =>
        Promise.resolve(this.#waitedTooLong(attempt)),
      );
      return;
    }
    this.#lacking = undefined;
    const seed = await this.parts.storage.dealerSeed();
    this.#dealing = new DealingSide(
      next,
      frozen.attempt,
      { epoch: this.parts.epoch, index: this.parts.self, seed },
      { keys: keys.keys, nextKeyIndex: snapshot.nextKeyIndex },
      (peerId, message) => this.parts.router.sendToPeer(peerId, message),
    );
    this.setPeers();
    log.info(
      { nextEpoch: next.epoch, keys: keys.keys.length },
      lacking
        ? "dealing every key to the next epoch, late: the key store now holds the shares this node lacked"
        : "dealing every key to the next epoch",
    );
    this.#dealing.start();
  }

  /**
   * What the frozen state moves to the next epoch (KeyMappingApp.snapshot's contents, read from the chain store page
   * by page): every key in index order with its owner, and the key index the next epoch continues from.
   */
  async #snapshot(): Promise<ReturnType<KeyMappingApp["snapshot"]>> {
    const page = 10_000;
    const keys: ReturnType<KeyMappingApp["snapshot"]>["keys"] = [];
    for (let from = 0; ;) {
      const next = await this.parts.storage.appQueries.keys(from, page);
      keys.push(...next);
      if (next.length < page) break;
      from = next[next.length - 1]!.keyIndex + 1;
    }
    const pastKeys = keys.length > 0 ? keys[keys.length - 1]!.keyIndex + 1 : 0;
    return { keys, nextKeyIndex: this.parts.bft.app.nextKeyIndex(pastKeys) };
  }

  /**
   * The key store wrote a batch or a moved chunk: what this node lacked for dealing may have come. The last missing
   * share queues the dealing at once rather than at the next poll (queued, not awaited: the store writes inside
   * another task of the executor).
   */
  #stored(keyIndexes: number[]): void {
    const lacking = this.#lacking;
    if (!lacking || lacking.missing.size === 0) return;
    for (const keyIndex of keyIndexes) lacking.missing.delete(keyIndex);
    if (lacking.missing.size === 0) void this.parts.executor.run(() => this.startDealing());
  }

  /**
   * The resend window has passed since this node first lacked shares: the keys were published before the freeze, so
   * every peer has erased the key-generation records this node would need to finish their batch (KeygenDriver's
   * #erase) and the shares can never come.
   */
  #waitedTooLong(attempt: number): void {
    const lacking = this.#lacking;
    if (lacking?.attempt !== attempt || lacking.missing.size === 0 || this.#dealingProblem) return;
    const first = Math.min(...lacking.missing);
    this.#sitOut(
      `this node still holds no share of ${lacking.missing.size} key(s) (${first} first) ` +
        `${this.parts.resendWindowSeconds} s after it first tried to deal: the resend window of their batch has ` +
        `passed, so its peers erased the key-generation records it would need to finish it`,
    );
  }

  /** This node can never deal in the frozen attempt: it says why, once, and leaves the dealing to the others. */
  #sitOut(problem: string): void {
    this.#dealingProblem = problem;
    this.#lacking = undefined;
    this.parts.log.error({ problem }, "this node sits the handover out as a dealer");
  }

  /**
   * The handover to the next epoch completed on-chain: this node serves no client and deals no more. The node then
   * stops the epoch's protocols and erases its directory (EpochStorage.retire).
   */
  retire(): void {
    this.#retired = true;
    this.#dealing = undefined;
    this.parts.keygen.retire();
  }

  /**
   * A handover chunk is done: its shares go to the key store, and this node votes, signed, that the chunk moved these
   * keys and owners; a quorum of identical votes installs them in the app at one block on every replica.
   */
  async #onMovedChunk({ chunk, chunks, nextKeyIndex, keys }: MovedChunk): Promise<void> {
    const { storage, bft, epoch, successor, votes } = this.parts;
    await storage.keyStore.saveMoved(
      chunk,
      keys.map(({ keyIndex, publicKey, shareKeys, share }) => ({
        keyIndex,
        publicKey,
        shareKeys,
        share,
        blinding: "",
      })),
    );
    this.#chunks = chunks;
    if (!this.#erasedChunks.has(chunk)) this.#uninstalled.add(chunk);
    this.#afterInstall(); // installed already (a restart, or this node was late)
    if (bft.app.installed || bft.app.movedChunkInstalled(chunk) || this.#moveVotes.has(chunk)) return;
    const body: MoveKeysBody = {
      transition: transitionId(epoch.epoch, successor!.attempt),
      chunk,
      chunks,
      nextKeyIndex,
      keys: keys.map(({ keyIndex, publicKey, owner }) => ({
        keyIndex,
        publicKey: { x: publicKey.slice(2, 66), y: publicKey.slice(66, 130) },
        ...(owner ? { owner } : {}),
      })),
    };
    const tx = votes.moveKeys(body);
    this.#moveVotes.set(chunk, tx);
    await bft.propose(tx);
  }

  /** Every stored chunk the app installed starts its resend window, at the end of which its sharings are erased. */
  #afterInstall(): void {
    const { app } = this.parts.bft;
    for (const chunk of this.#uninstalled) {
      if (!app.movedChunkInstalled(chunk)) continue;
      this.#uninstalled.delete(chunk);
      this.parts.executor.after(this.parts.resendWindowSeconds * 1000, () => this.#eraseChunk(chunk));
    }
  }

  /**
   * Erases a moved chunk's sharings from memory and from the receiver's records (`pss.sqlite`, one atomic
   * compaction; the store zeroes what it deletes and truncates its WAL): the rows and columns each old dealer sent
   * this node, with their commitments and readies, which outlived their use. What they protected, and why nothing
   * needs them any more at this moment:
   * - a restart's duty to finish the chunk: the chunk's keys are in the key store (`saveMoved` resolved, durable), and
   *   its `keys` record stays, so a restart counts the chunk done without them (node/pss/receiver.ts);
   * - the echoes and readies a lagging new node may still ask for: the chunk is installed (a quorum of new nodes
   *   voted for it, each after storing its keys), and the resend window has passed since this node saw that, as for
   *   a key-generation batch (KeygenDriver's #erase). A node down longer lacks shares of the chunk's keys, which k
   *   other nodes serve.
   * The chunk's other records (its moved records, the decision, the new shares) stay until the handover completed:
   * the confirmation's digest covers every moved key, and a restart before it must be able to confirm.
   */
  async #eraseChunk(chunk: number): Promise<void> {
    const { storage, log } = this.parts;
    if (this.#retired || !this.#receiving || this.#receiving.finished) return;
    this.#receiving.forget(chunk);
    const erased = await storage.pss!.compact(chunkSharingErasure(chunk).select);
    this.#erasedChunks.add(chunk);
    if (erased > 0)
      log.info({ chunk }, "erased the sharings a moved chunk was reshared with (its keys are in the key store)");
    await this.#eraseHandover();
  }

  /**
   * Erases every receiver record, leaving one `completed` record, once nothing can need them: the handover completed
   * on-chain (this node's confirmation counts no more, and the chain refuses it), every moved chunk is installed
   * (no vote is needed again), and this node holds every chunk in its key store with its sharings erased (each past
   * its resend window). A restart then restores nothing and asks for nothing; one that lacks a chunk keeps its records,
   * which may still let it finish that chunk, until the epoch retires.
   */
  async #eraseHandover(): Promise<void> {
    const receiving = this.#receiving;
    if (!this.#completed || this.#retired || !receiving || receiving.finished || !receiving.done) return;
    if (this.#chunks === 0 || this.#erasedChunks.size < this.#chunks || !this.parts.bft.app.installed) return;
    const { select, replace } = handoverErasure();
    await this.parts.storage.pss!.compact(select, replace);
    receiving.finish();
    this.parts.log.info(
      { chunks: this.#chunks },
      "erased the handover's records: it completed, and every moved key is in the key store",
    );
  }

  /**
   * Votes again for moved chunks not installed yet: a vote the app refused for now (too many open votes while this
   * node is ahead of its peers) must not be lost, or a chunk that needs it would never install. A vote already
   * counted is refused by the mempool's check, so this sends nothing twice.
   */
  async #voteAgain(): Promise<void> {
    const { app, mempool } = this.parts.bft;
    if (app.installed) return;
    for (const [chunk, tx] of this.#moveVotes)
      if (!app.movedChunkInstalled(chunk) && !mempool.has(tx)) await this.parts.bft.propose(tx);
  }

  /** This node's signed freeze or unfreeze vote, once per attempt (repeated until it is in the mempool). */
  async #vote(type: "freeze" | "unfreeze", nextEpoch: number, attempt: number): Promise<void> {
    const id = `${type}/${nextEpoch}/${attempt}`;
    if (this.#votedFor.has(id)) return;
    const tx = this.parts.votes.freeze(type, nextEpoch, attempt);
    await this.parts.executor.run(async () => {
      const added = await this.parts.bft.proposeAgain(tx);
      if (!added.ok && added.reason !== "duplicate") return;
      this.#votedFor.add(id);
      this.parts.log.info({ nextEpoch, attempt }, `voted to ${type} the state for the handover`);
    });
  }

  /** The new epoch's side holds every moved key: confirm on-chain (once per transition attempt). */
  async #confirm(digest: HandoverDigest): Promise<void> {
    const { registry, epoch, log } = this.parts;
    try {
      await registry.call("confirmHandover", async (c) => {
        const tx = await c.confirmHandover(epoch.epoch, digest.mappingRoot, digest.keyCount, digest.commitmentsRoot);
        await tx.wait();
      });
      log.info({ ...digest }, "confirmed the handover on-chain");
    } catch (error) {
      // A restart after confirming finds the confirmation on-chain (AlreadyConfirmed): nothing to do.
      log.warn({ err: error }, "confirmHandover was refused");
    }
  }
}
