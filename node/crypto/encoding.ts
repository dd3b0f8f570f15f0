/**
 * Hex conventions of the Torus legacy JSON-RPC, so that our nodes return byte-identical JSON to each other and to what
 * `@toruslabs/torus.js@8.0.1` expects (torus-node-v0.10.4.md §0, §2; torus-js-client.md §2, §9).
 *
 * - Big integers (key indexes, public key coordinates `X`/`Y`, `pub_key_X`/`pub_key_Y`, `nodepubx`/`nodepuby`) are
 *   Go's `big.Int.Text(16)` as the node's `bijson` codec wrote them: lowercase hex, no `0x`, no zero padding, `"0"` for
 *   zero. Clients compare whole results as strings across nodes (thresholdSame), so every node must print a value the
 *   same way: `toLegacyHex` is the only writer.
 * - Reading is by value: `parseLegacyHex` accepts leading zeros (torus.js sends `temppubx`/`temppuby` padded to 64 hex
 *   chars) and either letter case (Go's `SetString(s, 16)` did too, and case cannot make two different values), but
 *   no `0x`, sign, whitespace or empty string: Go's `SetString(s, 16)` refused a `0x` prefix, so accepting it would
 *   only widen what an attacker can send. The length is bounded before any conversion, so a megabyte of digits is
 *   refused without being parsed.
 * - Byte strings of a fixed size (ECIES `iv`, `ephemPublicKey`, `mac`, signatures) are lowercase hex of exactly that
 *   size, no `0x`: `toHex` / `parseFixedHex`. `toFixedHex` pads an integer to a width, as torus.js does for its temp key.
 *
 * Every refusal is a CryptoError naming the field, so a JSON-RPC error can tell the client which parameter was bad.
 *
 * And the canonical JSON every node hashes and signs alike (blocks, transactions, votes, moved records, configs).
 */
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";

import { CryptoError } from "./errors.ts";
import { bigIntToBytes } from "./field.ts";
import { assertPoint, pointFromCoordinates, type Point } from "./point.ts";

const HEX_ANY_CASE = /^[0-9a-fA-F]+$/;
const HEX_LOWER = /^[0-9a-f]*$/;

/** The legacy form of a non-negative integer: lowercase hex, no `0x`, no padding, "0" for zero. */
export function toLegacyHex(value: bigint): string {
  if (typeof value !== "bigint" || value < 0n) {
    throw new CryptoError("INVALID_SCALAR", `legacy hex needs a non-negative bigint, got ${String(value)}`);
  }
  return value.toString(16);
}

export interface LegacyHexOptions {
  /** The largest value allowed is 2^(8·maxBytes) − 1; the text may hold at most 2·maxBytes digits. */
  maxBytes: number;
}

/** Parses a legacy hex integer (see the header for what is accepted). `field` names the input in the error. */
export function parseLegacyHex(text: unknown, field: string, { maxBytes }: LegacyHexOptions): bigint {
  if (typeof text !== "string") throw new CryptoError("INVALID_ENCODING", `${field} must be a hex string`);
  if (text.length === 0) throw new CryptoError("INVALID_ENCODING", `${field} must not be empty`);
  // Checked before the regex so an oversized string costs nothing beyond its length.
  if (text.length > 2 * maxBytes) {
    throw new CryptoError("INVALID_LENGTH", `${field} has ${text.length} hex digits, at most ${2 * maxBytes} allowed`);
  }
  if (!HEX_ANY_CASE.test(text)) {
    throw new CryptoError("INVALID_ENCODING", `${field} must be hex digits only (no 0x, sign or spaces)`);
  }
  return BigInt("0x" + text);
}

/** An integer as exactly 2·bytes lowercase hex digits, zero-padded. */
export function toFixedHex(value: bigint, bytes: number): string {
  return toHex(bigIntToBytes(value, bytes));
}

/** Lowercase hex of bytes, no `0x`. */
export function toHex(bytes: Uint8Array): string {
  return bytesToHex(bytes);
}

/**
 * Parses lowercase hex of exactly `bytes` bytes. Lowercase only: these fields are echoed and compared (a MAC, an
 * ephemeral key), and one spelling per value keeps that simple.
 */
export function parseFixedHex(text: unknown, field: string, bytes: number): Uint8Array {
  if (typeof text !== "string") throw new CryptoError("INVALID_ENCODING", `${field} must be a hex string`);
  if (text.length !== 2 * bytes) {
    throw new CryptoError("INVALID_LENGTH", `${field} must be ${2 * bytes} hex digits (${bytes} bytes)`);
  }
  return decodeLowerHex(text, field);
}

/** Parses lowercase hex of any even length up to `maxBytes` bytes. */
export function parseHexBytes(text: unknown, field: string, { maxBytes }: LegacyHexOptions): Uint8Array {
  if (typeof text !== "string") throw new CryptoError("INVALID_ENCODING", `${field} must be a hex string`);
  if (text.length > 2 * maxBytes) {
    throw new CryptoError("INVALID_LENGTH", `${field} has ${text.length} hex digits, at most ${2 * maxBytes} allowed`);
  }
  if (text.length % 2 !== 0) throw new CryptoError("INVALID_LENGTH", `${field} must have an even number of digits`);
  return decodeLowerHex(text, field);
}

/** A public key as the legacy `{X, Y}` pair of unpadded hex coordinates. */
export function pointToLegacy(point: Point): { X: string; Y: string } {
  assertPoint(point, "point");
  const { x, y } = point.toAffine();
  return { X: toLegacyHex(x), Y: toLegacyHex(y) };
}

/** A public key from legacy hex coordinates, checked to be a finite point on secp256k1. */
export function pointFromLegacy(x: unknown, y: unknown, field: string): Point {
  return pointFromCoordinates(
    parseLegacyHex(x, `${field}.X`, { maxBytes: 32 }),
    parseLegacyHex(y, `${field}.Y`, { maxBytes: 32 }),
    field,
  );
}

function decodeLowerHex(text: string, field: string): Uint8Array {
  if (!HEX_LOWER.test(text)) throw new CryptoError("INVALID_ENCODING", `${field} must be lowercase hex, no 0x`);
  return hexToBytes(text);
}

/**
 * JSON with object keys sorted at every level and no whitespace, so that every honest node gets identical bytes for
 * the same data; only plain data (no bigint or functions), and a key whose value is undefined is left out.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}
