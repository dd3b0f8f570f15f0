/**
 * What the handover's receiving side (receiver.ts) persists, and how its records are erased as compactions of the
 * record store once what they protect is stored.
 */
import type { SharingRecord } from "../dkg/sharing.ts";
import type { MovedKey, ReshareDecision, ResharedKey } from "./types.ts";

export type ReceiverRecord =
  | { kind: "records"; chunk: number; chunks: number; nextKeyIndex: number; keys: MovedKey[] }
  | ({ kind: "sharing"; chunk: number; dealer: number } & SharingRecord)
  | { kind: "decision"; decision: ReshareDecision }
  | { kind: "keys"; chunk: number; keys: ResharedKey[] }
  /**
   * The handover completed and this node holds every moved key in its key store: every other record was erased
   * (HandoverDriver's erasure), and the receiver has nothing left to do.
   */
  | { kind: "completed" };

/** The chunk a record belongs to. */
export function chunkOfRecord(record: Exclude<ReceiverRecord, { kind: "completed" }>): number {
  return record.kind === "decision" ? record.decision.chunk : record.chunk;
}

/**
 * Erasing a done chunk's sharings, as a compaction of the records (RecordStore.compact): its `sharing` records go —
 * the bulk of the records (each sharing's commitments, once per state it went through) and the sub-shares this node
 * received. Its other records stay: restore needs them to count the chunk done (no resend, no second resharing) and
 * to confirm the handover with the digest of every moved key.
 */
export function chunkSharingErasure(chunk: number): { select: (record: ReceiverRecord) => boolean } {
  return { select: (record) => record.kind === "sharing" && record.chunk === chunk };
}

/**
 * Erasing every record once the handover completed and this node holds every moved key in its key store, as a
 * compaction: all records go, replaced by one `completed` record.
 */
export function handoverErasure(): {
  select: (record: ReceiverRecord) => boolean;
  replace: () => ReceiverRecord[];
} {
  return { select: () => true, replace: () => [{ kind: "completed" }] };
}
