/**
 * The composition root: the only place that wires IO to the protocol cores. It finds this node's epoch on-chain,
 * lists the node, waits for the epoch to become current, then runs the BFT network (consensus + key-mapping app) and
 * the key generation over libp2p, with every protocol record on disk before anything that depends on it is sent.
 *
 * Inputs (peer messages, timers, client requests) are handled one at a time, in order, by one async queue: a core's
 * outputs are carried out completely (appends awaited, fsync before the first send) before the next input is handled.
 */
import { open, readFile, rm } from "node:fs/promises";
import path from "node:path";

import type { Logger } from "pino";

import { KeyMappingApp, type TxResult } from "./app/key-mapping-app.ts";
import {
  encodeTx,
  freezeSignBytes,
  moveKeysSignBytes,
  publishKeysSignBytes,
  type MoveKeysBody,
} from "./app/transactions.ts";
import { Consensus, walRecordHeight, type ConsensusOutput, type WalRecord } from "./bft/consensus.ts";
import { ecdsaScheme } from "./bft/ecdsa-scheme.ts";
import { blockHash } from "./bft/encoding.ts";
import { Mempool } from "./bft/mempool.ts";
import { DEFAULT_TIMEOUTS, type Commit, type SignatureScheme } from "./bft/types.ts";
import { epochStateName } from "./chain/epoch-state.ts";
import { ChainResetError, Registry, type EpochView } from "./chain/registry.ts";
import type { NodeConfig } from "./config.ts";
import { verifierSetHash } from "./config.ts";
import { systemRng } from "./crypto/field.ts";
import { G, pointFromCoordinates, type Point } from "./crypto/point.ts";
import { createTorusVerifier, signTorus } from "./crypto/signature.ts";
import { KeyGenerator, type KeygenInput, type KeygenOutput, type KeygenRecord } from "./dkg/keygen.ts";
import type { DealerDecision, GeneratedKey } from "./dkg/types.ts";
import { P2PHost, peerIdOf } from "./p2p/host.ts";
import { AppendLog } from "./store/append-log.ts";
import { bindDataDir } from "./store/deployment-binding.ts";
import { bindEpochDir } from "./store/epoch-binding.ts";
import { readDeploymentIdentity } from "./chain/deployment-identity.ts";
import { KeyStore } from "./store/key-store.ts";
import { DealingSide, ReceivingSide, thresholdsOf, transitionId, type MovedChunk } from "./handover.ts";
import { pssStatusName } from "./chain/epoch-state.ts";
import type { EpochWindow } from "./auth/verifier.ts";
import { dealerKeys } from "./pss/moved-state.ts";
import type { ReceiverRecord } from "./pss/receiver.ts";
import type { ReshareDecision } from "./pss/types.ts";
import { CommitmentStore, type AuthRecord } from "./auth/commitments.ts";
import type { NodeStatus } from "./api/node-status.ts";

type Envelope =
  | { ch: "bft"; m: unknown }
  | { ch: "dkg"; m: unknown }
  | { ch: "tx"; tx: string }
  | { ch: "hello"; epoch: number; verifiers: string }
  /** "Send me the signature you issued on this commitment" (a ShareRequest that carried too few). */
  | { ch: "sigReq"; id: number; verifier: string; commitment: string }
  | { ch: "sigRes"; id: number; data: string; signature: string }
  /** The handover, between the nodes of two epochs (and among the new ones). */
  | { ch: "pss"; m: unknown };

export class TorusNode {
  readonly registry: Registry;
  epoch!: EpochView;
  index = 0;
  app!: KeyMappingApp;
  consensus!: Consensus;
  mempool!: Mempool;
  /** This epoch's key generation; a successor epoch starts it once it serves (from the moved next key index). */
  keygen: KeyGenerator | undefined;
  p2p!: P2PHost;
  keyStore!: KeyStore;
  /** In a successor epoch: the epoch it took (or takes) over from, and the transition attempt this node runs. */
  successor: { from: EpochView; attempt: number } | undefined;
  /** Whether this node serves its epoch: a successor's once the chain completed the handover and its state is whole. */
  #serving = false;

  /** The epoch this one takes over from, while the handover runs (this node then serves no client yet). */
  get handover(): { from: EpochView; attempt: number } | undefined {
    return this.#serving ? undefined : this.successor;
  }
  /** What the chain said last of this node's epoch. */
  #chainState: { state: string; activatedAt: number; newestBlockTime: number } | undefined;
  /** Set when this node's verifier list differs from most of its peers'. */
  #verifierRefusal: string | undefined;
  readonly verifierHash: string;
  readonly metrics = {
    bftRejected: 0,
    dkgRejected: 0,
    blocks: 0,
    generatedBatches: 0,
    txSubmitted: 0,
    signatureFetches: 0,
  };
  /** Waiters for the results of transactions, resolved when the block holding them is decided. */
  readonly #txWaiters = new Map<string, ((result: TxResult) => void)[]>();
  /** Commit–reveal records (durable through the auth log). */
  readonly commitments = new CommitmentStore(() => Date.now());
  #authLog!: AppendLog<AuthRecord>;
  #signatureRequests = new Map<
    number,
    { responded: Set<number>; signatures: { node: number; data: string; signature: string }[] }
  >();
  #nextSignatureRequest = 1;

  #privateKey: bigint;
  /** This node's key, the one registered on-chain. */
  readonly publicKey: Point;
  #scheme!: SignatureScheme;
  #peerIds: string[] = [];
  #indexOfPeer = new Map<string, number>();
  #walLog!: AppendLog<WalRecord>;
  #blockLog!: AppendLog<Commit>;
  #keygenLog!: AppendLog<KeygenRecord>;
  /** What the logs held at start, for recovery. */
  #onDisk!: { wal: WalRecord[]; commits: Commit[]; keygen: KeygenRecord[]; pss: ReceiverRecord[] };
  #pssLog: AppendLog<ReceiverRecord> | undefined;
  /** The old epoch's side of a handover (this node deals), once its state is frozen. */
  #dealing: DealingSide | undefined;
  #dealingProblem: string | undefined;
  /** The new epoch's side of a handover (this node receives). */
  #receiving: ReceivingSide | undefined;
  #commits: Commit[] = [];
  #queue: Promise<void> = Promise.resolve();
  #timers = new Set<NodeJS.Timeout>();
  #stopped = false;
  readonly #abort = new AbortController();

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

  /** Registers on-chain, waits for the epoch to be current, then runs it. Throws on fatal errors (named clearly). */
  /**
   * Registers on-chain, waits for the epoch to be current, then runs it. Throws on fatal errors (named clearly);
   * `onFatal` is told of one that happens later (the chain was reset), after which the node must stop.
   */
  static async start(
    config: NodeConfig,
    log: Logger,
    onFatal: (error: Error) => void = () => undefined,
    onAbandoned: () => void = () => undefined,
  ): Promise<TorusNode> {
    const node = new TorusNode(config, log);
    await node.#join();
    node.#watchChain(onFatal, onAbandoned);
    return node;
  }

  /**
   * Follows the epoch on-chain: its state (logged when it changes) and the contract's presence. A chain outage only
   * delays this (calls are retried); a contract that is gone means the chain was reset, which is fatal.
   */
  #watchChain(onFatal: (error: Error) => void, onAbandoned: () => void): void {
    let last = this.epoch.state;
    let busy = false;
    const timer = setInterval(
      () => {
        if (busy || this.#stopped) return;
        busy = true;
        this.registry
          .call("getEpochStatus", (c) => c.getEpochStatus(this.epoch.epoch))
          .then(async (status) => {
            const state = epochStateName(status.state);
            if (state !== last)
              this.log.info({ epoch: this.epoch.epoch, from: last, to: state }, "epoch state changed");
            last = state;
            // While a transition is open, this epoch serves tokens issued before the newest block time it saw.
            const newestBlockTime =
              state === "Transitioning" ? ((await this.registry.provider.getBlock("latest"))?.timestamp ?? 0) : 0;
            this.#chainState = { state, activatedAt: Number(status.activatedAt), newestBlockTime };
            if (state === "Current" || state === "Transitioning") await this.#run(() => this.#startServing());
            if (this.app.frozen) await this.#voteThaw(state);
            if (this.handover && (await this.#attemptEnded(Number(status.transitionAttempt)))) {
              await this.#abandonAttempt();
              onAbandoned();
            }
            if (state === "Transitioning") {
              await this.#voteFreeze();
              await this.#run(() => this.#startDealing());
            }
            if (state === "Retired") await this.#run(() => this.#retire());
          })
          .catch((error: unknown) => {
            if (error instanceof ChainResetError) {
              this.log.fatal(error.message);
              onFatal(error);
            }
          })
          .finally(() => (busy = false));
      },
      Math.max(1000, this.config.chain.pollingIntervalMs * 5),
    );
    timer.unref();
    this.#timers.add(timer);
  }

  async #join(): Promise<void> {
    const { config, registry, log } = this;
    // Before anything touches the data directory, or the chain sees this node: refuse another deployment's data.
    if ((await bindDataDir(config.dataDir, await readDeploymentIdentity(registry))) === "created")
      log.info({ dataDir: config.dataDir }, "bound the data directory to this deployment and node key");
    const epoch = await registry.findOwnEpoch();
    if (epoch === undefined)
      throw new Error(`node key ${registry.address} is not whitelisted in any epoch of ${config.chain.nodeList}`);
    await registry.ensureListed(epoch, { declaredIp: config.api.declaredIp, p2pListenAddress: config.p2p.announce });
    log.info({ epoch, address: registry.address }, "listed; waiting for the epoch to become current");
    const { prevEpoch } = await registry.readEpoch(epoch);
    const state = await registry.waitForTurn(epoch, prevEpoch);
    this.epoch = await registry.readEpoch(epoch);
    if (prevEpoch !== 0) {
      // A successor epoch: its nodes run their BFT network for the handover only, and serve once it completed. Each
      // transition attempt has its own BFT chain and handover id (see #abandonAttempt).
      const { transitionAttempt } = await registry.call("getEpochStatus", (c) => c.getEpochStatus(epoch));
      this.successor = { from: await registry.readEpoch(prevEpoch), attempt: Number(transitionAttempt) };
      if (state === "Handover") log.info({ epoch, from: prevEpoch }, "the chain started the handover to this epoch");
    }
    const self = this.epoch.nodes.find((n) => n.address === registry.address);
    if (!self) throw new Error(`node ${registry.address} is not in the node list of epoch ${epoch}`);
    this.index = self.index;
    log.info({ epoch, mode: state, index: this.index, n: this.epoch.n }, "starting");
    await this.#openStores();
    this.#buildCores();
    await this.#startP2P();
    await this.#recover();
  }

  async #openStores(): Promise<void> {
    const dir = this.#epochDir;
    const bound = await bindEpochDir(dir, { epoch: this.epoch.epoch, attempt: this.successor?.attempt ?? 0 });
    if (bound === "erased")
      this.log.warn(
        { epoch: this.epoch.epoch, attempt: this.successor?.attempt },
        "erased the data of an earlier, aborted transition attempt (this node was down when it ended)",
      );
    this.keyStore = await KeyStore.open(path.join(dir, "keys"));
    const auth = await AppendLog.open<AuthRecord>(path.join(dir, "auth.log"));
    this.#authLog = auth.log;
    this.commitments.load(auth.records);
    const wal = await AppendLog.open<WalRecord>(path.join(dir, "bft-wal.log"));
    const blocks = await AppendLog.open<Commit>(path.join(dir, "blocks.log"));
    const keygen = await AppendLog.open<KeygenRecord>(path.join(dir, "keygen.log"));
    [this.#walLog, this.#blockLog, this.#keygenLog] = [wal.log, blocks.log, keygen.log];
    let pss: ReceiverRecord[] = [];
    if (this.successor) {
      const opened = await AppendLog.open<ReceiverRecord>(path.join(dir, "pss.log"));
      [this.#pssLog, pss] = [opened.log, opened.records];
    }
    this.#onDisk = { wal: wal.records, commits: blocks.records, keygen: keygen.records, pss };
  }

  #buildCores(): void {
    const { epoch } = this;
    const publicKeys = epoch.nodes.map((n) => pointFromCoordinates(n.pubKx, n.pubKy, `node ${n.index} key`));
    const scheme = (this.#scheme = ecdsaScheme(this.#privateKey, publicKeys));
    this.app = new KeyMappingApp({
      chainId: this.#chainId,
      validators: epoch.n,
      epoch: epoch.epoch,
      k: epoch.k,
      t: epoch.t,
      keysPerBatch: this.config.keygen.batchSize * epoch.k,
      ...(this.successor
        ? {
            handover: {
              transition: transitionId(epoch.epoch, this.successor.attempt),
              old: thresholdsOf(this.successor.from),
              new: thresholdsOf(epoch),
            },
          }
        : {}),
      verify: (validator, message, signature) => scheme.verify(validator, message, signature),
    });
    this.mempool = new Mempool((tx) => this.app.checkTx(tx));
    const verifiers = publicKeys.map(createTorusVerifier);
    this.#signer = {
      sign: (message) => signTorus(this.#privateKey, message),
      verify: (node, message, signature) => verifiers[node - 1]?.(message, signature) ?? false,
    };
    this.#peerIds = epoch.nodes.map((n) => peerIdOf(publicKeys[n.index - 1]!.toBytes(false)));
    this.#peerIds.forEach((id, i) => this.#indexOfPeer.set(id, i + 1));
    if (this.successor) {
      this.#receiving = new ReceivingSide(
        this.successor.from,
        { epoch, attempt: this.successor.attempt, index: this.index, signer: this.#signer },
        {
          log: this.log,
          send: (peerId, message) => this.p2p.send(peerId, message),
          persist: (record) => this.#pssLog!.append(record, { sync: true }),
          propose: (decision) => this.#proposeTx(encodeTx({ type: "reshareDecision", decision })),
          after: (ms, task) => this.#after(ms, task),
          confirm: (digest) => this.#confirmHandover(digest),
          chunkDone: (chunk) => this.#onMovedChunk(chunk),
        },
      );
    }
  }

  #signer!: {
    sign(message: Uint8Array): string;
    verify(node: number, message: Uint8Array, signature: string): boolean;
  };

  /**
   * Starts serving this epoch: at once for a genesis epoch; for a successor once the chain completed the handover (the
   * epoch is current) and every moved chunk is installed in the app. Key generation then starts, from the moved next
   * key index, restored from its log and told every decision already ordered (peers may have started earlier).
   */
  async #startServing(): Promise<void> {
    if (this.#serving || this.#stopped) return;
    if (this.successor) {
      const state = this.#chainState?.state;
      if ((state !== "Current" && state !== "Transitioning") || !this.app.installed) return;
    }
    this.#serving = true;
    const { epoch } = this;
    this.keygen = new KeyGenerator({
      epoch: epoch.epoch,
      n: epoch.n,
      t: epoch.t,
      k: epoch.k,
      self: this.index,
      batchSize: this.config.keygen.batchSize,
      keyBuffer: this.config.keygen.keyBuffer,
      refillMark: this.config.keygen.refillMark,
      maxConcurrentBatches: 2,
      resendMs: 3000,
      firstKeyIndex: this.app.firstKeyIndex,
      signer: this.#signer,
      rng: systemRng,
    });
    const records = this.#onDisk.keygen;
    await this.#applyKeygen(records.length > 0 ? this.keygen.restore(records) : []);
    // A crash after a batch's keys reached the log but before its key file was written leaves a batch the key
    // generation counts as done and the store lacks: write it now, and vote to publish it (the app refuses the vote
    // if it is published already).
    for (const record of records)
      if (record.kind === "keys" && !this.keyStore.hasBatch(record.batch))
        await this.#onKeys(record.batch, record.keys);
    // Decisions the block store holds reach the key generation again; it ignores those it already has.
    for (const decision of this.app.decisions()) await this.#keygenStep({ type: "decided", decision });
    if (this.successor)
      this.log.info(
        { epoch: epoch.epoch, keys: this.app.publishedKeys, firstKeyIndex: this.app.firstKeyIndex },
        "the handover completed: this epoch serves",
      );
    await this.#demandKeys();
  }

  async #keygenStep(input: KeygenInput): Promise<void> {
    if (this.keygen) await this.#applyKeygen(this.keygen.step(input));
  }

  /**
   * A handover chunk is done: its shares go to the key store, and this node votes, signed, that the chunk moved these
   * keys and owners; a quorum of identical votes installs them in the app at one block on every replica.
   */
  async #onMovedChunk({ chunk, chunks, nextKeyIndex, keys }: MovedChunk): Promise<void> {
    await this.keyStore.saveMoved(
      chunk,
      keys.map(({ keyIndex, publicKey, shareKeys, share }) => ({
        keyIndex,
        publicKey,
        shareKeys,
        share,
        blinding: "",
      })),
    );
    if (this.app.installed || this.app.movedChunkInstalled(chunk) || this.#moveVotes.has(chunk)) return;
    const body: MoveKeysBody = {
      transition: transitionId(this.epoch.epoch, this.successor!.attempt),
      chunk,
      chunks,
      nextKeyIndex,
      keys: keys.map(({ keyIndex, publicKey, owner }) => ({
        keyIndex,
        publicKey: { x: publicKey.slice(2, 66), y: publicKey.slice(66, 130) },
        ...(owner ? { owner } : {}),
      })),
    };
    const signature = signTorus(this.#privateKey, moveKeysSignBytes(this.#chainId, body));
    const tx = encodeTx({ type: "moveKeys", body, validator: this.index - 1, signature });
    this.#moveVotes.set(chunk, tx);
    await this.#proposeTx(tx);
  }

  /** This node's signed vote for each moved chunk it holds. */
  readonly #moveVotes = new Map<number, string>();

  /**
   * Votes again for moved chunks not installed yet: a vote the app refused for now (too many open votes while this
   * node is ahead of its peers) must not be lost, or a chunk that needs it would never install. A vote already
   * counted is refused by the mempool's check, so this sends nothing twice.
   */
  async #voteAgain(): Promise<void> {
    if (this.app.installed) return;
    for (const [chunk, tx] of this.#moveVotes)
      if (!this.app.movedChunkInstalled(chunk) && !this.mempool.has(tx)) await this.#proposeTx(tx);
  }

  /**
   * The window of token issue times this node serves: a successor epoch only tokens issued after the handover's
   * completion (its activation block) plus the skew; an epoch handing over only tokens issued before the newest block
   * time it saw plus the skew. So a token is served by one epoch only.
   */
  tokenWindow(): EpochWindow {
    const skew = this.config.api.epochClockSkewSeconds;
    const chain = this.#chainState;
    const window: EpochWindow = {};
    if (this.successor && chain) window.issuedAfter = chain.activatedAt + skew;
    if (chain?.state === "Transitioning" && chain.newestBlockTime > 0)
      window.issuedBefore = chain.newestBlockTime + skew;
    return window;
  }

  /** This node's share of a key, moved to this epoch or generated in it. */
  findKey(keyIndex: number): Promise<GeneratedKey | undefined> {
    return this.keyStore.findKey(keyIndex, this.keysPerBatch, this.app.firstKeyIndex);
  }

  async #startP2P(): Promise<void> {
    this.p2p = await P2PHost.start({
      privateKey: hexToBytes(this.config.nodeKey),
      listen: this.config.p2p.listen,
      onMessage: (from, message) => this.#onPeerMessage(from, message),
      log: (m) => this.log.warn(m),
    });
    this.#setPeers();
    this.#helloLoop();
  }

  /** To this epoch's other nodes only (during a handover the host also links to the other epoch's). */
  #broadcast(message: Envelope): void {
    this.p2p.sendMany(
      this.#peerIds.filter((_, i) => i + 1 !== this.index),
      message,
    );
  }

  /** This epoch's other nodes, and during a handover the other epoch's nodes too. */
  #setPeers(): void {
    const own = this.epoch.nodes
      .filter((n) => n.index !== this.index)
      .map((n) => ({ id: this.#peerIds[n.index - 1]!, address: n.p2pListenAddress }));
    this.p2p.setPeers([...own, ...(this.#receiving?.oldPeers ?? []), ...(this.#dealing?.peers ?? [])]);
  }

  /**
   * Tells peers the epoch and the hash of the verifier list until every peer answered. Clients compare the nodes'
   * answers byte for byte, so a node whose list differs from most of its peers' refuses to serve (and says why); the
   * majority keeps serving and logs which peer differs.
   */
  #helloLoop(): void {
    const hashes = new Map<number, string>();
    const say = () =>
      this.#broadcast({ ch: "hello", epoch: this.epoch.epoch, verifiers: this.verifierHash } satisfies Envelope);
    this.#onHello = (from, hello) => {
      const first = !hashes.has(from);
      hashes.set(from, hello.verifiers);
      const differing = [...hashes].filter(([, hash]) => hash !== this.verifierHash).map(([node]) => node);
      const agreeing = hashes.size - differing.length + 1; // this node agrees with itself
      if (first && hello.verifiers !== this.verifierHash)
        this.log.warn({ peer: from }, "a peer has another verifier list");
      const refusing =
        differing.length >= agreeing
          ? `the verifier list differs from that of nodes ${differing.join(", ")} (${agreeing} of ${hashes.size + 1} agree)`
          : undefined;
      if (refusing && !this.#verifierRefusal) this.log.error(`refusing to serve: ${refusing}`);
      this.#verifierRefusal = refusing;
      if (first) say(); // answer, so that a peer that started later learns this node's hash too
    };
    say();
    const timer = setInterval(() => {
      if (hashes.size >= this.epoch.n - 1) clearInterval(timer);
      else say();
    }, 2000);
    timer.unref();
    this.#timers.add(timer);
  }

  #onHello: (from: number, hello: { epoch: number; verifiers: string }) => void = () => undefined;

  /** Replays the block store into the app, then restores consensus and key generation from their logs. */
  async #recover(): Promise<void> {
    const { wal, commits, keygen } = this.#onDisk;
    let lastBlockHash = "";
    const reshares: ReshareDecision[] = [];
    for (const commit of commits) {
      const decided = this.#applyResults(commit, this.app.finalizeBlock(commit.block).results, false);
      reshares.push(...decided.reshare);
      lastBlockHash = blockHash(commit.block);
    }
    this.#commits = commits;
    const height = commits.length + 1;
    this.consensus = new Consensus(
      {
        chainId: this.#chainId,
        validators: this.epoch.n,
        self: this.index - 1,
        timeouts: DEFAULT_TIMEOUTS,
      },
      { scheme: this.#scheme, app: this.app, mempool: this.mempool },
      { height, lastBlockHash, lastAppHash: this.app.appHash },
    );
    this.log.info(
      { blocks: commits.length, walRecords: wal.length, keygenRecords: keygen.length },
      "recovered from disk",
    );
    await this.#run(async () => {
      const records = wal.filter((r) => walRecordHeight(r) === height);
      await this.#applyBft(records.length > 0 ? this.consensus.restore(records) : this.consensus.start());
      // A successor epoch starts serving once the chain says the handover completed (see #watchChain).
      if (!this.successor) await this.#startServing();
      await this.#receiving?.start(this.#onDisk.pss, reshares);
    });
  }

  /** Runs `task` after every task queued before it (one input at a time). */
  #run(task: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(task, task).catch((error: unknown) => {
      this.log.error({ err: error }, "a task failed");
    });
    this.#queue = next;
    return next;
  }

  #onPeerMessage(from: string, message: unknown): void {
    if (this.#stopped || typeof message !== "object" || message === null) return;
    const envelope = message as Partial<Envelope>;
    if (envelope.ch === "pss") {
      // The handover: from the other epoch's nodes, or (receiving) from this epoch's.
      const m = (envelope as { m: unknown }).m;
      void this.#run(async () => {
        if (this.#dealing?.onMessage(from, m)) return;
        await this.#receiving?.onMessage(from, m);
      });
      return;
    }
    const index = this.#indexOfPeer.get(from);
    if (index === undefined) return;
    switch (envelope.ch) {
      case "bft":
        void this.#run(() =>
          this.#applyBft(
            this.consensus.step({ type: "message", from: index - 1, message: (envelope as { m: unknown }).m }),
          ),
        );
        return;
      case "dkg":
        void this.#run(() =>
          this.#keygenStep({ type: "message", from: index, message: (envelope as { m: unknown }).m }),
        );
        return;
      case "tx": {
        const tx = (envelope as { tx: unknown }).tx;
        if (typeof tx !== "string") return;
        void this.#run(async () => {
          if (this.mempool.add(tx, `peer-${index}`).ok)
            await this.#applyBft(this.consensus.step({ type: "txsAvailable" }));
        });
        return;
      }
      case "hello": {
        const hello = envelope as { epoch?: unknown; verifiers?: unknown };
        if (typeof hello.verifiers === "string" && typeof hello.epoch === "number") {
          this.#onHello(index, { epoch: hello.epoch, verifiers: hello.verifiers });
        }
        return;
      }
      case "sigReq": {
        // Only a signature this node already issued is returned: answering never signs anything new.
        const { id, verifier, commitment } = envelope as { id?: unknown; verifier?: unknown; commitment?: unknown };
        if (typeof id !== "number" || typeof verifier !== "string" || typeof commitment !== "string") return;
        const record = this.commitments.commitment(commitment);
        const found = record && record.verifier === verifier;
        // Always answer (empty when there is nothing), so the asking node need not wait for its timeout.
        this.p2p.send(from, {
          ch: "sigRes",
          id,
          data: found ? record.data : "",
          signature: found ? record.signature : "",
        } satisfies Envelope);
        return;
      }
      case "sigRes": {
        const { id, data, signature } = envelope as { id?: unknown; data?: unknown; signature?: unknown };
        if (typeof id === "number" && typeof data === "string" && typeof signature === "string" && data.length < 1024) {
          const answers = this.#signatureRequests.get(id);
          if (answers && !answers.responded.has(index)) {
            answers.responded.add(index);
            if (signature !== "") answers.signatures.push({ node: index, data, signature });
          }
        }
        return;
      }
      default:
        return;
    }
  }

  /** Submits a transaction to this node's mempool and gossips it; resolves with its result once it is decided. */
  /**
   * The chain started the handover: vote, signed, that this epoch's state freezes (no new assignments or batches).
   * It freezes at the block where a quorum voted, which fixes what moves; repeated until the vote is in the mempool.
   */
  async #voteFreeze(): Promise<void> {
    if (this.app.frozen) return;
    const { nextEpoch } = await this.registry.readEpoch(this.epoch.epoch);
    if (nextEpoch === 0) return;
    const status = await this.registry.call("getEpochStatus", (c) => c.getEpochStatus(nextEpoch));
    await this.#vote("freeze", nextEpoch, Number(status.transitionAttempt));
  }

  /**
   * Governance aborted the handover attempt this epoch froze for (or already started a newer one): stop dealing, and
   * vote, signed, to thaw the state; at a quorum it serves new users and generates keys again, and a retry freezes it
   * anew. Frozen yet current again can only follow an abort (completion retires the epoch); while it transitions, only
   * a newer attempt on-chain says the frozen one ended.
   */
  async #voteThaw(state: string): Promise<void> {
    const frozen = this.app.frozen;
    if (!frozen || (state !== "Current" && state !== "Transitioning")) return;
    if (state === "Transitioning") {
      const next = await this.registry.call("getEpochStatus", (c) => c.getEpochStatus(frozen.nextEpoch));
      if (Number(next.transitionAttempt) === frozen.attempt) return;
    }
    this.#endedAttempt = frozen.attempt;
    if (this.#dealing) {
      this.#dealing = undefined;
      this.#setPeers();
      this.log.warn({ nextEpoch: frozen.nextEpoch, attempt: frozen.attempt }, "the handover was aborted");
    }
    this.#dealingProblem = undefined;
    await this.#vote("unfreeze", frozen.nextEpoch, frozen.attempt);
  }

  /** This node's signed freeze or unfreeze vote, once per attempt (repeated until it is in the mempool). */
  async #vote(type: "freeze" | "unfreeze", nextEpoch: number, attempt: number): Promise<void> {
    const id = `${type}/${nextEpoch}/${attempt}`;
    if (this.#votedFor.has(id)) return;
    const signature = signTorus(this.#privateKey, freezeSignBytes(this.#chainId, nextEpoch, attempt, type));
    const tx = encodeTx({ type, nextEpoch, attempt, validator: this.index - 1, signature });
    await this.#run(async () => {
      const added = this.mempool.add(tx, "self");
      if (!added.ok && added.reason !== "duplicate") return;
      this.#votedFor.add(id);
      this.log.info({ nextEpoch, attempt }, `voted to ${type} the state for the handover`);
      this.#broadcast({ ch: "tx", tx } satisfies Envelope);
      await this.#applyBft(this.consensus.step({ type: "txsAvailable" }));
    });
  }

  readonly #votedFor = new Set<string>();
  /** The attempt this epoch froze for and that ended without completing: nothing more is dealt for it. */
  #endedAttempt = 0;

  /**
   * Whether the transition attempt this successor node runs is over without completing: governance aborted it, or
   * started a newer one.
   */
  async #attemptEnded(chainAttempt: number): Promise<boolean> {
    const { from, attempt } = this.successor!;
    if (chainAttempt !== attempt) return true;
    const pss = await this.registry.call("getPssStatus", (c) => c.getPssStatus(from.epoch, this.epoch.epoch));
    return pssStatusName(pss) === "Aborted";
  }

  /**
   * The attempt ended: this node stops and erases everything it received (moved keys, shares, its BFT chain of the
   * attempt); started again, it waits for a retry.
   */
  async #abandonAttempt(): Promise<void> {
    this.log.warn(
      { epoch: this.epoch.epoch, attempt: this.successor!.attempt },
      "the handover attempt was aborted: erasing what this node received",
    );
    await this.stop();
    await rm(this.#epochDir, { recursive: true, force: true });
  }

  /** The BFT chain id: one per epoch, and in a successor epoch one per transition attempt. */
  get #chainId(): string {
    const base = `torus-epoch-${this.epoch.epoch}`;
    return this.successor ? `${base}-attempt-${this.successor.attempt}` : base;
  }

  /** `source` is the API client's (node/api/rate-limit.ts `sourceOf`): each has a share of the clients' mempool cap. */
  submit(tx: string, source?: string): Promise<TxResult> {
    return new Promise((resolve, reject) => {
      void this.#run(async () => {
        const added = this.mempool.add(tx, "client", source);
        if (!added.ok && added.reason !== "duplicate") {
          reject(new Error(added.reason === "invalid" ? (added.detail ?? "invalid") : added.reason));
          return;
        }
        const waiters = this.#txWaiters.get(tx) ?? [];
        waiters.push(resolve);
        this.#txWaiters.set(tx, waiters);
        this.metrics.txSubmitted++;
        this.#broadcast({ ch: "tx", tx } satisfies Envelope);
        await this.#applyBft(this.consensus.step({ type: "txsAvailable" }));
      });
    });
  }

  async #applyBft(outputs: ConsensusOutput[]): Promise<void> {
    for (const output of outputs) {
      switch (output.type) {
        case "wal":
          await this.#walLog.append(output.record, { sync: output.sync });
          break;
        case "broadcast":
          await this.#walLog.sync();
          this.#broadcast({ ch: "bft", m: output.message } satisfies Envelope);
          break;
        case "send":
          await this.#walLog.sync();
          this.p2p.send(this.#peerIds[output.to]!, { ch: "bft", m: output.message } satisfies Envelope);
          break;
        case "timeout": {
          const { height, round, step } = output;
          this.#after(output.delayMs, () =>
            this.#applyBft(this.consensus.step({ type: "timeout", height, round, step })),
          );
          break;
        }
        case "decided":
          await this.#blockLog.append(output.commit, { sync: true });
          this.#commits.push(output.commit);
          this.metrics.blocks++;
          await this.#onDecided(output.commit, output.results as TxResult[]);
          break;
        case "evidence":
          this.log.warn({ evidence: output.evidence }, "equivocation");
          break;
        case "rejected":
          this.metrics.bftRejected++;
          this.log.debug({ peer: output.from + 1, reason: output.reason }, "rejected a consensus message");
          break;
        case "serveCommit": {
          const commit = this.#commits[output.height - 1];
          if (commit) {
            const message = { type: "commit", commit, senderHeight: this.consensus.height };
            this.p2p.send(this.#peerIds[output.to]!, { ch: "bft", m: message } satisfies Envelope);
          }
          break;
        }
      }
    }
  }

  async #onDecided(commit: Commit, results: TxResult[]): Promise<void> {
    const decided = this.#applyResults(commit, results, true);
    for (const decision of decided.dkg) await this.#keygenStep({ type: "decided", decision });
    for (const decision of decided.reshare) await this.#receiving?.decided(decision);
    await this.#voteAgain();
    await this.#startServing(); // a successor's last moved chunk may have been installed
    await this.#demandKeys();
  }

  /** Resolves waiting clients and returns the key-generation decisions the block made. */
  #applyResults(
    commit: Commit,
    results: TxResult[],
    live: boolean,
  ): { dkg: DealerDecision[]; reshare: ReshareDecision[] } {
    const decided = { dkg: [] as DealerDecision[], reshare: [] as ReshareDecision[] };
    commit.block.txs.forEach((tx, i) => {
      const result = results[i]!;
      if (live) {
        for (const resolve of this.#txWaiters.get(tx) ?? []) resolve(result);
        this.#txWaiters.delete(tx);
      }
      if (result.code === "OK" && result.decided) {
        const parsed = JSON.parse(tx) as { type: string; decision: DealerDecision & ReshareDecision };
        if (parsed.type === "reshareDecision") decided.reshare.push(parsed.decision);
        else decided.dkg.push(parsed.decision);
      }
    });
    return decided;
  }

  /** Why this node serves no client, if it does not: a verifier list that differs from its peers', or a handover. */
  get refusing(): string | undefined {
    if (this.#retired)
      return `epoch ${this.epoch.epoch} has ended and erased its key shares: the next epoch serves (see the NodeList)`;
    if (this.#verifierRefusal) return this.#verifierRefusal;
    if (this.handover)
      return `epoch ${this.epoch.epoch} is taking over from epoch ${this.handover.from.epoch}: the handover is in progress`;
    if (!this.#serving) return `epoch ${this.epoch.epoch} is starting`;
    return undefined;
  }

  /**
   * Tells the key buffer how many keys are free; once frozen for the handover, no new batch starts, and a successor
   * epoch starts none before the handover (its key indexes continue from the moved next index).
   */
  async #demandKeys(): Promise<void> {
    if (this.app.frozen) return;
    await this.#keygenStep({ type: "demand", unassigned: this.app.freeKeys });
  }

  async #applyKeygen(outputs: KeygenOutput[]): Promise<void> {
    if (this.#retired) return; // its records and shares are erased
    for (const output of outputs) {
      switch (output.type) {
        case "persist":
          await this.#keygenLog.append(output.record);
          break;
        case "send":
          await this.#keygenLog.sync(); // everything this node's messages depend on is on disk first
          this.p2p.send(this.#peerIds[output.to - 1]!, { ch: "dkg", m: output.message } satisfies Envelope);
          break;
        case "propose":
          await this.#keygenLog.sync();
          await this.#proposeTx(encodeTx({ type: "dkgDecision", decision: output.decision }));
          break;
        case "keys":
          await this.#keygenLog.sync();
          await this.#onKeys(output.batch, output.keys);
          break;
        case "timer": {
          const batch = output.batch;
          this.#after(output.delayMs, () => this.#keygenStep({ type: "timer", batch }));
          break;
        }
        case "rejected":
          this.metrics.dkgRejected++;
          this.log.debug({ peer: output.from, reason: output.reason }, "rejected a key-generation message");
          break;
      }
    }
  }

  /** A finished batch: its shares go to the key store, and this node votes to publish its public keys. */
  async #onKeys(batch: number, keys: GeneratedKey[]): Promise<void> {
    await this.keyStore.saveBatch(batch, keys);
    this.metrics.generatedBatches++;
    const body = {
      startIndex: keys[0]!.keyIndex,
      publicKeys: keys.map((k) => ({ x: k.publicKey.slice(2, 66), y: k.publicKey.slice(66, 130) })),
    };
    const signature = signTorus(this.#privateKey, publishKeysSignBytes(this.#chainId, body));
    const tx = encodeTx({ type: "publishKeys", body, validator: this.index - 1, signature });
    if (this.mempool.add(tx, "self").ok) {
      this.#broadcast({ ch: "tx", tx } satisfies Envelope);
      await this.#applyBft(this.consensus.step({ type: "txsAvailable" }));
    }
  }

  /** This node's own transaction (a decision, a vote): into its mempool, gossiped, and the consensus told. */
  async #proposeTx(tx: string): Promise<void> {
    if (this.mempool.add(tx, "self").ok) {
      this.#broadcast({ ch: "tx", tx } satisfies Envelope);
      await this.#applyBft(this.consensus.step({ type: "txsAvailable" }));
    }
  }

  /**
   * The old epoch's side: once the state is frozen, deal every key of the snapshot to the next epoch's nodes. A node
   * that lacks a key sits out (and says so once); at least k_old honest nodes carry the handover.
   */
  async #startDealing(): Promise<void> {
    const frozen = this.app.frozen;
    if (!frozen || this.#dealingProblem || this.#endedAttempt === frozen.attempt) return;
    if (this.#dealing?.attempt === frozen.attempt && this.#dealing.next.epoch === frozen.nextEpoch) return;
    const next = await this.registry.readEpoch(frozen.nextEpoch);
    const snapshot = this.app.snapshot();
    const keys = await dealerKeys(snapshot, (i) => this.findKey(i));
    if ("problem" in keys) {
      this.#dealingProblem = keys.problem;
      this.log.error({ problem: keys.problem }, "this node cannot deal in the handover");
      return;
    }
    const seed = await this.#dealerSeed();
    this.#dealing = new DealingSide(
      next,
      frozen.attempt,
      { epoch: this.epoch, index: this.index, seed },
      { keys: keys.keys, nextKeyIndex: snapshot.nextKeyIndex },
      (peerId, message) => this.p2p.send(peerId, message),
    );
    this.#setPeers();
    this.log.info({ nextEpoch: next.epoch, keys: keys.keys.length }, "dealing every key to the next epoch");
    this.#dealing.start();
  }

  /**
   * The seed of this node's deterministic dealing: random, fsynced in the epoch's directory before the first dealt
   * message leaves (a restarted dealer deals the same polynomials), and erased with the shares when the epoch ends —
   * derived from the long-lived node key instead, it would let a later thief of that key recompute the dealings.
   */
  async #dealerSeed(): Promise<Uint8Array> {
    const file = path.join(this.#epochDir, "pss-dealer.seed");
    const existing = await readFile(file).catch(() => undefined);
    if (existing?.length === 32) return new Uint8Array(existing);
    const seed = systemRng(32);
    const handle = await open(file, "w", 0o600);
    try {
      await handle.writeFile(seed);
      await handle.sync();
    } finally {
      await handle.close();
    }
    return seed;
  }

  /**
   * The handover to the next epoch completed on-chain: this epoch's secrets go (its key shares, the key-generation
   * records that could rebuild them, the dealing seed) and its nodes serve no client any more.
   */
  async #retire(): Promise<void> {
    if (this.#retired) return;
    this.#retired = true;
    this.#dealing = undefined;
    await this.#keygenLog.close().catch(() => undefined);
    for (const name of ["keys", "keygen.log", "pss-dealer.seed"])
      await rm(path.join(this.#epochDir, name), { recursive: true, force: true });
    this.log.info({ epoch: this.epoch.epoch }, "the handover completed: this epoch's key shares are erased");
  }

  #retired = false;

  get #epochDir(): string {
    return path.join(this.config.dataDir, `epoch-${this.epoch.epoch}`);
  }

  /** The new epoch's side holds every moved key: confirm on-chain (once per transition attempt). */
  async #confirmHandover(digest: { mappingRoot: string; keyCount: number; commitmentsRoot: string }): Promise<void> {
    try {
      await this.registry.call("confirmHandover", async (c) => {
        const tx = await c.confirmHandover(
          this.epoch.epoch,
          digest.mappingRoot,
          digest.keyCount,
          digest.commitmentsRoot,
        );
        await tx.wait();
      });
      this.log.info({ ...digest }, "confirmed the handover on-chain");
    } catch (error) {
      // A restart after confirming finds the confirmation on-chain (AlreadyConfirmed): nothing to do.
      this.log.warn({ err: error }, "confirmHandover was refused");
    }
  }

  #after(ms: number, task: () => Promise<void>): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#stopped) void this.#run(task);
    }, ms);
    this.#timers.add(timer);
  }

  /** Persists a commit–reveal record (fsynced): it must survive a crash before the answer that depends on it leaves. */
  async persistAuth(record: AuthRecord): Promise<void> {
    await this.#authLog.append(record, { sync: true });
  }

  /** Asks every peer for the signature it issued on (verifier, commitment); waits for all of them or `signal`. */
  async requestPeerSignatures(
    verifier: string,
    commitment: string,
    signal: AbortSignal,
  ): Promise<{ node: number; data: string; signature: string }[]> {
    const id = this.#nextSignatureRequest++;
    this.metrics.signatureFetches++;
    const answers = {
      responded: new Set<number>(),
      signatures: [] as { node: number; data: string; signature: string }[],
    };
    this.#signatureRequests.set(id, answers);
    this.#broadcast({ ch: "sigReq", id, verifier, commitment } satisfies Envelope);
    while (!signal.aborted && answers.responded.size < this.epoch.n - 1) await new Promise((r) => setTimeout(r, 10));
    this.#signatureRequests.delete(id);
    return answers.signatures;
  }

  /** Signs data with the node key (Torus format). */
  sign(data: string): string {
    return signTorus(this.#privateKey, data);
  }

  /** Keys each key-generation batch yields. */
  get keysPerBatch(): number {
    return this.config.keygen.batchSize * this.epoch.k;
  }

  status(): NodeStatus {
    return {
      epoch: this.epoch.epoch,
      index: this.index,
      n: this.epoch.n,
      k: this.epoch.k,
      t: this.epoch.t,
      peersConnected: this.p2p.connectedPeers,
      bft: { height: this.consensus.height, round: this.consensus.round, step: this.consensus.stepName },
      keys: {
        published: this.app.publishedKeys,
        assigned: this.app.assignedKeys,
        free: this.app.freeKeys,
        generatedBatches: this.keyStore.batches,
        moved: this.keyStore.movedKeys,
        firstKeyIndex: this.app.firstKeyIndex,
      },
      verifierHash: this.verifierHash,
      refusing: this.refusing,
      handoverFrom: this.handover?.from.epoch,
    };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    for (const timer of this.#timers) clearTimeout(timer);
    await this.#queue;
    await this.p2p?.stop();
    await Promise.all([
      this.#walLog?.close(),
      this.#blockLog?.close(),
      this.#keygenLog?.close(),
      this.#authLog?.close(),
      this.#pssLog?.close(),
    ]);
    this.registry.destroy();
  }
}

function hexToBytes(hex: string): Uint8Array {
  const clean = hex.startsWith("0x") ? hex.slice(2) : hex;
  return Uint8Array.from(Buffer.from(clean, "hex"));
}
