import { bytesToHex } from "@noble/hashes/utils.js";
import { expect } from "chai";
import fc from "fast-check";

import { CryptoError } from "../../node/crypto/errors.ts";
import type { CryptoErrorCode } from "../../node/crypto/errors.ts";
import { ORDER } from "../../node/crypto/field.ts";
import {
  G,
  Point,
  assertPoint,
  computedPoint,
  decodePoint,
  derivedPoint,
  decodePointHex,
  encodedPoint,
  encodedPoints,
} from "../../node/crypto/point.ts";
import { envCount } from "../support/prng.ts";

const PROPERTY = { numRuns: envCount("PROPERTY_RUNS", 50), seed: envCount("PROPERTY_SEED", 20260417) };
const P = Point.Fp.ORDER;
const scalar = fc.bigInt({ min: 1n, max: ORDER - 1n });
const hex32 = (v: bigint) => v.toString(16).padStart(64, "0");

function expectRefusal(action: () => unknown, code: CryptoErrorCode): void {
  expect(action).to.throw(CryptoError).with.property("code", code);
}

/** Whether noble's own decoder takes the bytes: the reference the fast check must agree with. */
function nobleTakes(bytes: Uint8Array): boolean {
  try {
    Point.fromBytes(bytes).assertValidity();
    return true;
  } catch {
    return false;
  }
}

describe(`points: decoding and encodings (${PROPERTY.numRuns} runs, seed ${PROPERTY.seed})`, function () {
  it("decodes what noble encodes, from bytes and from hex, and remembers the encoding", function () {
    fc.assert(
      fc.property(scalar, (k) => {
        const point = G.multiply(k);
        const bytes = point.toBytes(false);
        for (const decoded of [decodePoint(bytes, "p"), decodePointHex(bytesToHex(bytes), "p")]) {
          expect(decoded.equals(point)).to.be.true;
          expect(decoded.Z).to.equal(1n);
          expect(bytesToHex(encodedPoint(decoded))).to.equal(bytesToHex(bytes));
          expect(() => assertPoint(decoded, "p")).not.to.throw();
        }
      }),
      PROPERTY,
    );
  });

  it("takes exactly the 65-byte strings noble takes: random ones, off-curve y and coordinates ≥ p", function () {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), scalar, (tail, k) => {
        const random = Uint8Array.of(4, ...tail);
        const { x, y } = G.multiply(k).toAffine();
        const candidates = [
          random,
          Uint8Array.from(Buffer.from(`04${hex32(x)}${hex32((y + 1n) % P)}`, "hex")),
          Uint8Array.from(Buffer.from(`04${hex32(x)}${hex32(y + P < 2n ** 256n ? y + P : y)}`, "hex")),
        ];
        for (const bytes of candidates) {
          const takes = nobleTakes(bytes);
          if (takes) expect(decodePoint(bytes, "p").equals(Point.fromBytes(bytes))).to.be.true;
          else expectRefusal(() => decodePoint(bytes, "p"), "INVALID_POINT");
          if (!takes) expectRefusal(() => decodePointHex(bytesToHex(bytes), "p"), "INVALID_POINT");
        }
      }),
      PROPERTY,
    );
  });

  it("refuses other encodings, naming the field: compressed, short, another prefix, uppercase or non-hex", function () {
    const bytes = G.toBytes(false);
    const hex = bytesToHex(bytes);
    expectRefusal(() => decodePoint(G.toBytes(true), "p"), "INVALID_ENCODING");
    expectRefusal(() => decodePoint(bytes.subarray(0, 64), "p"), "INVALID_ENCODING");
    expectRefusal(() => decodePoint(Uint8Array.of(6, ...bytes.subarray(1)), "p"), "INVALID_ENCODING");
    for (const bad of [
      hex.toUpperCase(),
      hex.slice(0, 128),
      `05${hex.slice(2)}`,
      `${hex.slice(0, 128)}zz`,
      ` ${hex.slice(1)}`,
    ]) {
      expect(() => decodePointHex(bad, "shareKey[3]"))
        .to.throw(CryptoError, "shareKey[3]")
        .with.property("code", "INVALID_ENCODING");
    }
    expect(() => decodePointHex(`04${hex32(0n)}${hex32(0n)}`, "C[1][2]"))
      .to.throw(CryptoError, "C[1][2] is not on secp256k1")
      .with.property("code", "INVALID_POINT");
  });

  it("still refuses points that were never decoded: off the curve, at infinity, not a point", function () {
    expectRefusal(() => assertPoint(new Point(1n, 1n, 1n), "p"), "INVALID_POINT");
    expectRefusal(() => assertPoint(Point.ZERO, "p"), "INVALID_POINT");
    expectRefusal(() => assertPoint({ X: 1n }, "p"), "INVALID_POINT");
  });

  it("takes a backend's output as it is: the same point, checked, with its very encoding", function () {
    fc.assert(
      fc.property(scalar, (k) => {
        const bytes = G.multiply(k).toBytes(false);
        const point = computedPoint(bytes);
        expect(point.equals(G.multiply(k))).to.be.true;
        expect(encodedPoint(point)).to.equal(bytes);
        expect(() => assertPoint(point, "p")).not.to.throw();
      }),
      { ...PROPERTY, numRuns: Math.min(PROPERTY.numRuns, 20) },
    );
  });

  it("takes a point derived by the group law as checked, and refuses the point at infinity", function () {
    const sum = G.multiply(5n).add(G.multiply(7n)); // projective, never checked
    expect(derivedPoint(sum)).to.equal(sum);
    expect(sum.equals(G.multiply(12n))).to.be.true;
    expect(() => assertPoint(sum, "p")).not.to.throw();
    expectRefusal(() => derivedPoint(G.subtract(G)), "INVALID_POINT");
  });

  it("encodes projective points together, as noble does one by one, and keeps decoded encodings", function () {
    const projective = [3n, 5n, 7n].map((k) => G.multiply(k).add(G));
    const decoded = decodePoint(G.multiply(11n).toBytes(false), "p");
    const points = [projective[0]!, decoded, projective[1]!, projective[2]!];
    const encoded = encodedPoints(points);
    expect(encoded.map(bytesToHex)).to.deep.equal(points.map((p) => bytesToHex(p.toBytes(false))));
    expect(encodedPoints(points)[0], "remembered").to.equal(encoded[0]);
    expect(encodedPoint(decoded)).to.equal(encoded[1]);
    expect(encodedPoints([])).to.deep.equal([]);
  });
});
