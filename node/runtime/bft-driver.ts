/**
 * Drives the epoch's BFT network: the Tendermint core, the mempool, the key-mapping app it orders, the write-ahead log
 * and the block store. Every transaction enters here — the node's own (`propose`), a client's (`submit`) and a peer's
 * gossip (`fromPeer`) — and this is the one place that adds to the mempool, gossips and tells the core transactions
 * are available. Each decided block is stored (fsynced) and announced to the `decided` listeners with the
 * key-generation and handover decisions it made.
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
import type { DealerDecision } from "../dkg/types.ts";
import type { ReshareDecision } from "../pss/types.ts";
import type { EpochStorage } from "./epoch-storage.ts";
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
}

export class BftDriver {
  readonly app: KeyMappingApp;
  readonly mempool: Mempool;
  #consensus!: Consensus;
  /** Every decided block of this chain, in height order (a lagging peer is served from here). */
  #commits: Commit[] = [];
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
   * Replays the block store into the app and builds the core at the next height; returns the handover decisions the
   * stored blocks made (the receiving side is told them when it starts).
   */
  recover(): ReshareDecision[] {
    const { commits } = this.parts.storage.onDisk;
    let lastBlockHash = "";
    const reshares: ReshareDecision[] = [];
    for (const commit of commits) {
      reshares.push(...this.#apply(commit, this.app.finalizeBlock(commit.block).results, false).reshare);
      lastBlockHash = blockHash(commit.block);
    }
    this.#commits = commits;
    const { chainId, validators, self, scheme, app, mempool } = this.parts;
    this.#consensus = new Consensus(
      { chainId, validators, self, timeouts: DEFAULT_TIMEOUTS },
      { scheme, app, mempool },
      { height: commits.length + 1, lastBlockHash, lastAppHash: app.appHash },
    );
    return reshares;
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
          await storage.wal.append(output.record, { sync: output.sync });
          break;
        case "broadcast":
          await storage.wal.sync();
          router.broadcast({ ch: "bft", m: output.message });
          break;
        case "send":
          await storage.wal.sync();
          router.sendToValidator(validatorIndex(output.to), { ch: "bft", m: output.message });
          break;
        case "timeout": {
          const { height, round, step } = output;
          executor.after(output.delayMs, () =>
            this.#carryOut(this.#consensus.step({ type: "timeout", height, round, step })),
          );
          break;
        }
        case "decided":
          await storage.blocks.append(output.commit, { sync: true });
          this.#commits.push(output.commit);
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
          const commit = this.#commits[output.height - 1];
          if (commit) {
            const message = { type: "commit", commit, senderHeight: this.#consensus.height };
            router.sendToValidator(validatorIndex(output.to), { ch: "bft", m: message });
          }
          break;
        }
      }
    }
  }

  async #onDecided(commit: Commit, results: TxResult[]): Promise<void> {
    const decisions = this.#apply(commit, results, true);
    for (const listener of this.#decidedListeners) await listener(decisions);
  }

  /** Resolves waiting clients (when live) and returns the protocol decisions the block made. */
  #apply(commit: Commit, results: TxResult[], live: boolean): BlockDecisions {
    const decided: BlockDecisions = { dkg: [], reshare: [] };
    commit.block.txs.forEach((tx, i) => {
      const result = results[i]!;
      if (live) {
        for (const resolve of this.#waiters.get(tx) ?? []) resolve(result);
        this.#waiters.delete(tx);
      }
      if (result.code === "OK" && result.decided) {
        const parsed = JSON.parse(tx) as { type: string; decision: DealerDecision & ReshareDecision };
        if (parsed.type === "reshareDecision") decided.reshare.push(parsed.decision);
        else decided.dkg.push(parsed.decision);
      }
    });
    return decided;
  }
}
