/**
 * Encoding and strict parsing of key-generation messages. A peer's message may be anything: every field is checked
 * (types, ranges, shapes: B keys, k × k matrices, k coefficients) and converted to scalars and curve points here,
 * so that the core only ever sees well-formed values. A malformed message is a `MalformedDkgMessage`, never a crash.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex } from "@noble/hashes/utils.js";

import { CryptoError } from "../crypto/errors.ts";
import { ORDER } from "../crypto/field.ts";

import { decodePointHex, encodedPoint, encodedPoints, ownPointHex, type Point } from "../crypto/point.ts";
import type { DealerDecision, DkgMessage, ProofsMessage, SessionId, WirePoints } from "./types.ts";

export class MalformedDkgMessage extends Error {
  override readonly name = "MalformedDkgMessage";
}

export function fail(reason: string): never {
  throw new MalformedDkgMessage(reason);
}

const SCALAR = /^[0-9a-f]{64}$/;
const POINT = /^04[0-9a-f]{128}$/;
const HASH = /^[0-9a-f]{64}$/;

export const scalarHex = (value: bigint): string => value.toString(16).padStart(64, "0");
/** A point's wire hex: a parsed or computed point remembers its encoding (crypto/point.ts), so it costs no inversion. */
export const pointHex = (point: Point): string => bytesToHex(encodedPoint(point));

export function parseScalar(value: unknown, field: string): bigint {
  if (typeof value !== "string" || !SCALAR.test(value)) fail(`${field} is not a 64-digit lowercase hex scalar`);
  const scalar = BigInt("0x" + value);
  if (scalar >= ORDER) fail(`${field} is not below the group order`);
  return scalar;
}

export function parsePoint(value: unknown, field: string): Point {
  if (typeof value !== "string" || !POINT.test(value)) fail(`${field} is not an uncompressed point in hex`);
  try {
    return decodePointHex(value, field);
  } catch (error) {
    if (error instanceof CryptoError) fail(error.message);
    throw error;
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function int(value: unknown, min: number, max: number, field: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    fail(`${field} must be an integer in [${min}, ${max}]`);
  }
  return value;
}

export function list(value: unknown, length: number, field: string): unknown[] {
  if (!Array.isArray(value) || value.length !== length) fail(`${field} must be a list of ${length}`);
  return value as unknown[];
}

export function hash(value: unknown, field: string): string {
  if (typeof value !== "string" || !HASH.test(value)) fail(`${field} is not a hash`);
  return value;
}

export interface Shape {
  n: number;
  k: number;
  /** Sharings each dealer makes per batch. */
  batchSize: number;
  /** Keys a batch yields: batchSize × k (see extraction.ts). */
  keysPerBatch: number;
}

/** Points of one key, parsed. */
export interface Points {
  row: bigint;
  rowBlinding: bigint;
  col: bigint;
  colBlinding: bigint;
}

export type ParsedMessage =
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
  | { type: "resend"; epoch: number; batch: number }
  | {
      type: "proofs";
      epoch: number;
      batch: number;
      proofs: { Y: Point; T1: Point; T2: Point; u1: bigint; u2: bigint }[];
    };

function sessionId(value: Record<string, unknown>, shape: Shape): SessionId {
  return {
    epoch: int(value.epoch, 0, Number.MAX_SAFE_INTEGER, "epoch"),
    batch: int(value.batch, 0, Number.MAX_SAFE_INTEGER, "batch"),
    dealer: int(value.dealer, 1, shape.n, "dealer"),
  };
}

function matrices(value: unknown, shape: Shape, field: string): Point[][][] {
  return parseMatrices(list(value, shape.batchSize, field), shape.k, field);
}

/**
 * The wire form of commitment matrices, by the parsed (or encoded) matrices: a point's hex costs an inversion and a
 * validity check, and a sharing's record and hash need the same matrices' hex again and again. The matrices are
 * never changed once parsed or dealt.
 */
const wireForms = new WeakMap<object, unknown>();

/**
 * k × k matrices of points, one per key (`keys` already checked as a list), remembered with their wire form. Each
 * commits to a symmetric polynomial (node/dkg/sharing.ts), so entry [j][l] must be the very text of [l][j] (an
 * encoding is canonical: equal points, equal text); the points below the diagonal are not parsed again.
 */
export function parseMatrices(keys: unknown[], k: number, field: string): Point[][][] {
  const wire = keys.map((m, key) =>
    list(m, k, `${field}[${key}]`).map((row, j) => list(row, k, `${field}[${key}][${j}]`) as string[]),
  );
  const parsed = wire.map((m, key) => {
    const matrix: Point[][] = m.map(() => []);
    for (const [j, row] of m.entries()) {
      for (const [l, p] of row.entries()) {
        if (l >= j) matrix[j]![l] = parsePoint(p, `${field}[${key}][${j}][${l}]`);
        else if (p === m[l]![j]) matrix[j]![l] = matrix[l]![j]!;
        else fail(`${field}[${key}] is not symmetric: entry [${j}][${l}] differs from [${l}][${j}]`);
      }
    }
    return matrix;
  });
  wireForms.set(parsed, wire);
  return parsed;
}

/**
 * Matrices of points this process computed (a dealer's commitments, from a check worker), from their wire hex, not
 * checked again (`ownPointHex`) and remembered with that hex as their wire form.
 */
export function ownMatrices(wire: string[][][]): Point[][][] {
  // A symmetric matrix's entry below the diagonal is the very point of its mirror (as the dealer's are).
  const matrices = wire.map((m) => {
    const matrix: Point[][] = m.map(() => []);
    m.forEach((row, j) =>
      row.forEach((hex, l) => (matrix[j]![l] = l < j && hex === m[l]![j] ? matrix[l]![j]! : ownPointHex(hex))),
    );
    return matrix;
  });
  wireForms.set(matrices, wire);
  return matrices;
}

function polynomials(value: unknown, shape: Shape, field: string): bigint[][] {
  return list(value, shape.batchSize, field).map((poly, key) =>
    list(poly, shape.k, `${field}[${key}]`).map((c, j) => parseScalar(c, `${field}[${key}][${j}]`)),
  );
}

function points(value: unknown, shape: Shape): Points[] {
  return list(value, shape.batchSize, "points").map((p, key) => {
    if (!isObject(p)) fail(`points[${key}] is not an object`);
    return {
      row: parseScalar(p.row, `points[${key}].row`),
      rowBlinding: parseScalar(p.rowBlinding, `points[${key}].rowBlinding`),
      col: parseScalar(p.col, `points[${key}].col`),
      colBlinding: parseScalar(p.colBlinding, `points[${key}].colBlinding`),
    };
  });
}

/** Parses a peer's message for an epoch of the given shape; throws MalformedDkgMessage saying what is wrong. */
export function parseDkgMessage(raw: unknown, shape: Shape): ParsedMessage {
  if (!isObject(raw)) fail("message is not an object");
  switch (raw.type) {
    case "send":
      return {
        type: "send",
        ...sessionId(raw, shape),
        commitments: matrices(raw.commitments, shape, "commitments"),
        rows: polynomials(raw.rows, shape, "rows"),
        rowBlindings: polynomials(raw.rowBlindings, shape, "rowBlindings"),
        cols: polynomials(raw.cols, shape, "cols"),
        colBlindings: polynomials(raw.colBlindings, shape, "colBlindings"),
      };
    case "echo":
      return {
        type: "echo",
        ...sessionId(raw, shape),
        hash: hash(raw.hash, "hash"),
        points: points(raw.points, shape),
      };
    case "ready":
      if (typeof raw.signature !== "string" || raw.signature.length === 0 || raw.signature.length > 256) {
        fail("signature is missing");
      }
      return {
        type: "ready",
        ...sessionId(raw, shape),
        hash: hash(raw.hash, "hash"),
        points: points(raw.points, shape),
        signature: raw.signature,
      };
    case "commitmentRequest":
      return { type: "commitmentRequest", ...sessionId(raw, shape), hash: hash(raw.hash, "hash") };
    case "commitments":
      return {
        type: "commitments",
        ...sessionId(raw, shape),
        commitments: matrices(raw.commitments, shape, "commitments"),
      };
    case "resend":
      return {
        type: "resend",
        epoch: int(raw.epoch, 0, Number.MAX_SAFE_INTEGER, "epoch"),
        batch: int(raw.batch, 0, Number.MAX_SAFE_INTEGER, "batch"),
      };
    case "proofs":
      return {
        type: "proofs",
        epoch: int(raw.epoch, 0, Number.MAX_SAFE_INTEGER, "epoch"),
        batch: int(raw.batch, 0, Number.MAX_SAFE_INTEGER, "batch"),
        proofs: list(raw.proofs, shape.keysPerBatch, "proofs").map((p, key) => {
          if (!isObject(p)) fail(`proofs[${key}] is not an object`);
          return {
            Y: parsePoint(p.Y, `proofs[${key}].Y`),
            T1: parsePoint(p.T1, `proofs[${key}].T1`),
            T2: parsePoint(p.T2, `proofs[${key}].T2`),
            u1: parseScalar(p.u1, `proofs[${key}].u1`),
            u2: parseScalar(p.u2, `proofs[${key}].u2`),
          };
        }),
      };
    default:
      return fail("unknown message type");
  }
}

/** Shape check of a decision delivered by the ordering service (its signatures are checked by the core). */
export function parseDecision(raw: unknown, shape: Shape): DealerDecision {
  if (!isObject(raw) || raw.type !== "dealers") fail("decision is not a dealer decision");
  return {
    type: "dealers",
    epoch: int(raw.epoch, 0, Number.MAX_SAFE_INTEGER, "epoch"),
    batch: int(raw.batch, 0, Number.MAX_SAFE_INTEGER, "batch"),
    dealers: parseDealers(raw.dealers, shape.n, shape.n),
  };
}

/**
 * A decision's dealers, each with its commitment hash and signed readies: dealers numbered 1..`dealers`, ready
 * signers 1..`signers` (the same nodes in key generation; the old and the new epoch's in a handover).
 */
export function parseDealers(value: unknown, dealers: number, signers: number): DealerDecision["dealers"] {
  if (!Array.isArray(value) || value.length > dealers) fail("decision.dealers is not a bounded list");
  return (value as unknown[]).map((d, i) => {
    if (!isObject(d)) fail(`dealers[${i}] is not an object`);
    if (!Array.isArray(d.readies) || d.readies.length > signers) fail(`dealers[${i}].readies is not a bounded list`);
    return {
      dealer: int(d.dealer, 1, dealers, `dealers[${i}].dealer`),
      hash: hash(d.hash, `dealers[${i}].hash`),
      readies: (d.readies as unknown[]).map((r, j) => {
        if (!isObject(r) || typeof r.signature !== "string" || r.signature.length > 256) {
          fail(`dealers[${i}].readies[${j}] is malformed`);
        }
        return { node: int(r.node, 1, signers, `dealers[${i}].readies[${j}].node`), signature: r.signature };
      }),
    };
  });
}

/**
 * H(C): binds the batch's commitment matrices to their session, so a hash is never valid for another one. `domain`
 * separates protocols that share the AVSS ("dkg" key generation, "pss" resharing).
 */
export function commitmentHash(
  id: SessionId,
  commitments: readonly (readonly (readonly Point[])[])[],
  domain = "dkg",
): string {
  const header = new TextEncoder().encode(`${domain}-commitments/1\x1c${id.epoch}\x1c${id.batch}\x1c${id.dealer}\x1c`);
  // The points' uncompressed encodings, from their (remembered) wire form: the same bytes as `toBytes(false)`.
  const points = Buffer.from(matricesToWire(commitments).flat(2).join(""), "hex");
  const bytes = new Uint8Array(header.length + points.length);
  bytes.set(header, 0);
  bytes.set(points, header.length);
  return bytesToHex(keccak_256(bytes));
}

/**
 * The bytes a node signs when it sends `ready`: the signing domain of its epoch (the encoded SigningDomain of
 * node/crypto/domain.ts, which names the deployment, the epoch and, for the handover, the old epoch and the attempt),
 * then the session and H(C). `protocol` as `domain` for commitmentHash.
 */
export function readySignBytes(
  signingDomain: string,
  id: SessionId,
  hash: string,
  protocol: "dkg" | "pss" = "dkg",
): Uint8Array {
  return new TextEncoder().encode(
    `${protocol}-ready/2\x1c${signingDomain}\x1c${id.epoch}\x1c${id.batch}\x1c${id.dealer}\x1c${hash}`,
  );
}

export function pointsToWire(p: Points): WirePoints {
  return {
    row: scalarHex(p.row),
    rowBlinding: scalarHex(p.rowBlinding),
    col: scalarHex(p.col),
    colBlinding: scalarHex(p.colBlinding),
  };
}

/**
 * Hex of every point of the matrices, remembered: the wire form they were parsed from, or else encoded once, with one
 * batched inversion making them all affine first (one per point otherwise). The result is shared: never change it.
 */
export function matricesToWire(commitments: readonly (readonly (readonly Point[])[])[]): string[][][] {
  return rememberedWire(commitments, (hex) => commitments.map((m) => m.map((row) => row.map(hex))));
}

/** Hex of every point of the vectors (a batch's column commitments), remembered like `matricesToWire`'s. */
export function vectorsToWire(vectors: readonly (readonly Point[])[]): string[][] {
  return rememberedWire(vectors, (hex) => vectors.map((vector) => vector.map(hex)));
}

/**
 * The wire form of nested arrays of points, made once per array: `shape` rebuilds the nesting with `hex`, which gives
 * the points' hex in order. Encodings a backend computed or a decoding kept are taken as they are; the others share
 * one batched inversion.
 */
function rememberedWire<T>(points: readonly unknown[], shape: (hex: () => string) => T): T {
  const known = wireForms.get(points) as T | undefined;
  if (known) return known;
  const encoded = encodedPoints((points as unknown[]).flat(2) as Point[]);
  let next = 0;
  const wire = shape(() => bytesToHex(encoded[next++]!));
  wireForms.set(points, wire);
  return wire;
}

export type { DkgMessage, ProofsMessage };
