/**
 * Framing of write-ahead-log records: each record is `length (u32 BE) ‖ crc32 (u32 BE) ‖ payload`, the payload being
 * the record's canonical JSON in UTF-8. A crash can tear only the last record (appends are sequential and own votes
 * are synced before they are sent), so a short or failing last record is dropped; damage anywhere else means the
 * disk lied, and reading stops with an error rather than replaying a log with a hole in it.
 */
import { crc32 } from "node:zlib";

import { canonicalJson } from "../crypto/encoding.ts";

export const MAX_WAL_RECORD_BYTES = 16 * 1024 * 1024;

export class WalCorruption extends Error {
  override readonly name = "WalCorruption";
}

export function encodeWalRecord(record: unknown): Uint8Array {
  const payload = new TextEncoder().encode(canonicalJson(record));
  if (payload.length > MAX_WAL_RECORD_BYTES) throw new RangeError(`WAL record of ${payload.length} bytes is too large`);
  const frame = new Uint8Array(8 + payload.length);
  const view = new DataView(frame.buffer);
  view.setUint32(0, payload.length);
  view.setUint32(4, crc32(payload));
  frame.set(payload, 8);
  return frame;
}

export interface DecodedWal {
  records: unknown[];
  /** Bytes of a torn last record that were dropped (0 if the log ended cleanly). */
  droppedTailBytes: number;
}

export function decodeWal(bytes: Uint8Array): DecodedWal {
  const records: unknown[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  while (offset < bytes.length) {
    const torn = (): DecodedWal => ({ records, droppedTailBytes: bytes.length - offset });
    if (bytes.length - offset < 8) return torn();
    const length = view.getUint32(offset);
    const checksum = view.getUint32(offset + 4);
    if (length > MAX_WAL_RECORD_BYTES) throw new WalCorruption(`record at byte ${offset} claims ${length} bytes`);
    const end = offset + 8 + length;
    if (end > bytes.length) return torn();
    const payload = bytes.subarray(offset + 8, end);
    if (crc32(payload) !== checksum) {
      if (end === bytes.length) return torn(); // the last record, half written
      throw new WalCorruption(`record at byte ${offset} fails its checksum`);
    }
    try {
      records.push(JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload)));
    } catch (error) {
      throw new WalCorruption(`record at byte ${offset} is not JSON`, { cause: error });
    }
    offset = end;
  }
  return { records, droppedTailBytes: 0 };
}
