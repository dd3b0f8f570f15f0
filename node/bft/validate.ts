/**
 * Shape checks of consensus messages from peers, before anything else looks at them: a peer's bytes may be anything,
 * and a malformed message must be dropped with a reason, never crash the core or grow its state without bound.
 */
import type { Block, Commit, ConsensusMessage, Evidence, Proposal, Vote } from "./types.ts";

export interface MessageLimits {
  validators: number;
  maxTxsPerBlock: number;
  maxTxBytes: number;
  maxBlockBytes: number;
  maxRound: number;
}

export const DEFAULT_LIMITS: Omit<MessageLimits, "validators"> = {
  maxTxsPerBlock: 20_000,
  maxTxBytes: 64 * 1024,
  maxBlockBytes: 8 * 1024 * 1024,
  maxRound: 1_000_000,
};

const HASH = /^[0-9a-f]{64}$/;
const MAX_SIGNATURE_CHARS = 256;

export class MalformedMessage extends Error {
  override readonly name = "MalformedMessage";
}

function fail(reason: string): never {
  throw new MalformedMessage(reason);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function int(value: unknown, min: number, max: number, field: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    fail(`${field} must be an integer in [${min}, ${max}]`);
  }
  return value;
}

function list(value: unknown, max: number, field: string): unknown[] {
  if (!Array.isArray(value) || value.length > max) fail(`${field} must be a list of at most ${max}`);
  return value as unknown[];
}

function signature(value: unknown, field: string): string {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_SIGNATURE_CHARS)
    fail(`${field} is not a signature`);
  return value;
}

function hashOrEmpty(value: unknown, field: string, allowEmpty: boolean): string {
  if (typeof value !== "string" || !(HASH.test(value) || (allowEmpty && value === ""))) fail(`${field} is not a hash`);
  return value;
}

export function checkVote(value: unknown, limits: MessageLimits, field = "vote"): Vote {
  if (!isObject(value)) fail(`${field} is not an object`);
  if (value.type !== "prevote" && value.type !== "precommit") fail(`${field}.type is not a vote type`);
  const blockHash = value.blockHash === null ? null : hashOrEmpty(value.blockHash, `${field}.blockHash`, false);
  return {
    type: value.type,
    height: int(value.height, 1, Number.MAX_SAFE_INTEGER, `${field}.height`),
    round: int(value.round, 0, limits.maxRound, `${field}.round`),
    blockHash,
    validator: int(value.validator, 0, limits.validators - 1, `${field}.validator`),
    signature: signature(value.signature, `${field}.signature`),
  };
}

function checkEvidence(value: unknown, limits: MessageLimits, field: string): Evidence {
  if (!isObject(value)) fail(`${field} is not an object`);
  return {
    first: checkVote(value.first, limits, `${field}.first`),
    second: checkVote(value.second, limits, `${field}.second`),
  };
}

export function checkBlock(value: unknown, limits: MessageLimits, field = "block"): Block {
  if (!isObject(value)) fail(`${field} is not an object`);
  const height = int(value.height, 1, Number.MAX_SAFE_INTEGER, `${field}.height`);
  if (!Array.isArray(value.txs) || value.txs.length > limits.maxTxsPerBlock) fail(`${field}.txs is not a bounded list`);
  let bytes = 0;
  const txs = value.txs.map((tx: unknown, i) => {
    if (typeof tx !== "string" || tx.length > limits.maxTxBytes) fail(`${field}.txs[${i}] is not a bounded string`);
    bytes += tx.length;
    return tx;
  });
  if (bytes > limits.maxBlockBytes) fail(`${field} has more than ${limits.maxBlockBytes} bytes of transactions`);
  if (!Array.isArray(value.evidence) || value.evidence.length > limits.validators)
    fail(`${field}.evidence is too long`);
  return {
    height,
    prevHash: hashOrEmpty(value.prevHash, `${field}.prevHash`, height === 1),
    lastAppHash: hashOrEmpty(value.lastAppHash, `${field}.lastAppHash`, true),
    proposer: int(value.proposer, 0, limits.validators - 1, `${field}.proposer`),
    txs,
    evidence: value.evidence.map((e, i) => checkEvidence(e, limits, `${field}.evidence[${i}]`)),
  };
}

function checkProposal(value: Record<string, unknown>, limits: MessageLimits): Proposal {
  return {
    type: "proposal",
    height: int(value.height, 1, Number.MAX_SAFE_INTEGER, "proposal.height"),
    round: int(value.round, 0, limits.maxRound, "proposal.round"),
    block: checkBlock(value.block, limits),
    validRound: int(value.validRound, -1, limits.maxRound, "proposal.validRound"),
    validator: int(value.validator, 0, limits.validators - 1, "proposal.validator"),
    signature: signature(value.signature, "proposal.signature"),
    ...(value.polVotes === undefined
      ? {}
      : {
          polVotes: list(value.polVotes, limits.validators, "proposal.polVotes").map((v, i) =>
            checkVote(v, limits, `proposal.polVotes[${i}]`),
          ),
        }),
  };
}

function checkCommit(value: unknown, limits: MessageLimits): Commit {
  if (!isObject(value)) fail("commit is not an object");
  if (!Array.isArray(value.precommits) || value.precommits.length > limits.validators)
    fail("commit.precommits is too long");
  return {
    block: checkBlock(value.block, limits, "commit.block"),
    round: int(value.round, 0, limits.maxRound, "commit.round"),
    precommits: value.precommits.map((v, i) => checkVote(v, limits, `commit.precommits[${i}]`)),
  };
}

/** Rounds a relay answer covers at most, so that its size stays bounded. */
export const RELAY_ROUNDS = 8;

/** The message, rebuilt from known fields only, or a MalformedMessage naming what is wrong. */
export function checkMessage(value: unknown, limits: MessageLimits): ConsensusMessage {
  if (!isObject(value)) fail("message is not an object");
  switch (value.type) {
    case "proposal":
      return checkProposal(value, limits);
    case "prevote":
    case "precommit":
      return checkVote(value, limits);
    case "commit":
      return {
        type: "commit",
        commit: checkCommit(value.commit, limits),
        senderHeight: int(value.senderHeight, 0, Number.MAX_SAFE_INTEGER, "senderHeight"),
      };
    case "votes":
      return {
        type: "votes",
        height: int(value.height, 1, Number.MAX_SAFE_INTEGER, "height"),
        proposals: list(value.proposals, RELAY_ROUNDS, "proposals").map((p) => {
          if (!isObject(p) || p.type !== "proposal") fail("proposals holds something else");
          return checkProposal(p, limits);
        }),
        votes: list(value.votes, limits.validators * 4 * RELAY_ROUNDS, "votes").map((v, i) =>
          checkVote(v, limits, `votes[${i}]`),
        ),
      };
    case "syncRequest":
      return {
        type: "syncRequest",
        height: int(value.height, 1, Number.MAX_SAFE_INTEGER, "height"),
        round: int(value.round, 0, limits.maxRound, "round"),
      };
    default:
      return fail("message.type is unknown");
  }
}
