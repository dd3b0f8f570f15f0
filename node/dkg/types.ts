/**
 * Types of the key-generation core: the dual-threshold AVSS of Cachin, Kursawe, Lysyanskaya and Strobl (2002) run by
 * every node of an epoch as a dealer, in batches of B keys, with the dealer set agreed through an ordering service.
 *
 * Nodes are numbered 1..n by their position in the epoch's node list (share indexes, never 0). On the wire scalars are
 * 64-char lowercase hex and points 130-char uncompressed hex (04 ‖ x ‖ y); `wire.ts` parses both strictly.
 */

/** Points of one key carried by an echo or ready from node j to node i: one on i's row, one on i's column. */
export interface WirePoints {
  /** f(i, j) and its blinding f'(i, j): a point of i's row, = j's column at x = i. */
  row: string;
  rowBlinding: string;
  /** f(j, i) and its blinding: a point of i's column, = j's row at y = i. */
  col: string;
  colBlinding: string;
}

export interface SessionId {
  epoch: number;
  batch: number;
  dealer: number;
}

/** Dealer → node i: the commitment matrices of the batch's B keys, and i's row and column of each. */
export interface SendMessage extends SessionId {
  type: "send";
  /** B matrices of k × k points: commitments[κ][j][l] commits to the coefficient of x^j y^l of key κ. */
  commitments: string[][][];
  rows: string[][];
  rowBlindings: string[][];
  cols: string[][];
  colBlindings: string[][];
}

export interface EchoMessage extends SessionId {
  type: "echo";
  /** H(C) of the commitments the sender saw (hex); echoes and readies are counted per hash. */
  hash: string;
  points: WirePoints[];
}

export interface ReadyMessage extends SessionId {
  type: "ready";
  hash: string;
  points: WirePoints[];
  /** The sender's signature over (epoch, batch, dealer, hash): the proof the dealer-set decision carries. */
  signature: string;
}

/** "Send me the commitments with this hash" (a node that never got the dealer's send). */
export interface CommitmentRequest extends SessionId {
  type: "commitmentRequest";
  hash: string;
}

export interface CommitmentResponse extends SessionId {
  type: "commitments";
  commitments: string[][][];
}

/** "Resend what you sent me for this batch" — the pull that replaces a persisted outbox. */
export interface ResendRequest {
  type: "resend";
  epoch: number;
  batch: number;
}

/** Node j's public share keys Y_j = s_j·G for the batch's keys, each with its proof against C_j. */
export interface ProofsMessage {
  type: "proofs";
  epoch: number;
  batch: number;
  proofs: { Y: string; T1: string; T2: string; u1: string; u2: string }[];
}

export type DkgMessage =
  SendMessage | EchoMessage | ReadyMessage | CommitmentRequest | CommitmentResponse | ResendRequest | ProofsMessage;

/** A signed ready, as a decision carries it. */
export interface ReadyProof {
  node: number;
  signature: string;
}

/** The dealers whose sharings are in a batch's keys, each with k + t signed readies on one commitment hash. */
export interface DealerDecision {
  type: "dealers";
  epoch: number;
  batch: number;
  dealers: { dealer: number; hash: string; readies: ReadyProof[] }[];
}

/** Signs and checks node signatures (ECDSA with the node keys in production); nodes are 1-based. */
export interface NodeSigner {
  sign(message: Uint8Array): string;
  verify(node: number, message: Uint8Array, signature: string): boolean;
}

/** A generated key, with what this node needs to serve it and to hand it over: its share and every node's Y_j. */
export interface GeneratedKey {
  keyIndex: number;
  /** The public key, as uncompressed hex. */
  publicKey: string;
  /** Y_j = s_j·G for j = 1..n, uncompressed hex (index 0 is node 1). */
  shareKeys: string[];
  /** This node's share s_i and its Pedersen blinding r_i (hex). */
  share: string;
  blinding: string;
}
