/**
 * Drives the epoch's BFT network: the Tendermint core, the mempool, the key-mapping app it orders, and the chain store
 * (node/store/chain-store.ts: the write-ahead log, the blocks and the app state). Every transaction enters here — the
 * node's own (`propose`), a client's (`submit`) and a peer's gossip (`fromPeer`) — and this is the one place that adds
 * to the mempool, gossips and tells the core transactions are available.
 *
 * A decided block is finalized here (the core runs with `deferFinalize`): the rows its transactions read are loaded
 * from the store, the app executes it, and the block, the new head and the app's changes are committed in one durable
 * batch, which also drops the WAL of the decided height; only then is the core told, and the block announced to the
 * `decided` listeners with the key-generation and handover decisions it made. A start therefore resumes from the
 * committed state and replays no block.
 *
 * Must be called from the serial executor only (except `submit`, which queues itself), and must never send a
 * consensus message before the WAL record it depends on is synced (persist before you send).
 */
import type { Logger } from "pino";

import type { KeyMappingApp, TxResult } from "../app/key-mapping-app.ts";
import { Consensus, walRecordHeight, type ConsensusOutput } from "../bft/consensus.ts";
import { blockHash } from "../bft/encoding.ts";
import type { AddTxResult, Mempool } from "../bft/mempool.ts";
import { DEFAULT_TIMEOUTS, type Commit, type SignatureScheme } from "../bft/types.ts";
import { changeOps, loadReads } from "../store/app-state-store.ts";
import type { DealerDecision } from "../dkg/types.ts";
import type { ReshareDecision } from "../pss/types.ts";
import type { EpochStorage } from "./epoch-storage.ts";
import type { Faults } from "./fault-injection.ts";
import type { NodeMetrics } from "./node-metrics.ts";
import { nodeOf, validatorIndex, type NodeIndex, type ValidatorIndex } from "./node-index.ts";
import type { PeerRouter } from "./peer-router.ts";
import type { SerialExecutor } from "./serial-executor.ts";

/** The protocol decisions one block made, for the key generation and the handover. */
export interface BlockDecisions {
  dkg: DealerDecision[];
  reshare: ReshareDecision[];
}

export interface BftDriverParts {
  chainId: string;
  validators: number;
  self: ValidatorIndex;
  scheme: SignatureScheme;
  app: KeyMappingApp;
  mempool: Mempool;
  storage: EpochStorage;
  router: PeerRouter;
  executor: SerialExecutor;
  metrics: NodeMetrics;
  log: Logger;
  /** Crash points for process tests (fault-injection.ts); none in production. */
  faults?: Faults;
  /** A decided block could not be committed: the node must stop (a restart resumes from the committed state). */
  fatal(error: Error): void;
}

export class BftDriver {
  readonly app: KeyMappingApp;
  readonly mempool: Mempool;
  #consensus!: Consensus;
  /** Clients waiting for a transaction's result, resolved when the block holding it is decided. */
  readonly #waiters = new Map<string, ((result: TxResult) => void)[]>();
  readonly #decidedListeners: ((decisions: BlockDecisions) => Promise<void>)[] = [];

  constructor(private readonly parts: BftDriverParts) {
    [this.app, this.mempool] = [parts.app, parts.mempool];
  }

  get consensus(): Pick<Consensus, "height" | "round" | "stepName"> {
    return this.#consensus;
  }

  /** Called, in the executor, after each decided block is stored and applied. */
  onDecided(listener: (decisions: BlockDecisions) => Promise<void>): void {
    this.#decidedListeners.push(listener);
  }

  /**
   * Builds the core at the height after the committed head, whose app state the app was built over; returns the
   * handover decisions ordered so far (the receiving side is told them when it starts).
   */
  async recover(): Promise<ReshareDecision[]> {
    const { head } = this.parts.storage.onDisk;
    if (this.app.appHash !== head.appHash)
      throw new Error(`the chain store's app state (hash ${this.app.appHash}) is not at its head (${head.appHash})`);
    const { chainId, validators, self, scheme, app, mempool } = this.parts;
    this.#consensus = new Consensus(
      { chainId, validators, self, timeouts: DEFAULT_TIMEOUTS, deferFinalize: true },
      { scheme, app, mempool },
      { height: head.height + 1, lastBlockHash: head.lastBlockHash, lastAppHash: head.appHash },
    );
    return this.parts.storage.appQueries.reshareDecisions();
  }

  /** Starts the core, from its WAL records of the current height when it has any (a restart mid-height). */
  async start(): Promise<void> {
    const height = this.#consensus.height;
    const records = this.parts.storage.onDisk.wal.filter((r) => walRecordHeight(r) === height);
    await this.#carryOut(records.length > 0 ? this.#consensus.restore(records) : this.#consensus.start());
  }

  /**
   * This node's own transaction (a decision, a vote): offered to the mempool, gossiped and the core told when it is
   * new. Returns the mempool's answer (a vote is recorded as cast once the mempool holds it).
   */
  propose(tx: string): Promise<AddTxResult> {
    return this.#offer(tx, "self", false);
  }

  /**
   * A client's transaction (from `source`, node/api/rate-limit.ts's `sourceOf`): resolves with its result once a block
   * decides it; rejects when the mempool refuses it, or with `signal.reason` when the client stops waiting (the
   * transaction may still be decided: a retry finds it).
   */
  submit(tx: string, signal: AbortSignal, source?: string): Promise<TxResult> {
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    return new Promise((resolve, reject) => {
      const stopWaiting = () => {
        const waiters = this.#waiters.get(tx)?.filter((w) => w !== settle);
        if (waiters?.length) this.#waiters.set(tx, waiters);
        else this.#waiters.delete(tx);
        reject(signal.reason as Error);
      };
      const settle = (result: TxResult) => {
        signal.removeEventListener("abort", stopWaiting);
        resolve(result);
      };
      signal.addEventListener("abort", stopWaiting, { once: true });
      void this.parts.executor.run(async () => {
        // A client's retry of a transaction the mempool already holds is gossiped again, in case peers lost it.
        const added = await this.#offer(
          tx,
          "client",
          true,
          () => {
            this.#waiters.set(tx, [...(this.#waiters.get(tx) ?? []), settle]);
            this.parts.metrics.txSubmitted++;
          },
          source,
        );
        if (!added.ok && added.reason !== "duplicate") {
          signal.removeEventListener("abort", stopWaiting);
          reject(new Error(added.reason === "invalid" ? (added.detail ?? "invalid") : added.reason));
        }
      });
    });
  }

  /** A transaction a peer gossiped: into the mempool when new (peers gossip their own, so it is not sent on). */
  fromPeer(from: NodeIndex, tx: string): Promise<AddTxResult> {
    return this.#offer(tx, `peer-${from}`, false);
  }

  async fromPeerMessage(from: ValidatorIndex, message: unknown): Promise<void> {
    await this.#carryOut(this.#consensus.step({ type: "message", from, message }));
  }

  /**
   * The one mempool → gossip → "transactions available" sequence. `again`: a transaction the mempool already holds
   * is gossiped and announced again (a client's retry, a vote repeated until it is in). `accepted` runs before the
   * gossip, once the mempool holds the transaction.
   */
  /** `clientSource` is the API client behind a "client" transaction: each has a share of the clients' cap. */
  async #offer(
    tx: string,
    sender: string,
    again: boolean,
    accepted?: () => void,
    clientSource?: string,
  ): Promise<AddTxResult> {
    const added = this.mempool.add(tx, sender, clientSource);
    if (!added.ok && !(again && added.reason === "duplicate")) return added;
    accepted?.();
    if (sender === "self" || sender === "client") this.parts.router.broadcast({ ch: "tx", tx });
    await this.#carryOut(this.#consensus.step({ type: "txsAvailable" }));
    return added;
  }

  /** Own votes are repeated until the mempool holds them: a duplicate is gossiped and announced again. */
  proposeAgain(tx: string): Promise<AddTxResult> {
    return this.#offer(tx, "self", true);
  }

  async #carryOut(outputs: ConsensusOutput[]): Promise<void> {
    const { storage, router, executor, metrics, log } = this.parts;
    for (const output of outputs) {
      switch (output.type) {
        case "wal":
          await storage.chain.appendWal(output.record, { sync: output.sync });
          break;
        case "broadcast":
          await storage.chain.syncWal();
          router.broadcast({ ch: "bft", m: output.message });
          break;
        case "send":
          await storage.chain.syncWal();
          router.sendToValidator(validatorIndex(output.to), { ch: "bft", m: output.message });
          break;
        case "timeout": {
          const { height, round, step } = output;
          executor.after(output.delayMs, () =>
            this.#carryOut(this.#consensus.step({ type: "timeout", height, round, step })),
          );
          break;
        }
        case "finalize":
          await this.#finalize(output.commit);
          break;
        case "decided":
          metrics.blocks++;
          await this.#onDecided(output.commit, output.results as TxResult[]);
          break;
        case "evidence":
          log.warn({ evidence: output.evidence }, "equivocation");
          break;
        case "rejected":
          metrics.bftRejected++;
          log.debug(
            { peer: nodeOf(validatorIndex(output.from)), reason: output.reason },
            "rejected a consensus message",
          );
          break;
        case "serveCommit": {
          const commit = await storage.chain.block(output.height);
          if (commit) {
            const message = { type: "commit", commit, senderHeight: this.#consensus.height };
            router.sendToValidator(validatorIndex(output.to), { ch: "bft", m: message });
          }
          break;
        }
      }
    }
  }

  /**
   * Executes a decided block over the rows it reads and commits it with its effects (durable), then tells the core.
   * A failure here (the store, or a read set that missed a row) stops the node: the core waits for this block, and
   * the app's state in memory may be ahead of the store; a restart resumes from the committed state.
   */
  async #finalize(commit: Commit): Promise<void> {
    const { block } = commit;
    const { app } = this;
    let appHash: string;
    let results: unknown[];
    try {
      await loadReads(app.state, this.parts.storage.chain.applied, app.readsOf(block.txs));
      ({ appHash, results } = app.finalizeBlock(block));
      const head = { height: block.height, lastBlockHash: blockHash(block), appHash };
      await this.parts.storage.chain.commitBlock(commit, head, changeOps(app.state.takeChanges()));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.parts.fatal(new Error(`could not commit the block at height ${block.height}: ${reason}`, { cause: error }));
      throw error;
    }
    this.parts.faults?.afterCommit(block.height);
    await this.#carryOut(this.#consensus.step({ type: "finalized", height: block.height, appHash, results }));
  }

  async #onDecided(commit: Commit, results: TxResult[]): Promise<void> {
    const decisions = this.#apply(commit, results);
    for (const listener of this.#decidedListeners) await listener(decisions);
  }

  /** Resolves waiting clients and returns the protocol decisions the block made. */
  #apply(commit: Commit, results: TxResult[]): BlockDecisions {
    const decided: BlockDecisions = { dkg: [], reshare: [] };
    commit.block.txs.forEach((tx, i) => {
      const result = results[i]!;
      for (const resolve of this.#waiters.get(tx) ?? []) resolve(result);
      this.#waiters.delete(tx);
      if (result.code === "OK" && result.decided) {
        const parsed = JSON.parse(tx) as { type: string; decision: DealerDecision & ReshareDecision };
        if (parsed.type === "reshareDecision") decided.reshare.push(parsed.decision);
        else decided.dkg.push(parsed.decision);
      }
    });
    return decided;
  }
}
