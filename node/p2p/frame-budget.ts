/**
 * The frame cap of an epoch: the encoded size of the largest message its protocols legitimately send, plus a margin.
 * A fixed cap is wrong both ways: a dealer's commitments grow as B·k² points (at k = 129 about 2.2 MB per sharing as
 * JSON of uncompressed hex points, so a batch of 8 does not fit 16 MiB), while a small epoch's largest AVSS message is
 * a few kilobytes.
 *
 * The sizes are the JSON the host sends (node/p2p/host.ts encodeFrame: `{"ch":…,"m":…}`), counted field by field
 * from the wire formats of node/dkg/wire.ts and node/pss/wire.ts at their largest values: a point is 130 hex
 * characters, a scalar or hash 64, every integer field up to 16 digits (Number.MAX_SAFE_INTEGER). The test
 * test/p2p/frame-budget.sim.test.ts checks the formulas against messages the real encoders produce.
 *
 * A consensus message is bounded by the write-ahead log instead: every message the BFT core takes or sends is a WAL
 * record first, and the WAL refuses a record above MAX_WAL_RECORD_BYTES (node/bft/wal.ts), so no consensus message a
 * node can take is larger.
 */
import { MAX_WAL_RECORD_BYTES } from "../bft/wal.ts";

export interface EpochSize {
  n: number;
  k: number;
}

export interface FrameBudgetInput {
  /** This node's epoch. */
  epoch: EpochSize;
  /** Sharings each dealer makes per key-generation batch (config.keygen.batchSize). */
  batchSize: number;
  /** The other epoch of a running handover (either direction: this node may deal to it or receive from it). */
  partners?: readonly EpochSize[];
  /** Keys per handover chunk (node/runtime/handover.ts HANDOVER_CHUNK_SIZE). */
  chunkSize: number;
}

/** Head room over the largest message: field order, whitespace-free encoders that change a little, rounding. */
const MARGIN = 1 / 8;

const POINT = 130 + 2;
const SCALAR = 64 + 2;
const HASH = 64 + 2;
/** The parsers take signatures of up to 256 characters; the node's own are hex, one byte a character. */
const SIGNATURE = 256 + 2;
const INTEGER = 16;
/** A verifier name or id: up to 512 characters (node/pss/wire.ts), each at most 6 bytes as JSON (`\uXXXX`). */
const OWNER_TEXT = 512 * 6 + 2;

/** `[a,b,…]` of `count` items of `item` bytes each. */
function list(count: number, item: number): number {
  return 2 + count * item + Math.max(0, count - 1);
}

/** `{"name":value,…}` with the given value sizes. */
function object(fields: Record<string, number>): number {
  const entries = Object.entries(fields);
  return 2 + entries.reduce((sum, [name, value]) => sum + name.length + 3 + value, 0) + entries.length - 1;
}

const text = (value: string) => value.length + 2;

/** The frame of a message of `inner` bytes on a channel: `{"ch":"<channel>","m":<inner>}`. */
function envelope(channel: string, inner: number): number {
  return object({ ch: text(channel), m: inner });
}

/** The largest key-generation message of an epoch (node/dkg/types.ts). */
export function largestDkgMessage({ k }: EpochSize, batchSize: number): number {
  // No message grows with n: each carries one dealer's commitments, or the points one node sends another.
  const session = (type: string) => ({ type: text(type), epoch: INTEGER, batch: INTEGER, dealer: INTEGER });
  const matrices = list(batchSize, list(k, list(k, POINT)));
  const polynomials = list(batchSize, list(k, SCALAR));
  const points = list(batchSize, object({ row: SCALAR, rowBlinding: SCALAR, col: SCALAR, colBlinding: SCALAR }));
  const proof = object({ Y: POINT, T1: POINT, T2: POINT, u1: SCALAR, u2: SCALAR });
  return Math.max(
    object({
      ...session("send"),
      commitments: matrices,
      rows: polynomials,
      rowBlindings: polynomials,
      cols: polynomials,
      colBlindings: polynomials,
    }),
    object({ ...session("commitments"), commitments: matrices }),
    object({ ...session("ready"), hash: HASH, points, signature: SIGNATURE }),
    object({ type: text("proofs"), epoch: INTEGER, batch: INTEGER, proofs: list(batchSize * k, proof) }),
  );
}

/** The largest handover message from the nodes of `from` to those of `to` and among `to`'s (node/pss/types.ts). */
export function largestPssMessage(from: EpochSize, to: EpochSize, chunkSize: number): number {
  const session = (type: string) => ({ type: text(type), transition: INTEGER, chunk: INTEGER, dealer: INTEGER });
  const matrices = list(chunkSize, list(to.k, list(to.k, POINT)));
  const polynomials = list(chunkSize, list(to.k, SCALAR));
  const movedKey = object({
    keyIndex: INTEGER,
    publicKey: POINT,
    shareKeys: list(from.n, POINT),
    owner: object({ verifier: OWNER_TEXT, verifierId: OWNER_TEXT }),
  });
  return Math.max(
    object({ ...session("send"), commitments: matrices, rows: polynomials, cols: polynomials }),
    object({ ...session("commitments"), commitments: matrices }),
    object({
      type: text("records"),
      transition: INTEGER,
      chunk: INTEGER,
      chunks: INTEGER,
      nextKeyIndex: INTEGER,
      keys: list(chunkSize, movedKey),
    }),
    object({
      ...session("ready"),
      hash: HASH,
      points: list(chunkSize, object({ row: SCALAR, col: SCALAR })),
      signature: SIGNATURE,
    }),
  );
}

/** The frame of the largest message, of any protocol, a node of this epoch sends or takes, with the margin. */
export function frameBudget({ epoch, batchSize, partners = [], chunkSize }: FrameBudgetInput): number {
  const largest = Math.max(
    envelope("bft", MAX_WAL_RECORD_BYTES),
    envelope("dkg", largestDkgMessage(epoch, batchSize)),
    ...partners.flatMap((partner) => [
      envelope("pss", largestPssMessage(epoch, partner, chunkSize)),
      envelope("pss", largestPssMessage(partner, epoch, chunkSize)),
    ]),
  );
  return Math.ceil((largest * (1 + MARGIN)) / 1024) * 1024;
}
