/**
 * Types of the epoch handover (proactive secret sharing): every node i of epoch e reshares its share s_i of every
 * key to the nodes of e + 1 by the AVSS of key generation (node/dkg/), with Feldman commitments whose constant term
 * must equal the moved Y_i = s_i·G. The keys move in chunks of consecutive keys; each chunk is one AVSS session per
 * old dealer, and the set of dealers per chunk is agreed on e + 1's ordering service.
 *
 * Old nodes are numbered 1..n_old by their position in e's list, new nodes 1..n_new in e + 1's; a node that is in
 * both plays two roles with two numbers. On the wire scalars and points are hex as in node/dkg/wire.ts.
 */
import type { ReadyProof } from "../dkg/types.ts";

export interface Thresholds {
  n: number;
  t: number;
  k: number;
}

/** Who a message comes from or goes to: an old node (a dealer) or a new node (a receiver). */
export interface Party {
  role: "old" | "new";
  index: number;
}

/** Who a key is assigned to (absent for a key still in the buffer). */
export interface KeyOwner {
  verifier: string;
  verifierId: string;
}

/**
 * What moves for one key, the same bytes from every honest old node: its public key, every old node's Y_i, and its
 * owner, so the assignment mapping moves with the keys and under the same t_old + 1 rule.
 */
export interface MovedKey {
  keyIndex: number;
  /** Uncompressed hex. */
  publicKey: string;
  /** Y_i = s_i·G for i = 1..n_old, uncompressed hex. */
  shareKeys: string[];
  owner?: KeyOwner;
}

/** One chunk of the moved keys, as old nodes send it; a new node takes it on t_old + 1 identical copies. */
export interface RecordsMessage {
  type: "records";
  transition: number;
  chunk: number;
  /** How many chunks the handover has (every copy must say the same). */
  chunks: number;
  /** The key index e + 1's key generation continues from (every copy must say the same). */
  nextKeyIndex: number;
  keys: MovedKey[];
}

/** Old dealer → new node j: Feldman commitment matrices of the chunk's keys, and j's row and column of each. */
export interface ReshareSendMessage {
  type: "send";
  transition: number;
  chunk: number;
  dealer: number;
  /** commitments[κ][a][b] = coefficient of x^a y^b of key κ's polynomial, times G; [κ][0][0] must be Y_dealer. */
  commitments: string[][][];
  rows: string[][];
  cols: string[][];
}

/** New node → new node: AVSS echo or ready points (no blindings: the commitments are Feldman). */
export interface ResharePointsMessage {
  type: "echo" | "ready";
  transition: number;
  chunk: number;
  dealer: number;
  hash: string;
  points: { row: string; col: string }[];
  /** Ready only: the sender's signature over (transition, chunk, dealer, hash). */
  signature?: string;
}

export interface ReshareCommitmentRequest {
  type: "commitmentRequest";
  transition: number;
  chunk: number;
  dealer: number;
  hash: string;
}

export interface ReshareCommitments {
  type: "commitments";
  transition: number;
  chunk: number;
  dealer: number;
  commitments: string[][][];
}

/** "Resend what you sent me for this chunk", to old and new nodes (after a restart, or when a chunk stalls). */
export interface ReshareResend {
  type: "resend";
  transition: number;
  chunk: number;
}

export type PssMessage =
  | RecordsMessage
  | ReshareSendMessage
  | ResharePointsMessage
  | ReshareCommitmentRequest
  | ReshareCommitments
  | ReshareResend;

/** The old dealers whose resharings of a chunk count, each with k_new + t_new signed readies of new nodes. */
export interface ReshareDecision {
  type: "reshareDealers";
  transition: number;
  chunk: number;
  dealers: { dealer: number; hash: string; readies: ReadyProof[] }[];
}

/** A key as a new node holds it after the handover: the same public key, a new share, every new node's Y_j. */
export interface ResharedKey {
  keyIndex: number;
  publicKey: string;
  owner?: KeyOwner;
  /** Y_j for j = 1..n_new, uncompressed hex. */
  shareKeys: string[];
  share: string;
}
