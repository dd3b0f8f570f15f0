/**
 * Drives this epoch's key generation (node/dkg/keygen.ts): restores it from its records, feeds it peer messages, timer
 * firings, the dealer-set decisions the BFT orders and the demand for keys, and carries out its outputs — records to
 * the key-generation record store (`keygen.sqlite`), messages to peers, decisions proposed to the BFT, finished batches to the key store with a
 * signed vote to publish their public keys — and erases a finished batch's records once nobody needs them (#erase).
 *
 * Must never send a message, propose a decision or store a batch before the records it depends on are synced,
 * never erase a batch's records before its shares are durable in the key store and its keys published, and never act
 * once the epoch retired (its records and shares are erased).
 */
import type { Logger } from "pino";

import type { KeyMappingApp } from "../app/key-mapping-app.ts";
import { encodeTx } from "../app/transactions.ts";
import type { EpochView } from "../chain/registry.ts";
import { systemRng } from "../crypto/field.ts";
import { KeyGenerator, batchErasure, batchOfRecord, type KeygenInput, type KeygenOutput } from "../dkg/keygen.ts";
import type { DealerDecision, GeneratedKey, NodeSigner } from "../dkg/types.ts";
import type { BftDriver } from "./bft-driver.ts";
import type { CheckPool } from "./check-pool.ts";
import type { EpochStorage } from "./epoch-storage.ts";
import { nodeIndex, type NodeIndex } from "./node-index.ts";
import type { NodeMetrics } from "./node-metrics.ts";
import type { OwnVotes } from "./own-votes.ts";
import type { PeerRouter } from "./peer-router.ts";
import type { SerialExecutor } from "./serial-executor.ts";

export interface KeygenSettings {
  batchSize: number;
  keyBuffer: number;
  refillMark: number;
  /** How long after a batch's keys are published its dealing and received rows and columns are kept (#erase). */
  resendWindowSeconds: number;
}

export interface KeygenDriverParts {
  epoch: EpochView;
  self: NodeIndex;
  settings: KeygenSettings;
  /** The epoch's encoded signing domain (node/crypto/domain.ts). */
  signingDomain: string;
  signer: NodeSigner;
  storage: EpochStorage;
  bft: BftDriver;
  votes: OwnVotes;
  router: PeerRouter;
  executor: SerialExecutor;
  metrics: NodeMetrics;
  log: Logger;
  /** The node's check workers, when it has any (`crypto.workers`): the key generation's checks run there. */
  checks?: CheckPool | undefined;
}

/**
 * Batches under way at once: while one batch's checks run on the worker pool, another's messages keep the main
 * thread busy; more would only hold more rows in memory.
 */
export const KEYGEN_CONCURRENT_BATCHES = 2;

export class KeygenDriver {
  /** Started once the epoch serves (a successor's from the moved next key index). */
  #keygen: KeyGenerator | undefined;
  #retired = false;
  /** Batches whose shares are in the key store and whose keys are not published yet: batch → its first key. */
  readonly #unpublished = new Map<number, GeneratedKey>();

  constructor(private readonly parts: KeygenDriverParts) {}

  get app(): KeyMappingApp {
    return this.parts.bft.app;
  }

  /**
   * Starts the key generation from the app's first key index, restored from its records and told every decision
   * already ordered (peers may have started earlier), then tells it the demand. The records are read page by page
   * into the key generation as they come (nothing before this start appends to them): only the finished batches'
   * keys are kept aside, for the key store.
   */
  async start(): Promise<void> {
    const { epoch, self, settings, signingDomain, signer, storage } = this.parts;
    this.#keygen = new KeyGenerator({
      epoch: epoch.epoch,
      n: epoch.n,
      t: epoch.t,
      k: epoch.k,
      self,
      batchSize: settings.batchSize,
      keyBuffer: settings.keyBuffer,
      refillMark: settings.refillMark,
      maxConcurrentBatches: KEYGEN_CONCURRENT_BATCHES,
      resendMs: 3000,
      firstKeyIndex: this.app.firstKeyIndex,
      signingDomain,
      signer,
      rng: systemRng,
      deferChecks: this.parts.checks !== undefined,
    });
    const finished: { batch: number; keys: GeneratedKey[] }[] = [];
    let fromBatch = Infinity;
    for await (const record of storage.keygen.records()) {
      this.#keygen.restoreRecord(record);
      if (record.kind === "keys") finished.push(record);
      fromBatch = Math.min(fromBatch, batchOfRecord(record));
    }
    await this.#carryOut(this.#keygen.resume());
    // A crash after a batch's keys reached the records but before the key store wrote them leaves a batch the key
    // generation counts as done and the store lacks: write it now, and vote to publish it (the app refuses the vote
    // if it is published already).
    for (const { batch, keys } of finished) {
      if (!(await storage.keyStore.hasBatch(batch))) await this.#onKeys(batch, keys);
      else this.#unpublished.set(batch, keys[0]!); // a crash came before its records were erased
    }
    // Decisions ordered while this node was down reach the key generation again: those of every batch it still holds
    // records of, or has not reached (it ignores those it already has; an earlier batch is finished here).
    fromBatch = Math.min(this.#keygen.nextBatch, fromBatch);
    for (;;) {
      const page = await storage.appQueries.decisions(fromBatch, 256);
      for (const decision of page) await this.decided(decision);
      if (page.length < 256) break;
      fromBatch = page[page.length - 1]!.batch + 1;
    }
    await this.demand();
    await this.afterBlock();
  }

  fromPeer(from: NodeIndex, message: unknown): Promise<void> {
    return this.#step({ type: "message", from, message });
  }

  decided(decision: DealerDecision): Promise<void> {
    return this.#step({ type: "decided", decision });
  }

  /**
   * Tells the key buffer how many keys are free; once frozen for the handover, no new batch starts, and a successor
   * epoch starts none before the handover (its key indexes continue from the moved next index).
   */
  async demand(): Promise<void> {
    if (this.app.frozen) return;
    await this.#step({ type: "demand", unassigned: this.app.freeKeys });
  }

  /**
   * After each decided block: every stored batch whose keys are now published starts its resend window, at the end of
   * which its records are erased.
   */
  async afterBlock(): Promise<void> {
    for (const [batch, first] of this.#unpublished) {
      const { x, y } = { x: first.publicKey.slice(2, 66), y: first.publicKey.slice(66, 130) };
      if ((await this.parts.storage.appQueries.keyByPublicKey({ x, y }))?.keyIndex !== first.keyIndex) continue;
      this.#unpublished.delete(batch);
      this.parts.executor.after(this.parts.settings.resendWindowSeconds * 1000, () => this.#erase(batch));
    }
  }

  /** The epoch retired and its key-generation records are erased: nothing more is carried out. */
  retire(): void {
    this.#retired = true;
  }

  async #step(input: KeygenInput): Promise<void> {
    if (this.#keygen) await this.#carryOut(this.#keygen.step(input));
  }

  async #carryOut(outputs: KeygenOutput[]): Promise<void> {
    if (this.#retired) return;
    const { storage, router, executor, bft, metrics, log } = this.parts;
    for (const output of outputs) {
      switch (output.type) {
        case "persist":
          await storage.keygen.append(output.record);
          break;
        case "send":
          await storage.keygen.sync(); // everything this node's messages depend on is on disk first
          router.send(nodeIndex(output.to), { ch: "dkg", m: output.message });
          break;
        case "propose":
          await storage.keygen.sync();
          await bft.propose(encodeTx({ type: "dkgDecision", decision: output.decision }));
          break;
        case "keys":
          await storage.keygen.sync();
          await this.#onKeys(output.batch, output.keys);
          break;
        case "timer": {
          const batch = output.batch;
          executor.after(output.delayMs, () => this.#step({ type: "timer", batch }));
          break;
        }
        case "check": {
          const { id, job } = output;
          this.parts.checks!.run(job).then(
            (result) => executor.run(() => this.#step({ type: "checked", id, result })),
            (error: unknown) => log.error({ err: error }, "a key-generation job failed"),
          );
          break;
        }
        case "rejected":
          metrics.dkgRejected++;
          log.debug({ peer: output.from, reason: output.reason }, "rejected a key-generation message");
          break;
      }
    }
  }

  /** A finished batch: its shares go to the key store, and this node votes to publish its public keys. */
  async #onKeys(batch: number, keys: GeneratedKey[]): Promise<void> {
    await this.parts.storage.keyStore.saveBatch(batch, keys);
    this.#unpublished.set(batch, keys[0]!);
    this.parts.metrics.generatedBatches++;
    const body = {
      startIndex: keys[0]!.keyIndex,
      publicKeys: keys.map((k) => ({ x: k.publicKey.slice(2, 66), y: k.publicKey.slice(66, 130) })),
    };
    await this.parts.bft.propose(this.parts.votes.publishKeys(body));
  }

  /**
   * Erases a finished batch's records from memory and from the key-generation records (`keygen.sqlite`, one atomic
   * compaction; the store zeroes what it deletes and truncates its WAL): the secrets that outlived their use. What each record protected, and why nothing needs it any more at this moment:
   * - the dealing (this node's bivariate polynomials): peers' resend requests for their rows and columns, and a
   *   restart's duty to re-send the same dealing rather than deal a second one. The batch's keys are published (a
   *   quorum of validators voted them, each after storing its shares), and the resend window has passed since this
   *   node saw that, long enough for a peer that was merely slow or restarting to finish; one down longer cannot
   *   finish the batch any more and lacks shares of its keys, which k other nodes serve. The `erased` record keeps the
   *   batch counted as started, so a restart never deals it again.
   * - each sharing's rows, columns and commitments, the dealer decision: the echoes and readies peers may still ask
   *   for (the same window), and this node's own shares, recomputed from them after a crash. The shares are in the
   *   key store, durable (see below), so no crash can ask for them again.
   * - the `keys` record: the same shares, to rebuild a batch a crash lost between the record and the key store's
   *   write (start). A batch is only erased once it is stored — `#unpublished` holds a batch after `saveBatch`
   *   resolved, or after `hasBatch` read it at start — and the key store's write is durable when it resolves (its
   *   store's commit, kv-store.ts), so there is nothing left to rebuild.
   */
  async #erase(batch: number): Promise<void> {
    if (this.#retired) return;
    const { storage, log } = this.parts;
    this.#keygen?.forget(batch);
    const { select, replace } = batchErasure(batch);
    await storage.keygen.compact(select, replace);
    log.info({ batch }, "erased the key-generation records of a published batch (its shares are in the key store)");
  }
}
