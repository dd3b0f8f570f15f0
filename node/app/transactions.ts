/**
 * Transactions of the key-mapping app, as canonical JSON strings (see bft/encoding.ts):
 * - `assign`: give (verifier, verifierId) the next free key. Unsigned: anyone may ask a node's API, which
 *   rate-limits; the app makes it idempotent, so a repeated request returns the same key.
 * - `publishKeys`: a validator's signed vote that the keys of a generation batch have these public keys. The keys
 *   join the pool only when a quorum of validators signed the same content (one Byzantine node cannot inject keys).
 * - `dkgDecision`: the dealer set of a key-generation batch.
 * - `reshareDecision`: in a successor epoch's handover, the old dealers whose resharing of a chunk count.
 * - `freeze`: a validator's signed vote that the chain started attempt `attempt` of the handover to `nextEpoch`; the
 *   state freezes at the block where a quorum of validators voted (one Byzantine node cannot stop assignments).
 * - `unfreeze`: a validator's signed vote that governance aborted that attempt; at a quorum the state thaws, and a
 *   retry (a new attempt, so no old vote can be replayed) freezes it again.
 * - `moveKeys`: in a successor epoch, a validator's signed vote that a handover chunk moved these keys and owners (it
 *   took them on t_old + 1 identical copies and holds verified new shares of them); a quorum of identical votes
 *   installs them, at the same block on every replica.
 */
import { canonicalJson } from "../crypto/encoding.ts";
import type { DealerDecision } from "../dkg/types.ts";
import { MalformedDkgMessage, parseDecision } from "../dkg/wire.ts";
import type { ReshareDecision } from "../pss/types.ts";
import { MalformedPssMessage, parseReshareDecision } from "../pss/wire.ts";

export interface AssignTx {
  type: "assign";
  verifier: string;
  verifierId: string;
}

/** An uncompressed public key as lowercase hex coordinates without 0x, zero-padded to 64 characters. */
export interface PublicKeyHex {
  x: string;
  y: string;
}

export interface PublishKeysBody {
  /** Key indexes startIndex .. startIndex + publicKeys.length − 1. */
  startIndex: number;
  publicKeys: PublicKeyHex[];
}

export interface PublishKeysTx {
  type: "publishKeys";
  body: PublishKeysBody;
  validator: number;
  signature: string;
}

/** A dealer-set decision of the key generation, carrying its own proofs (signed readies); the first valid one wins. */
export interface DkgDecisionTx {
  type: "dkgDecision";
  decision: DealerDecision;
}

export interface FreezeTx {
  type: "freeze";
  nextEpoch: number;
  /** The transition attempt on-chain (1 for the first). */
  attempt: number;
  validator: number;
  signature: string;
}

/** The old dealers of a handover chunk, with their proofs (signed readies of new nodes); the first valid one wins. */
export interface ReshareDecisionTx {
  type: "reshareDecision";
  decision: ReshareDecision;
}

export interface MovedKeyEntry {
  keyIndex: number;
  publicKey: PublicKeyHex;
  owner?: { verifier: string; verifierId: string };
}

export interface MoveKeysBody {
  /** The handover's id: the successor epoch. */
  transition: number;
  chunk: number;
  chunks: number;
  /** The key index this epoch's key generation continues from (the same in every chunk). */
  nextKeyIndex: number;
  keys: MovedKeyEntry[];
}

export interface MoveKeysTx {
  type: "moveKeys";
  body: MoveKeysBody;
  validator: number;
  signature: string;
}

/** The same vote for the thaw after governance aborted the attempt. */
export interface UnfreezeTx extends Omit<FreezeTx, "type"> {
  type: "unfreeze";
}

export type AppTx = AssignTx | PublishKeysTx | DkgDecisionTx | FreezeTx | UnfreezeTx | ReshareDecisionTx | MoveKeysTx;

/**
 * 256 keys make a publication of about 36 KB, within the consensus limit of 64 KB per transaction; a moved chunk
 * (25 keys in production) may hold 64, with owners' ids of up to 512 characters.
 */
export const TX_LIMITS = { maxIdLength: 512, maxKeysPerPublication: 256, maxKeysPerMove: 64 } as const;

export class InvalidTx extends Error {
  override readonly name = "InvalidTx";
}

const COORDINATE = /^[0-9a-f]{64}$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function boundedString(value: unknown, field: string): string {
  if (typeof value !== "string" || value.length === 0 || value.length > TX_LIMITS.maxIdLength) {
    throw new InvalidTx(`${field} must be a non-empty string of at most ${TX_LIMITS.maxIdLength} characters`);
  }
  return value;
}

/** Parses and shape-checks a transaction of an epoch of n validators; throws InvalidTx naming the problem. */
export function decodeTx(tx: string, n = 256): AppTx {
  let value: unknown;
  try {
    value = JSON.parse(tx);
  } catch {
    throw new InvalidTx("not JSON");
  }
  if (!isObject(value)) throw new InvalidTx("not an object");
  if (value.type === "assign") {
    return {
      type: "assign",
      verifier: boundedString(value.verifier, "verifier"),
      verifierId: boundedString(value.verifierId, "verifierId"),
    };
  }
  if (value.type === "publishKeys") {
    const body = value.body;
    if (!isObject(body)) throw new InvalidTx("body must be an object");
    const { startIndex, publicKeys } = body;
    if (typeof startIndex !== "number" || !Number.isSafeInteger(startIndex) || startIndex < 0) {
      throw new InvalidTx("startIndex must be a non-negative integer");
    }
    if (!Array.isArray(publicKeys) || publicKeys.length === 0 || publicKeys.length > TX_LIMITS.maxKeysPerPublication) {
      throw new InvalidTx(`publicKeys must hold 1 to ${TX_LIMITS.maxKeysPerPublication} keys`);
    }
    const keys = publicKeys.map((k: unknown, i) => publicKeyHex(k, `publicKeys[${i}]`));
    return { type: "publishKeys", body: { startIndex, publicKeys: keys }, ...signedVote(value) };
  }
  if (value.type === "moveKeys") return { type: "moveKeys", body: moveKeysBody(value.body), ...signedVote(value) };
  if (value.type === "dkgDecision") {
    try {
      // Only the decision's shape here; its proofs are checked against the epoch by the app.
      return {
        type: "dkgDecision",
        decision: parseDecision(value.decision, { n, k: 1, batchSize: 1, keysPerBatch: 1 }),
      };
    } catch (error) {
      if (error instanceof MalformedDkgMessage) throw new InvalidTx(`decision: ${error.message}`);
      throw error;
    }
  }
  if (value.type === "reshareDecision") {
    try {
      // Only the shape; its proofs are checked against the handover by the app.
      const shape = { nOld: 256, nNew: n, kNew: 1, chunkSize: 1 };
      return { type: "reshareDecision", decision: parseReshareDecision(value.decision, shape) };
    } catch (error) {
      if (error instanceof MalformedPssMessage) throw new InvalidTx(`decision: ${error.message}`);
      throw error;
    }
  }
  if (value.type === "freeze" || value.type === "unfreeze") {
    const nextEpoch = count(value.nextEpoch, "nextEpoch", 1);
    return { type: value.type, nextEpoch, attempt: count(value.attempt, "attempt", 1), ...signedVote(value) };
  }
  throw new InvalidTx("unknown transaction type");
}

function signedVote(value: Record<string, unknown>): { validator: number; signature: string } {
  const { validator, signature } = value;
  if (typeof validator !== "number" || !Number.isSafeInteger(validator) || validator < 0)
    throw new InvalidTx("validator must be a validator index");
  if (typeof signature !== "string" || signature.length > 256) throw new InvalidTx("signature is missing");
  return { validator, signature };
}

function publicKeyHex(k: unknown, field: string): PublicKeyHex {
  if (
    !isObject(k) ||
    typeof k.x !== "string" ||
    typeof k.y !== "string" ||
    !COORDINATE.test(k.x) ||
    !COORDINATE.test(k.y)
  )
    throw new InvalidTx(`${field} must be {x, y} as 64 lowercase hex characters each`);
  return { x: k.x, y: k.y };
}

function count(value: unknown, field: string, min = 0): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min)
    throw new InvalidTx(`${field} must be an integer of at least ${min}`);
  return value;
}

function moveKeysBody(body: unknown): MoveKeysBody {
  if (!isObject(body)) throw new InvalidTx("body must be an object");
  const chunks = count(body.chunks, "chunks", 1);
  const chunk = count(body.chunk, "chunk");
  if (chunk >= chunks) throw new InvalidTx("chunk must be below chunks");
  const { keys } = body;
  if (!Array.isArray(keys) || keys.length > TX_LIMITS.maxKeysPerMove)
    throw new InvalidTx(`keys must hold at most ${TX_LIMITS.maxKeysPerMove} keys`);
  let previous = -1;
  const entries = keys.map((k: unknown, i): MovedKeyEntry => {
    if (!isObject(k)) throw new InvalidTx(`keys[${i}] must be an object`);
    const keyIndex = count(k.keyIndex, `keys[${i}].keyIndex`);
    if (keyIndex <= previous) throw new InvalidTx("keys must be in ascending key-index order");
    previous = keyIndex;
    const publicKey = publicKeyHex(k.publicKey, `keys[${i}].publicKey`);
    if (k.owner === undefined) return { keyIndex, publicKey };
    if (!isObject(k.owner)) throw new InvalidTx(`keys[${i}].owner must be an object`);
    const owner = {
      verifier: boundedString(k.owner.verifier, `keys[${i}].owner.verifier`),
      verifierId: boundedString(k.owner.verifierId, `keys[${i}].owner.verifierId`),
    };
    return { keyIndex, publicKey, owner };
  });
  const nextKeyIndex = count(body.nextKeyIndex, "nextKeyIndex");
  if (previous >= nextKeyIndex) throw new InvalidTx("nextKeyIndex must be past every moved key");
  return { transition: count(body.transition, "transition", 1), chunk, chunks, nextKeyIndex, keys: entries };
}

export function encodeTx(tx: AppTx): string {
  return canonicalJson(tx);
}

/** The assignment transaction of a user: the same bytes for the same user on every node (mempools deduplicate). */
export function assignTx(verifier: string, verifierId: string): string {
  return encodeTx({ type: "assign", verifier, verifierId });
}

/*
 * In every app vote's sign bytes, `chainId` is the BFT chain id: the epoch's encoded signing domain
 * (node/crypto/domain.ts), so a vote names the deployment and the epoch (in a successor epoch also the epoch it takes
 * over from and the attempt).
 */

/**
 * The bytes a validator signs to vote for the handover freeze (or, after an abort, for the thaw): the old epoch's
 * domain, the next epoch and the attempt.
 */
export function freezeSignBytes(
  chainId: string,
  nextEpoch: number,
  attempt: number,
  type: "freeze" | "unfreeze" = "freeze",
): Uint8Array {
  return new TextEncoder().encode(`app-${type}/2\x1c${chainId}\x1c${nextEpoch}\x1c${attempt}`);
}

/** The bytes a validator signs to vote for a moved chunk. */
export function moveKeysSignBytes(chainId: string, body: MoveKeysBody): Uint8Array {
  return new TextEncoder().encode(`app-move-keys/2\x1c${chainId}\x1c${canonicalJson(body)}`);
}

/** The bytes a validator signs to publish keys. */
export function publishKeysSignBytes(chainId: string, body: PublishKeysBody): Uint8Array {
  return new TextEncoder().encode(`app-publish-keys/2\x1c${chainId}\x1c${canonicalJson(body)}`);
}
