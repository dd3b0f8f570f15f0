/**
 * Canonical bytes of blocks and votes: what is hashed and what is signed. Canonical JSON (keys sorted, no
 * whitespace) keeps the encoding readable in logs and WAL dumps while giving every honest node identical bytes.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";

import { canonicalJson } from "../crypto/encoding.ts";
import type { Block, Hash, Proposal, Vote } from "./types.ts";

export function hashBytes(bytes: Uint8Array): Hash {
  return bytesToHex(sha256(bytes));
}

const blockHashes = new WeakMap<Block, Hash>();

/** The hash of a block; memoized per block object, since blocks are never mutated and can be megabytes. */
export function blockHash(block: Block): Hash {
  let hash = blockHashes.get(block);
  if (hash === undefined) {
    hash = hashBytes(utf8ToBytes(canonicalJson(block)));
    blockHashes.set(block, hash);
  }
  return hash;
}

/**
 * Bytes a validator signs for a vote: bound to the chain, type, height, round and value. The chain id is the epoch's
 * encoded signing domain (node/crypto/domain.ts): deployment, epoch and, in a successor epoch, the handover attempt.
 */
export function voteSignBytes(chainId: string, vote: Omit<Vote, "signature" | "validator">): Uint8Array {
  return utf8ToBytes(
    `tm-vote/2\x1c${chainId}\x1c${vote.type}\x1c${vote.height}\x1c${vote.round}\x1c${vote.blockHash ?? "nil"}`,
  );
}

/** Bytes a proposer signs: the block is bound by its hash, the chain id as for votes. */
export function proposalSignBytes(
  chainId: string,
  proposal: Pick<Proposal, "height" | "round" | "validRound"> & { blockHash: Hash },
): Uint8Array {
  return utf8ToBytes(
    `tm-proposal/2\x1c${chainId}\x1c${proposal.height}\x1c${proposal.round}\x1c${proposal.validRound}\x1c${proposal.blockHash}`,
  );
}
