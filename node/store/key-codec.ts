/**
 * Ordered keys from tuples of strings and non-negative integers: the bytes of `key("x", 5, "a")` sort as the tuples
 * do (element by element; integers by value, strings by their UTF-8 bytes; a tuple before its extensions), so a typed
 * store can scan an index in order with a prefix range. Each element is tagged; a string escapes its own 0x00 bytes as
 * 0x00 0xff and ends with 0x00 0x00, which occurs nowhere else in it: the keys under the prefix `key("o", s)` are
 * exactly the tuples that start with ("o", s), never those of a longer string that starts with s and a 0x00.
 */
import { StoreInputError } from "./kv-store.ts";

const INTEGER = 0x01;
const STRING = 0x02;
const encoder = new TextEncoder();

export type KeyPart = string | number;

export function key(...parts: readonly KeyPart[]): Uint8Array {
  const chunks: number[] = [];
  for (const part of parts) {
    if (typeof part === "number") {
      if (!Number.isSafeInteger(part) || part < 0)
        throw new StoreInputError(`a key's integer must be a non-negative safe integer, not ${part}`);
      chunks.push(INTEGER);
      // Big-endian in 8 bytes: byte order is numeric order.
      const high = Math.floor(part / 2 ** 32);
      const low = part >>> 0;
      for (const word of [high, low])
        chunks.push((word >>> 24) & 0xff, (word >>> 16) & 0xff, (word >>> 8) & 0xff, word & 0xff);
    } else if (typeof part === "string") {
      chunks.push(STRING);
      for (const byte of encoder.encode(part)) {
        chunks.push(byte);
        if (byte === 0) chunks.push(0xff);
      }
      chunks.push(0, 0);
    } else throw new StoreInputError(`a key part must be a string or an integer, not ${typeof part}`);
  }
  return Uint8Array.from(chunks);
}

/** The key's integer element whose tag is at `offset` (a typed store reads a row's number back from its key). */
export function integerAt(bytes: Uint8Array, offset: number): number {
  if (bytes[offset] !== INTEGER || bytes.length < offset + 9)
    throw new StoreInputError(`no integer element at byte ${offset} of a ${bytes.length}-byte key`);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset + 1, 8);
  return view.getUint32(0) * 2 ** 32 + view.getUint32(4);
}

const decoder = new TextDecoder();

/** Values as JSON bytes: the typed stores' records are small objects. */
export function jsonBytes(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function fromJsonBytes<T>(bytes: Uint8Array): T {
  return JSON.parse(decoder.decode(bytes)) as T;
}
