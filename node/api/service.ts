/**
 * What the JSON-RPC methods need from a node, and nothing more: the narrow port between the client API and the
 * runtime. The node implements it over its replicated app, key store, commit–reveal log and peers
 * (node/runtime/api-service.ts); the service-level tests implement it in memory. The API must see the node only
 * through these interfaces — never TorusNode, consensus, key generation or libp2p objects — so that it can be tested
 * without processes and cannot reach into state it has no business changing.
 */
import type { AddOutcome, CommitmentRecord, RevealRecord } from "../auth/commitments.ts";
import type { EpochWindow } from "../auth/verifier.ts";
import type { VerifierConfig } from "../config.ts";
import type { Deployment } from "../crypto/domain.ts";
import type { Point } from "../crypto/point.ts";

/** A public key as the replicated state holds it: x and y as 64 lowercase hex characters. */
export interface PublicKeyHex {
  x: string;
  y: string;
}

export interface Assignment {
  keyIndex: number;
  publicKey: PublicKeyHex;
}

/** The outcome of a decided assignment transaction. */
export type AssignOutcome =
  | ({ code: "OK" } & Assignment)
  /** No generated key is free: nothing was consumed, retry later. */
  | { code: "NO_FREE_KEY" }
  /** The state froze for the handover to `nextEpoch` before the assignment was decided. */
  | { code: "FROZEN"; nextEpoch: number }
  /** Anything else the replicated app refused (a bug on a valid request). */
  | { code: "FAILED" };

/** A signature a peer had already issued on a commitment, fetched for a ShareRequest that carried too few. */
export interface PeerSignature {
  /** The peer's 1-based index in the epoch. */
  node: number;
  data: string;
  signature: string;
}

/**
 * The durable commit–reveal records of this node (node/auth/commitments.ts). Adding persists (fsynced) before it
 * resolves: an answer that depends on a record leaves only after the record would survive a crash.
 */
export interface CommitRevealLedger {
  commitment(commitment: string): Promise<CommitmentRecord | undefined>;
  /** Whether this node signed `commitment` but dropped its record at the storage cap (it must not sign another key). */
  evicted(commitment: string): Promise<boolean>;
  reveal(commitment: string): Promise<RevealRecord | undefined>;
  /** How many open (unrevealed, unexpired) commitments a client source holds here. */
  openCommitments(source: string): Promise<number>;
  /**
   * Records the commitment atomically with its checks: "taken" when a racing request recorded, revealed or evicted
   * it first, "quota" when its source holds `openLimit` open commitments, "full" when the node holds too many records
   * and none can be evicted fairly. Nothing is recorded unless "added".
   */
  addCommitment(record: CommitmentRecord, openLimit: number): Promise<AddOutcome>;
  addReveal(record: RevealRecord): Promise<void>;
}

export interface KeyService {
  /** This node: its 1-based index in the epoch and its node key (the one registered on-chain). */
  readonly self: { index: number; publicKey: Point };
  /** The epoch's number, thresholds and node keys (node i at i − 1), fixed for the life of the service. */
  readonly epoch: { number: number; n: number; t: number; nodeKeys: readonly Point[] };
  /** The deployment this node serves: every commitment signature names it and the epoch (node/crypto/domain.ts). */
  readonly deployment: Deployment;

  /** Why this node serves no client now (a handover, another verifier list, a retired epoch), or undefined. */
  refusing(): string | undefined;
  /** The next epoch while the state is frozen for the handover (no new assignment), else undefined. */
  handingOverTo(): number | undefined;
  freeKeys(): number;

  /** The key a user holds (read from the committed state). */
  lookup(verifier: string, verifierId: string): Promise<Assignment | undefined>;
  /**
   * Submits the assignment to the BFT network and resolves once a block decided it. Rejects with the reason when the
   * transaction is refused before it is ordered, and with `signal.reason` once `signal` aborts (the transaction may
   * still be decided later: a retry then finds the assignment). `source` is the client's (rate-limit.ts `sourceOf`),
   * so that one source cannot take every slot the node keeps for clients' transactions.
   */
  assign(verifier: string, verifierId: string, signal: AbortSignal, source: string): Promise<AssignOutcome>;
  keyByPublicKey(
    publicKey: PublicKeyHex,
  ): Promise<{ keyIndex: number; owner?: { verifier: string; verifierId: string } } | undefined>;
  /** This node's share of a key, or undefined when it holds none (yet). */
  keyShare(keyIndex: number): Promise<bigint | undefined>;

  readonly commitments: CommitRevealLedger;
  /** The node key's Torus-format signature over `data` (commitment data). */
  sign(data: string): string;
  /** Asks the peers for the signatures they already issued on (verifier, commitment), until `signal` aborts. */
  peerSignatures(verifier: string, commitment: string, signal: AbortSignal): Promise<PeerSignature[]>;
  /** Which token issue times this epoch serves (a token is served by one epoch only). */
  tokenWindow(): EpochWindow;
}

/** The operator's settings the API applies itself. */
export interface ApiSettings {
  verifiers: readonly VerifierConfig[];
  /** Per source (rate-limit.ts `sourceOf`), as are all the API's quotas. */
  keyAssignPerSecond: number;
  commitmentsPerSecond: number;
  /** Open commitments a source may hold at once (methods.ts DEFAULT_LIMITS). */
  openCommitmentsPerSource?: number | undefined;
  /**
   * "signer" (the default): KeyAssign needs the signer's signature, and without a signer it is closed (users get keys
   * at login). "open": anyone may have keys assigned to any user, which only a closed network should allow.
   */
  keyAssignMode?: "signer" | "open" | undefined;
  /** When set, every KeyAssign must carry this signer's signature (key-assign-auth.ts). */
  keyAssignSigner?: { x: bigint; y: bigint } | undefined;
  /** ShareRequests per second a source may send that fail for want of valid signatures (methods.ts DEFAULT_LIMITS). */
  failedShareRequestsPerSecond?: number | undefined;
  /** Signature fetches from peers under way at once, per source and in total. */
  peerAsksPerSource?: number | undefined;
  peerAsksTotal?: number | undefined;
}
