/**
 * Strict parsing of handover messages from peers. AVSS messages are parsed into the key-generation core's shapes with
 * zero blindings, so that its per-dealer bookkeeping (node/dkg/sharing.ts) runs unchanged: a Pedersen commitment
 * with a zero blinding is the Feldman commitment g^v. Moved records are checked for shape only and compared by digest;
 * their points are decoded once a chunk is accepted.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";

import { canonicalJson } from "../crypto/encoding.ts";
import type { Point } from "../crypto/point.ts";
import type { SessionId } from "../dkg/types.ts";
import type { Points } from "../dkg/wire.ts";
import {
  MalformedDkgMessage,
  fail,
  hash,
  int,
  isObject,
  parseDealers,
  parseMatrices,
  parseScalar,
} from "../dkg/wire.ts";
import type { KeyOwner, MovedKey, PssMessage, ReshareDecision } from "./types.ts";

/** A handover message or decision that does not parse, saying what is wrong with it. */
export class MalformedPssMessage extends Error {
  override readonly name = "MalformedPssMessage";
}

/** Runs a parser built on key generation's field parsers, naming the handover in what it throws. */
function asHandover<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof MalformedDkgMessage) throw new MalformedPssMessage(error.message);
    throw error;
  }
}

/** Domain of the handover's commitment hashes and ready signatures (never valid in key generation). */
export const PSS_DOMAIN = "pss";

export interface PssShape {
  nOld: number;
  nNew: number;
  kNew: number;
  /** Keys per chunk; a chunk holds 1..chunkSize keys. */
  chunkSize: number;
}

export type ParsedPss =
  | {
      type: "records";
      transition: number;
      chunk: number;
      chunks: number;
      nextKeyIndex: number;
      keys: MovedKey[];
      digest: string;
    }
  | (SessionId & {
      type: "send";
      commitments: Point[][][];
      rows: bigint[][];
      rowBlindings: bigint[][];
      cols: bigint[][];
      colBlindings: bigint[][];
    })
  | (SessionId & { type: "echo"; hash: string; points: Points[] })
  | (SessionId & { type: "ready"; hash: string; points: Points[]; signature: string })
  | (SessionId & { type: "commitmentRequest"; hash: string })
  | (SessionId & { type: "commitments"; commitments: Point[][][] })
  | { type: "resend"; epoch: number; batch: number };

const MAX_CHUNKS = 1_000_000;
/** As the JSON-RPC API bounds verifier names and ids. */
const MAX_ID_CHARS = 512;
const POINT_HEX = /^04[0-9a-f]{128}$/;

function upTo(value: unknown, max: number, field: string): unknown[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > max) fail(`${field} must be a list of 1 to ${max}`);
  return value as unknown[];
}

function exactly(value: unknown, length: number, field: string): unknown[] {
  if (!Array.isArray(value) || value.length !== length) fail(`${field} must be a list of ${length}`);
  return value as unknown[];
}

function avssId(raw: Record<string, unknown>, shape: PssShape): SessionId {
  return {
    epoch: int(raw.transition, 0, Number.MAX_SAFE_INTEGER, "transition"),
    batch: int(raw.chunk, 0, MAX_CHUNKS, "chunk"),
    dealer: int(raw.dealer, 1, shape.nOld, "dealer"),
  };
}

function matrices(value: unknown, shape: PssShape, field: string): Point[][][] {
  return parseMatrices(upTo(value, shape.chunkSize, field), shape.kNew, field);
}

function polynomials(value: unknown, keys: number, shape: PssShape, field: string): bigint[][] {
  return exactly(value, keys, field).map((poly, key) =>
    exactly(poly, shape.kNew, `${field}[${key}]`).map((c, j) => parseScalar(c, `${field}[${key}][${j}]`)),
  );
}

const zeros = (like: bigint[][]) => like.map((p) => p.map(() => 0n));

function points(value: unknown, shape: PssShape): Points[] {
  return upTo(value, shape.chunkSize, "points").map((p, key) => {
    if (!isObject(p)) fail(`points[${key}] is not an object`);
    return {
      row: parseScalar(p.row, `points[${key}].row`),
      rowBlinding: 0n,
      col: parseScalar(p.col, `points[${key}].col`),
      colBlinding: 0n,
    };
  });
}

function movedKeys(value: unknown, shape: PssShape): MovedKey[] {
  return upTo(value, shape.chunkSize, "keys").map((k, i) => {
    if (!isObject(k)) fail(`keys[${i}] is not an object`);
    const point = (p: unknown, field: string) => {
      if (typeof p !== "string" || !POINT_HEX.test(p)) fail(`${field} is not an uncompressed point in hex`);
      return p;
    };
    return {
      keyIndex: int(k.keyIndex, 0, Number.MAX_SAFE_INTEGER, `keys[${i}].keyIndex`),
      publicKey: point(k.publicKey, `keys[${i}].publicKey`),
      shareKeys: exactly(k.shareKeys, shape.nOld, `keys[${i}].shareKeys`).map((y, j) =>
        point(y, `keys[${i}].shareKeys[${j}]`),
      ),
      ...(k.owner === undefined ? {} : { owner: owner(k.owner, `keys[${i}].owner`) }),
    };
  });
}

function owner(value: unknown, field: string): KeyOwner {
  if (!isObject(value)) fail(`${field} is not an object`);
  const text = (v: unknown, name: string) => {
    if (typeof v !== "string" || v.length === 0 || v.length > MAX_ID_CHARS)
      fail(`${field}.${name} is not a bounded string`);
    return v;
  };
  return { verifier: text(value.verifier, "verifier"), verifierId: text(value.verifierId, "verifierId") };
}

/** The digest honest old nodes agree on for a chunk of moved records. */
export function recordsDigest(records: {
  transition: number;
  chunk: number;
  chunks: number;
  nextKeyIndex: number;
  keys: readonly MovedKey[];
}): string {
  const { transition, chunk, chunks, nextKeyIndex, keys } = records;
  return bytesToHex(keccak_256(utf8ToBytes(canonicalJson({ transition, chunk, chunks, nextKeyIndex, keys }))));
}

/** Parses a handover message from a peer; throws MalformedPssMessage saying what is wrong. */
export function parsePssMessage(raw: unknown, shape: PssShape): ParsedPss {
  return asHandover(() => parseMessage(raw, shape));
}

function parseMessage(raw: unknown, shape: PssShape): ParsedPss {
  if (!isObject(raw)) fail("message is not an object");
  switch (raw.type as PssMessage["type"]) {
    case "records": {
      const transition = int(raw.transition, 0, Number.MAX_SAFE_INTEGER, "transition");
      const chunk = int(raw.chunk, 0, MAX_CHUNKS, "chunk");
      const chunks = int(raw.chunks, 1, MAX_CHUNKS, "chunks");
      if (chunk >= chunks) fail("chunk is not below chunks");
      const nextKeyIndex = int(raw.nextKeyIndex, 0, Number.MAX_SAFE_INTEGER, "nextKeyIndex");
      const keys = movedKeys(raw.keys, shape);
      const records = { transition, chunk, chunks, nextKeyIndex, keys };
      return { type: "records", ...records, digest: recordsDigest(records) };
    }
    case "send": {
      const commitments = matrices(raw.commitments, shape, "commitments");
      const rows = polynomials(raw.rows, commitments.length, shape, "rows");
      const cols = polynomials(raw.cols, commitments.length, shape, "cols");
      return {
        type: "send",
        ...avssId(raw, shape),
        commitments,
        rows,
        rowBlindings: zeros(rows),
        cols,
        colBlindings: zeros(cols),
      };
    }
    case "echo":
      return { type: "echo", ...avssId(raw, shape), hash: hash(raw.hash, "hash"), points: points(raw.points, shape) };
    case "ready":
      if (typeof raw.signature !== "string" || raw.signature.length === 0 || raw.signature.length > 256)
        fail("signature is missing");
      return {
        type: "ready",
        ...avssId(raw, shape),
        hash: hash(raw.hash, "hash"),
        points: points(raw.points, shape),
        signature: raw.signature,
      };
    case "commitmentRequest":
      return { type: "commitmentRequest", ...avssId(raw, shape), hash: hash(raw.hash, "hash") };
    case "commitments":
      return {
        type: "commitments",
        ...avssId(raw, shape),
        commitments: matrices(raw.commitments, shape, "commitments"),
      };
    case "resend":
      return {
        type: "resend",
        epoch: int(raw.transition, 0, Number.MAX_SAFE_INTEGER, "transition"),
        batch: int(raw.chunk, 0, MAX_CHUNKS, "chunk"),
      };
    default:
      return fail("unknown message type");
  }
}

/** Shape check of a decision delivered by the ordering service (its signatures are checked by the receiver). */
export function parseReshareDecision(raw: unknown, shape: PssShape): ReshareDecision {
  return asHandover(() => parseDecision(raw, shape));
}

function parseDecision(raw: unknown, shape: PssShape): ReshareDecision {
  if (!isObject(raw) || raw.type !== "reshareDealers") fail("decision is not a reshare decision");
  return {
    type: "reshareDealers",
    transition: int(raw.transition, 0, Number.MAX_SAFE_INTEGER, "transition"),
    chunk: int(raw.chunk, 0, MAX_CHUNKS, "chunk"),
    dealers: parseDealers(raw.dealers, shape.nOld, shape.nNew),
  };
}
