/**
 * An in-memory network of n nodes behind the client API's ports (node/api/service.ts), for the service-level JSON-RPC
 * suite: real node keys and Torus signatures, real Shamir shares of real keys, the real commit–reveal store; no BFT,
 * key generation, disk or libp2p. Assignments are decided at once and seen by every node, as the replicated app would
 * have them after a block. Each node's behaviour can be changed (refusing, frozen, a hanging or failing assignment,
 * no share yet), and every call that changes state is counted, so a test can assert that a refusal changed nothing.
 */
import { CommitmentStore } from "../../node/auth/commitments.ts";
import type { KvStore } from "../../node/store/kv-store.ts";
import { MemoryStore } from "../../node/store/memory-store.ts";
import type { EpochWindow } from "../../node/auth/verifier.ts";
import type { NodeCounters, NodeStatus, PeerTrafficCounters, StatusSource } from "../../node/api/node-status.ts";
import type {
  Assignment,
  AssignOutcome,
  CommitRevealLedger,
  KeyService,
  PeerSignature,
  PublicKeyHex,
} from "../../node/api/service.ts";
import type { Deployment } from "../../node/crypto/domain.ts";
import { randomNonZeroScalar, systemRng } from "../../node/crypto/field.ts";
import { G, type Point } from "../../node/crypto/point.ts";
import { evaluatePolynomial, randomPolynomial } from "../../node/crypto/polynomial.ts";
import { signTorus } from "../../node/crypto/signature.ts";

const hex64 = (value: bigint) => value.toString(16).padStart(64, "0");

/** The deployment the fake network serves unless a test names another (a local chain's id and first address). */
export const FAKE_DEPLOYMENT: Deployment = {
  chainId: "31337",
  nodeList: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  deploymentBlockHash: "0x" + "d1".repeat(32),
};

export interface FakeKey {
  keyIndex: number;
  /** The whole private key: the test checks that k decrypted shares rebuild it. */
  secret: bigint;
  publicKey: PublicKeyHex;
  coefficients: bigint[];
  owner?: { verifier: string; verifierId: string };
}

export class FakeKeyNetwork {
  readonly nodeSecrets: bigint[];
  readonly nodeKeys: Point[];
  readonly keys: FakeKey[] = [];
  readonly nodes: FakeKeyService[];
  /** How many assignment transactions were decided (a refusal must not add one). */
  assignmentsDecided = 0;
  readonly #owners = new Map<string, number>();

  constructor(
    readonly n = 5,
    readonly t = 1,
    readonly k = Math.floor(n / 2) + 1,
    keys = 4,
    readonly deployment: Deployment = FAKE_DEPLOYMENT,
    readonly epoch = 1,
  ) {
    this.nodeSecrets = Array.from({ length: n }, () => randomNonZeroScalar(systemRng));
    this.nodeKeys = this.nodeSecrets.map((s) => G.multiply(s));
    for (let i = 0; i < keys; i++) this.addKey();
    this.nodes = this.nodeSecrets.map((_, i) => new FakeKeyService(this, i + 1));
  }

  /** A generated key, published but not assigned. */
  addKey(): FakeKey {
    const secret = randomNonZeroScalar(systemRng);
    const p = G.multiply(secret);
    const key = {
      keyIndex: this.keys.length,
      secret,
      publicKey: { x: hex64(p.x), y: hex64(p.y) },
      coefficients: randomPolynomial(secret, this.k - 1, systemRng),
    };
    this.keys.push(key);
    return key;
  }

  get freeKeys(): number {
    return this.keys.filter((k) => !k.owner).length;
  }

  lookup(verifier: string, verifierId: string): Assignment | undefined {
    const keyIndex = this.#owners.get(JSON.stringify([verifier, verifierId]));
    return keyIndex === undefined ? undefined : { keyIndex, publicKey: this.keys[keyIndex]!.publicKey };
  }

  /** What the replicated app does with an assignment transaction: idempotent per user. */
  decideAssignment(verifier: string, verifierId: string): AssignOutcome {
    const existing = this.lookup(verifier, verifierId);
    if (existing) return { code: "OK", ...existing };
    const free = this.keys.find((k) => !k.owner);
    if (!free) return { code: "NO_FREE_KEY" };
    free.owner = { verifier, verifierId };
    this.#owners.set(JSON.stringify([verifier, verifierId]), free.keyIndex);
    this.assignmentsDecided++;
    return { code: "OK", keyIndex: free.keyIndex, publicKey: free.publicKey };
  }

  /** Every node's commit–reveal records together (a refusal must not add any). */
  get records(): number {
    return this.nodes.reduce((sum, node) => sum + node.store.size, 0);
  }
}

export class FakeKeyService implements KeyService {
  readonly self: KeyService["self"];
  readonly epoch: KeyService["epoch"];
  readonly deployment: Deployment;
  refusal: string | undefined;
  frozenFor: number | undefined;
  window: EpochWindow = {};
  /** When set, replaces the decided assignment (a hanging, refused or odd transaction). */
  assignWith: ((signal: AbortSignal) => Promise<AssignOutcome>) | undefined;
  /** The signal and the client source the last assignment was given. */
  lastAssignSignal: AbortSignal | undefined;
  lastAssignSource: string | undefined;
  withoutShares = false;
  peerSignatureRequests = 0;
  /** When set, replaces the peers' answer to a signature fetch (a slow or hanging peer set). */
  peerSignaturesWith: ((signal: AbortSignal) => Promise<PeerSignature[]>) | undefined;
  store: CommitmentStore;
  readonly commitments: CommitRevealLedger;

  constructor(
    readonly network: FakeKeyNetwork,
    readonly index: number,
  ) {
    this.self = { index, publicKey: network.nodeKeys[index - 1]! };
    this.epoch = { number: network.epoch, n: network.n, t: network.t, nodeKeys: network.nodeKeys };
    this.deployment = network.deployment;
    this.store = new CommitmentStore(new MemoryStore(), () => Date.now());
    // Through `this.store` at each call: capRecords replaces it.
    this.commitments = {
      commitment: (commitment) => this.store.commitment(commitment),
      evicted: (commitment) => this.store.evicted(commitment),
      reveal: (commitment) => this.store.reveal(commitment),
      openCommitments: (source) => this.store.openCommitments(source),
      addCommitment: (record, openLimit) => this.store.addCommitment(record, openLimit),
      addReveal: (record) => this.store.addReveal(record),
    };
  }

  /** Caps the commit–reveal records this node holds (the storage cap a real node has at 200,000). */
  capRecords(maxRecords: number): void {
    this.store = new CommitmentStore(new MemoryStore(), () => Date.now(), maxRecords);
  }

  /** Keeps this node's commit–reveal records on `engine` from now on. */
  recordOn(engine: KvStore): void {
    this.store = new CommitmentStore(engine, () => Date.now());
  }

  refusing(): string | undefined {
    return this.refusal;
  }

  handingOverTo(): number | undefined {
    return this.frozenFor;
  }

  freeKeys(): number {
    return this.network.freeKeys;
  }

  lookup(verifier: string, verifierId: string): Promise<Assignment | undefined> {
    return Promise.resolve(this.network.lookup(verifier, verifierId));
  }

  assign(verifier: string, verifierId: string, signal: AbortSignal, source: string): Promise<AssignOutcome> {
    this.lastAssignSignal = signal;
    this.lastAssignSource = source;
    if (this.assignWith) return this.assignWith(signal);
    return Promise.resolve(this.network.decideAssignment(verifier, verifierId));
  }

  keyByPublicKey(publicKey: PublicKeyHex): ReturnType<KeyService["keyByPublicKey"]> {
    const key = this.network.keys.find((k) => k.publicKey.x === publicKey.x && k.publicKey.y === publicKey.y);
    return Promise.resolve(key && { keyIndex: key.keyIndex, ...(key.owner ? { owner: key.owner } : {}) });
  }

  keyShare(keyIndex: number): Promise<bigint | undefined> {
    const key = this.network.keys[keyIndex];
    if (!key || this.withoutShares) return Promise.resolve(undefined);
    return Promise.resolve(evaluatePolynomial(key.coefficients, BigInt(this.index)));
  }

  sign(data: string): string {
    return signTorus(this.network.nodeSecrets[this.index - 1]!, data);
  }

  /** The other nodes' signatures on the commitment, as the real peers return them: only those already issued. */
  peerSignatures(verifier: string, commitment: string, signal: AbortSignal): Promise<PeerSignature[]> {
    this.peerSignatureRequests++;
    if (this.peerSignaturesWith) return this.peerSignaturesWith(signal);
    if (signal.aborted) return Promise.resolve([]);
    const peers = this.network.nodes.filter((peer) => peer.index !== this.index);
    return Promise.all(
      peers.map(async (peer) => {
        const record = await peer.store.commitment(commitment);
        return record && record.verifier === verifier
          ? [{ node: peer.index, data: record.data, signature: record.signature }]
          : [];
      }),
    ).then((answers) => answers.flat());
  }

  tokenWindow(): EpochWindow {
    return this.window;
  }
}

/** A status source with fixed figures, for the operator endpoints. */
export function fakeStatusSource(service: FakeKeyService): StatusSource & { counters(): NodeCounters } {
  const { network, index } = service;
  const traffic: PeerTrafficCounters = {
    framesIn: 11,
    framesOut: 12,
    dropped: 1,
    inboundDropped: 4,
    rejectedPeers: 2,
    malformedFrames: 3,
  };
  return {
    status: (): NodeStatus => ({
      epoch: 1,
      index,
      n: network.n,
      k: network.k,
      t: network.t,
      peersConnected: network.n - 1,
      bft: { height: 7, round: 0, step: "propose", appHash: "" },
      keys: {
        published: network.keys.length,
        assigned: network.keys.length - network.freeKeys,
        free: network.freeKeys,
        generatedBatches: 1,
        moved: 0,
        firstKeyIndex: 0,
      },
      verifierHash: "ab".repeat(32),
      refusing: service.refusing(),
      handoverFrom: undefined,
      cryptoBackend: "noble",
      checkWorkers: 0,
      checkJobsOnMainThread: 0,
    }),
    counters: () => ({
      blocks: 6,
      txSubmitted: 5,
      signatureFetches: service.peerSignatureRequests,
      bftRejected: 1,
      dkgRejected: 2,
    }),
    peerTraffic: () => traffic,
  };
}
