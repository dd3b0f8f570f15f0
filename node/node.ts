/**
 * The composition root: builds the runtime's units (node/runtime/) for this node's epoch, starts them in order and
 * stops them. It decides nothing and steps no core itself: each unit's header says what it owns.
 *
 * Start: join the epoch on-chain → open its storage (the app state at the committed height) → build the cores and
 * drivers → start libp2p → recover from disk (the WAL into consensus, the handover's log) → follow the chain. Every input after that is
 * handled by the serial executor, one at a time.
 */
import type { Logger } from "pino";

import type { CommitmentStore } from "./auth/commitments.ts";
import { Registry, type EpochView } from "./chain/registry.ts";
import type { NodeConfig } from "./config.ts";
import { verifierSetHash } from "./config.ts";
import { G, type Point } from "./crypto/point.ts";
import { signTorus } from "./crypto/signature.ts";
import type { GeneratedKey } from "./dkg/types.ts";
import type { NodeStatus } from "./api/node-status.ts";
import { P2PHost } from "./p2p/host.ts";
import { BftDriver } from "./runtime/bft-driver.ts";
import type { CheckPool } from "./runtime/check-pool.ts";
import { ChainFollower } from "./runtime/chain-follower.ts";
import { joinEpoch, type JoinedEpoch } from "./runtime/epoch-join.ts";
import { buildCores } from "./runtime/epoch-cores.ts";
import { EpochStorage } from "./runtime/epoch-storage.ts";
import { faultsFromEnv } from "./runtime/fault-injection.ts";
import { HandoverDriver } from "./runtime/handover-driver.ts";
import { KeygenDriver } from "./runtime/keygen-driver.ts";
import { validatorOf, type NodeIndex } from "./runtime/node-index.ts";
import { newNodeMetrics, type NodeMetrics } from "./runtime/node-metrics.ts";
import { nodeStatus } from "./runtime/node-status.ts";
import { OwnVotes } from "./runtime/own-votes.ts";
import { PeerRouter } from "./runtime/peer-router.ts";
import { PeerSignatures } from "./runtime/peer-signatures.ts";
import { SerialExecutor } from "./runtime/serial-executor.ts";
import { ServingState } from "./runtime/serving-state.ts";
import { VerifierAgreement } from "./runtime/verifier-agreement.ts";
import type { AppStateQueries } from "./store/app-state-store.ts";
import type { DeploymentIdentity } from "./store/deployment-binding.ts";
import { PostgresDatabase } from "./store/postgres-database.ts";

/** What TorusNode.start is told of events that end the node's run. */
export interface NodeEvents {
  /** A fatal error after the start (the chain was reset): the node must stop. */
  onFatal(error: Error): void;
  /** A successor node's transition attempt ended: it stopped and erased what it received, and may start again. */
  onAbandoned(): void;
}

/** The units of a running node, built once its epoch is known. */
interface Units {
  storage: EpochStorage;
  executor: SerialExecutor;
  router: PeerRouter;
  bft: BftDriver;
  keygen: KeygenDriver;
  handover: HandoverDriver;
  verifiers: VerifierAgreement;
  peerSignatures: PeerSignatures;
  serving: ServingState;
}

export class TorusNode {
  readonly metrics: NodeMetrics = newNodeMetrics();
  readonly verifierHash: string;
  /** This node's key, the one registered on-chain. */
  readonly publicKey: Point;
  readonly registry: Registry;
  readonly #privateKey: bigint;
  readonly #abort = new AbortController();
  #units!: Units;
  #p2p!: P2PHost;
  #joined!: JoinedEpoch;
  #protocolsStopped: Promise<void> | undefined;
  #events: NodeEvents | undefined;
  /** The process's check workers (node/runtime/check-pool.ts), if `crypto.workers` asks for any. */
  #checks: CheckPool | undefined;
  /** The database of the public stores (`storage.kind: "postgres"`), shared by the epoch's stores; closed last. */
  #database: PostgresDatabase | undefined;

  private constructor(
    readonly config: NodeConfig,
    readonly log: Logger,
  ) {
    this.#privateKey = BigInt(config.nodeKey.startsWith("0x") ? config.nodeKey : `0x${config.nodeKey}`);
    this.publicKey = G.multiply(this.#privateKey);
    this.registry = new Registry({
      rpcUrl: config.chain.rpcUrl,
      nodeList: config.chain.nodeList,
      nodeKey: config.nodeKey,
      pollingIntervalMs: config.chain.pollingIntervalMs,
      log: (m) => log.warn(m),
      signal: this.#abort.signal,
    });
    this.verifierHash = verifierSetHash(config.verifiers);
  }

  /**
   * Registers on-chain, waits for the epoch's turn, then runs it. Throws on fatal errors (named clearly); `events` is
   * told of those that happen later.
   */
  static async start(
    config: NodeConfig,
    log: Logger,
    events: NodeEvents,
    options: { checks?: CheckPool | undefined } = {},
  ): Promise<TorusNode> {
    const node = new TorusNode(config, log);
    node.#events = events;
    node.#checks = options.checks;
    try {
      if (config.storage.kind === "postgres")
        node.#database = await PostgresDatabase.open(config.storage.url, { log: log.child({ unit: "postgres" }) });
      node.#joined = await joinEpoch(config, node.registry, log, node.#database);
      await node.#build();
      await node.#run(events);
    } catch (error) {
      await node.#database?.close();
      throw error;
    }
    return node;
  }

  get epoch(): EpochView {
    return this.#joined.epoch;
  }

  /** The deployment this node's data directory is bound to, which its signatures name. */
  get deployment(): DeploymentIdentity {
    return this.#joined.deployment;
  }

  /** This node's 1-based index in its epoch. */
  get self(): NodeIndex {
    return this.#joined.self;
  }

  get p2p(): P2PHost {
    return this.#p2p;
  }

  get bft(): BftDriver {
    return this.#units.bft;
  }

  get serving(): ServingState {
    return this.#units.serving;
  }

  /** Reads of the committed app state (a user's key, a public key's owner). */
  get appQueries(): AppStateQueries {
    return this.#units.storage.appQueries;
  }

  /** Commit–reveal records (the epoch's `auth.sqlite`). */
  get commitments(): CommitmentStore {
    return this.#units.storage.commitments;
  }

  get peerSignatures(): PeerSignatures {
    return this.#units.peerSignatures;
  }

  /** This node's share of a key, moved to this epoch or generated in it. */
  findKey(keyIndex: number): Promise<GeneratedKey | undefined> {
    return this.#units.storage.keyStore.findKey(keyIndex);
  }

  /** Signs data with the node key (Torus format). */
  sign(data: string): string {
    return signTorus(this.#privateKey, data);
  }

  status(): NodeStatus {
    const { bft, serving, storage } = this.#units;
    return nodeStatus({
      epoch: this.epoch,
      self: this.self,
      verifierHash: this.verifierHash,
      peersConnected: this.#p2p.connectedPeers,
      bft,
      keyStore: storage.keyStore,
      serving,
      checkWorkers: this.#checks?.workers ?? 0,
      checkJobsOnMainThread: this.#checks?.mainThreadJobs ?? 0,
    });
  }

  /** Builds every unit over the epoch's storage; nothing runs yet. */
  async #build(): Promise<void> {
    const { config, log, metrics } = this;
    const { epoch, self, successor, deployment } = this.#joined;
    const storage = await EpochStorage.open(
      config.dataDir,
      {
        epoch: epoch.epoch,
        attempt: successor?.attempt ?? 0,
        successor: successor !== undefined,
        deployment: this.#joined.deployment,
      },
      log,
      this.#database,
    );
    const { chainId, scheme, app, mempool, signer } = buildCores(
      epoch,
      successor,
      this.#privateKey,
      config.keygen,
      deployment,
      storage.onDisk.appState,
    );
    const executor = new SerialExecutor(log);
    const router = new PeerRouter(epoch, self, config.keygen.batchSize);
    const votes = new OwnVotes(chainId, validatorOf(self), this.#privateKey);
    const common = { router, executor, metrics, log, storage, checks: this.#checks };
    const bft = new BftDriver({
      ...common,
      chainId,
      validators: epoch.n,
      self: validatorOf(self),
      scheme,
      app,
      mempool,
      faults: faultsFromEnv(),
      fatal: (error) => this.#events?.onFatal(error),
    });
    const keygen = new KeygenDriver({
      ...common,
      epoch,
      self,
      settings: config.keygen,
      signingDomain: chainId,
      signer,
      bft,
      votes,
    });
    const handover = new HandoverDriver({
      ...common,
      epoch,
      self,
      successor,
      signingDomain: chainId,
      signer,
      registry: this.registry,
      bft,
      keygen,
      votes,
      findKey: (keyIndex) => this.findKey(keyIndex),
      resendWindowSeconds: config.keygen.resendWindowSeconds,
    });
    const verifierAgreement = new VerifierAgreement(epoch, this.verifierHash, router, log);
    const serving = new ServingState({
      epoch,
      successor,
      app,
      keygen,
      handover,
      clockSkewSeconds: config.api.epochClockSkewSeconds,
      retired: () => handover.retired,
      verifierRefusal: () => verifierAgreement.refusal,
      storageRefusal: () => this.#database?.unavailable,
      stopped: () => executor.stopped,
      log,
    });
    const peerSignatures = new PeerSignatures(epoch.n - 1, storage.commitments, router, metrics);
    bft.onDecided(async ({ dkg, reshare }) => {
      for (const decision of dkg) await keygen.decided(decision);
      await handover.decided(reshare);
      await serving.start(); // a successor's last moved chunk may have been installed
      await keygen.demand();
      await keygen.afterBlock();
    });
    this.#units = {
      storage,
      executor,
      router,
      bft,
      keygen,
      handover,
      verifiers: verifierAgreement,
      peerSignatures,
      serving,
    };
  }

  /** Starts libp2p, recovers from disk, starts the protocols and follows the chain. */
  async #run(events: NodeEvents): Promise<void> {
    const { config, log } = this;
    const { storage, executor, router, bft, keygen, handover, verifiers, peerSignatures, serving } = this.#units;
    this.#p2p = await P2PHost.start({
      privateKey: Uint8Array.from(Buffer.from(config.nodeKey.replace(/^0x/, ""), "hex")),
      listen: config.p2p.listen,
      onMessage: (from, message) => (executor.stopped ? undefined : router.deliver(from, message)),
      log: (m) => log.warn(m),
      maxFrameBytes: router.frameBudget(),
    });
    // Each queued channel returns the executor's promise: the host holds further peer messages back while a few are
    // pending, so that the peers' turns, not their arrival, order the executor's peer work.
    router.attach(this.#p2p, {
      bft: (from, message) => executor.run(() => bft.fromPeerMessage(from, message)),
      dkg: (from, message) => executor.run(() => keygen.fromPeer(from, message)),
      tx: (from, tx) => executor.run(async () => void (await bft.fromPeer(from, tx))),
      hello: (from, hello) => verifiers.onHello(from, hello),
      signatureRequest: (from, request) => void peerSignatures.answer(from, request),
      signatureAnswer: (from, answer) => peerSignatures.onAnswer(from, answer),
      handover: (from, message) => executor.run(() => handover.fromPeer(from, message)),
    });
    handover.setPeers();
    verifiers.start(executor);
    const reshares = await bft.recover();
    const { wal, head } = storage.onDisk;
    log.info(
      { height: head.height, walRecords: wal.length, keygenRecords: await storage.keygen.count() },
      "recovered from disk: the app state at the committed height, the WAL of the next",
    );
    const { successor } = this.#joined;
    await executor.run(async () => {
      await bft.start();
      // A successor epoch starts serving once the chain says the handover completed (see chain-follower.ts).
      if (!successor) await serving.start();
      await handover.start(reshares);
    });
    new ChainFollower({
      registry: this.registry,
      epoch: this.epoch,
      successor,
      frozen: () => bft.app.frozen,
      serving,
      handover,
      executor,
      pollMs: Math.max(1000, config.chain.pollingIntervalMs * 5),
      log,
      onFatal: (error) => events.onFatal(error),
      abandonAttempt: async () => {
        log.warn(
          { epoch: this.epoch.epoch, attempt: successor?.attempt },
          "the handover attempt was aborted: erasing what this node received",
        );
        // The protocols stop before the erasure, the database closes after it.
        await this.#stopProtocols();
        await storage.eraseAll();
        await this.stop();
        events.onAbandoned();
      },
      retire: async () => {
        await executor.run(() => Promise.resolve(handover.retire())); // clients are refused from here on
        // Nothing may append to the epoch's files while they are erased: its protocols stop first. The API stays up
        // and tells clients that the next epoch serves.
        await this.#stopProtocols();
        const removed = await storage.retire();
        log.info(
          { epoch: this.epoch.epoch, removed },
          "the handover completed: this epoch's directory keeps only its RETIRED marker and block store",
        );
      },
    }).start();
  }

  /** Stops the epoch's inputs (executor and timers, libp2p) and closes its storage; once, whoever asks first. */
  #stopProtocols(): Promise<void> {
    this.#protocolsStopped ??= (async () => {
      await this.#units?.executor.stop();
      await this.#p2p?.stop();
      await this.#units?.storage.close();
    })();
    return this.#protocolsStopped;
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#stopProtocols();
    await this.#database?.close();
    this.registry.destroy();
  }
}
