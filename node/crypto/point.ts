/**
 * Points of secp256k1 and their checks. On the wire points are uncompressed (decompression costs a square root,
 * about 20x an uncompressed decode); the legacy JSON-RPC carries them as separate X and Y hex fields.
 */
import { normalizeZ } from "@noble/curves/abstract/curve.js";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";

import { CryptoError } from "./errors.ts";

export const Point = secp256k1.Point;
export type Point = InstanceType<typeof secp256k1.Point>;

/** The generator G. */
export const G: Point = Point.BASE;

/**
 * Points known to be finite points of the curve: decoded here, or asserted once. Points are immutable (noble freezes
 * them), so a check holds for good; it saves noble's own check, ≈ 10 µs a point, when a verifier asserts the
 * commitments it has just decoded.
 */
const checked = new WeakSet<Point>();

/** Asserts a point on the curve that is not the point at infinity. `field` names the input in the error. */
export function assertPoint(value: unknown, field: string): asserts value is Point {
  if (!(value instanceof Point)) throw new CryptoError("INVALID_POINT", `${field} is not a curve point`);
  if (checked.has(value)) return;
  if (value.is0()) throw new CryptoError("INVALID_POINT", `${field} is the point at infinity`);
  try {
    value.assertValidity();
  } catch (error) {
    throw new CryptoError("INVALID_POINT", `${field} is not on secp256k1`, { cause: error });
  }
  checked.add(value);
}

/** The point with affine coordinates (x, y), checked to be on the curve and finite. */
export function pointFromCoordinates(x: bigint, y: bigint, field: string): Point {
  let point: Point;
  try {
    point = Point.fromAffine({ x, y });
  } catch (error) {
    throw new CryptoError("INVALID_POINT", `${field} (${x.toString(16)}, ${y.toString(16)}) is not a point`, {
      cause: error,
    });
  }
  assertPoint(point, field);
  return point;
}

/** 65 bytes: 0x04 ‖ x ‖ y. */
export function encodePoint(point: Point): Uint8Array {
  assertPoint(point, "point");
  return point.toBytes(false);
}

/** Decodes an uncompressed point (65 bytes, 0x04 prefix) and checks it; compressed forms are refused. */
export function decodePoint(bytes: Uint8Array, field: string): Point {
  if (bytes.length !== 65 || bytes[0] !== 0x04) {
    throw new CryptoError("INVALID_ENCODING", `${field} must be a 65-byte uncompressed point (0x04 ‖ x ‖ y)`);
  }
  return decodeChecked(bytesToHex(bytes), bytes.slice(), field);
}

const UNCOMPRESSED_HEX = /^04[0-9a-f]{128}$/;

/** `decodePoint` of the lowercase hex of the 65-byte encoding (the wire's form of a point). */
export function decodePointHex(hex: string, field: string): Point {
  if (typeof hex !== "string" || !UNCOMPRESSED_HEX.test(hex)) {
    throw new CryptoError(
      "INVALID_ENCODING",
      `${field} must be the lowercase hex of an uncompressed point (04 ‖ x ‖ y)`,
    );
  }
  return decodeChecked(hex, hexToBytes(hex), field);
}

const P = Point.Fp.ORDER;
const B = 7n;

/**
 * The point of the hex (of `bytes`), checked: coordinates below p and y² = x³ + 7 (mod p); it is then a point of
 * the prime-order group (secp256k1's cofactor is 1) and not the point at infinity, which has no such encoding. The
 * check is four products of plain integers and one reduction, where noble's `fromBytes` spends ≈ 10 µs in its field
 * arithmetic; a verifier decodes every commitment a dealer sends.
 */
function decodeChecked(hex: string, bytes: Uint8Array, field: string): Point {
  const x = BigInt("0x" + hex.slice(2, 66));
  const y = BigInt("0x" + hex.slice(66, 130));
  if (x >= P || y >= P || (y * y - x * x * x - B) % P !== 0n) {
    throw new CryptoError("INVALID_POINT", `${field} is not on secp256k1`);
  }
  const point = new Point(x, y, 1n);
  checked.add(point);
  encodings.set(point, bytes);
  return point;
}

/**
 * Encodings of decoded points, by point: a native backend takes points as bytes (backend.ts `sumOfProducts`), and a
 * verifier hands it the commitments it decoded from a peer's message. Points are immutable (noble freezes them).
 */
const encodings = new WeakMap<Point, Uint8Array>();

/**
 * The point a curve backend computed, from its 65-byte uncompressed encoding: valid by construction (libsecp256k1
 * outputs only points of the curve), so it is not checked again but remembered as checked and with its encoding,
 * which a dealer's commitments are sent in. Never for bytes from a peer: those go through `decodePoint`.
 */
export function computedPoint(bytes: Uint8Array): Point {
  const point = trustedPoint(bytesToHex(bytes));
  encodings.set(point, bytes);
  return point;
}

/**
 * A point this process computed by the group law from checked points (a committed polynomial evaluated at an index,
 * say): on the curve by closure, so only the point at infinity is refused. Remembered as checked, which saves noble's
 * curve-equation check when a verifier asserts it.
 */
export function derivedPoint(point: Point): Point {
  if (point.is0()) throw new CryptoError("INVALID_POINT", "a derived point is the point at infinity");
  checked.add(point);
  return point;
}

/**
 * A point this process decoded (and checked) or computed itself, from its hex as it crosses to another of its threads
 * (node/dkg/checks.ts): not checked again, but remembered as checked. Never for hex from a peer: that goes through
 * `decodePointHex`.
 */
export function ownPointHex(hex: string): Point {
  return trustedPoint(hex);
}

/** The point of an uncompressed encoding's hex that this process knows to be valid, remembered as checked. */
function trustedPoint(hex: string): Point {
  const point = new Point(BigInt("0x" + hex.slice(2, 66)), BigInt("0x" + hex.slice(66, 130)), 1n);
  checked.add(point);
  return point;
}

/**
 * The encodings of finite points, remembered or computed, with one field inversion for all the points not in affine
 * form (Montgomery's trick). Not copies: the caller must not change them.
 */
export function encodedPoints(points: readonly Point[]): Uint8Array[] {
  const out = points.map((point) => encodings.get(point));
  const missing = out.flatMap((bytes, n) => (bytes === undefined ? [n] : []));
  if (missing.length > 0) {
    const affine = affinePoints(missing.map((n) => points[n]!));
    for (const [m, n] of missing.entries()) {
      encodings.set(points[n]!, (out[n] = encodePoint(affine[m]!)));
    }
  }
  return out as Uint8Array[];
}

/** The 65-byte uncompressed encoding of a finite point, without a copy: the caller must not change it. */
export function encodedPoint(point: Point): Uint8Array {
  let bytes = encodings.get(point);
  if (bytes === undefined) encodings.set(point, (bytes = encodePoint(point)));
  return bytes;
}

/**
 * The same points in affine coordinates, with one field inversion for all (Montgomery's trick) instead of one each:
 * encoding a point, or handing it to the native backend, needs its affine coordinates.
 */
export function affinePoints(points: readonly Point[]): Point[] {
  return points.length === 0 ? [] : normalizeZ(Point, [...points]);
}
