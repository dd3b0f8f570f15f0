/**
 * Points of secp256k1 and their checks. On the wire points are uncompressed (decompression costs a square root,
 * about 20x an uncompressed decode); the legacy JSON-RPC carries them as separate X and Y hex fields.
 */
import { normalizeZ } from "@noble/curves/abstract/curve.js";
import { secp256k1 } from "@noble/curves/secp256k1.js";

import { CryptoError } from "./errors.ts";

export const Point = secp256k1.Point;
export type Point = InstanceType<typeof secp256k1.Point>;

/** The generator G. */
export const G: Point = Point.BASE;

/** Asserts a point on the curve that is not the point at infinity. `field` names the input in the error. */
export function assertPoint(value: unknown, field: string): asserts value is Point {
  if (!(value instanceof Point)) throw new CryptoError("INVALID_POINT", `${field} is not a curve point`);
  if (value.is0()) throw new CryptoError("INVALID_POINT", `${field} is the point at infinity`);
  try {
    value.assertValidity();
  } catch (error) {
    throw new CryptoError("INVALID_POINT", `${field} is not on secp256k1`, { cause: error });
  }
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
  let point: Point;
  try {
    point = Point.fromBytes(bytes);
  } catch (error) {
    throw new CryptoError("INVALID_POINT", `${field} is not on secp256k1`, { cause: error });
  }
  assertPoint(point, field);
  encodings.set(point, bytes.slice());
  return point;
}

/**
 * Encodings of decoded points, by point: a native backend takes points as bytes (backend.ts `sumOfProducts`), and a
 * verifier hands it the commitments it decoded from a peer's message. Points are immutable (noble freezes them).
 */
const encodings = new WeakMap<Point, Uint8Array>();

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
