/**
 * A chunk's moved records as the old nodes send them: they count once t_old + 1 old nodes sent identical bytes (the
 * same digest), so that at least one of the senders is honest. Each old node's first copy counts, so one node cannot
 * vote twice; the records are then decoded once, with their points checked.
 */
import type { Point } from "../crypto/point.ts";
import { parsePoint } from "../dkg/wire.ts";
import type { MovedKey } from "./types.ts";

export interface ChunkRecords {
  chunks: number;
  nextKeyIndex: number;
  keys: MovedKey[];
}

/** A chunk's agreed records, with their points decoded. */
export interface AcceptedRecords extends ChunkRecords {
  publicKeys: Point[];
  /** Y[κ][i − 1]: old node i's share key of the chunk's key κ. */
  shareKeys: Point[][];
}

export class RecordCopies {
  readonly #copies = new Map<string, { senders: Set<number>; records: ChunkRecords }>();
  readonly #senders = new Set<number>();

  /** `needed`: t_old + 1. */
  constructor(private readonly needed: number) {}

  /** Counts old node `from`'s copy of digest `digest`; the records once `needed` old nodes sent that same copy. */
  add(from: number, digest: string, records: ChunkRecords): ChunkRecords | undefined {
    if (this.#senders.has(from)) return undefined;
    this.#senders.add(from);
    let copy = this.#copies.get(digest);
    if (!copy) this.#copies.set(digest, (copy = { senders: new Set(), records }));
    copy.senders.add(from);
    return copy.senders.size >= this.needed ? copy.records : undefined;
  }
}

/** Decodes agreed records' points (the public keys and every old node's share keys). */
export function acceptedRecords({ chunks, nextKeyIndex, keys }: ChunkRecords): AcceptedRecords {
  return {
    chunks,
    nextKeyIndex,
    keys,
    publicKeys: keys.map((k) => parsePoint(k.publicKey, "publicKey")),
    shareKeys: keys.map((k) => k.shareKeys.map((y) => parsePoint(y, "shareKey"))),
  };
}
