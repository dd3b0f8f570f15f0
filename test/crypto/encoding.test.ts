import { expect } from "chai";
import fc from "fast-check";

import {
  canonicalJson,
  parseFixedHex,
  parseHexBytes,
  parseLegacyHex,
  pointFromLegacy,
  pointToLegacy,
  toFixedHex,
  toHex,
  toLegacyHex,
} from "../../node/crypto/encoding.ts";
import { CryptoError, type CryptoErrorCode } from "../../node/crypto/errors.ts";
import { ORDER } from "../../node/crypto/field.ts";
import { G, Point } from "../../node/crypto/point.ts";
import { envCount } from "../support/prng.ts";

const PROPERTY = { numRuns: envCount("PROPERTY_RUNS", 50), seed: envCount("PROPERTY_SEED", 20260417) };

const u256 = fc.bigInt({ min: 0n, max: 2n ** 256n - 1n });
/** The field prime of secp256k1. */
const P = 2n ** 256n - 2n ** 32n - 977n;

function expectRefusal(action: () => unknown, code: CryptoErrorCode, message?: RegExp): void {
  try {
    action();
  } catch (error) {
    expect(error).to.be.instanceOf(CryptoError);
    expect((error as CryptoError).code).to.equal(code);
    if (message) expect((error as CryptoError).message).to.match(message);
    return;
  }
  expect.fail("expected a CryptoError");
}

describe(`encoding: legacy JSON-RPC hex (${PROPERTY.numRuns} runs, seed ${PROPERTY.seed})`, function () {
  describe("toLegacyHex (Go big.Int.Text(16))", function () {
    it("writes lowercase hex without 0x or zero padding, and 0 as '0'", function () {
      expect(toLegacyHex(0n)).to.equal("0");
      expect(toLegacyHex(1n)).to.equal("1");
      expect(toLegacyHex(0xabcn)).to.equal("abc");
      expect(toLegacyHex(0x0fn)).to.equal("f");
      expect(toLegacyHex(2n ** 256n - 1n)).to.equal("f".repeat(64));
    });

    it("is the shortest spelling, and parseLegacyHex reads it back", function () {
      fc.assert(
        fc.property(u256, (value) => {
          const text = toLegacyHex(value);
          expect(text).to.match(/^(0|[1-9a-f][0-9a-f]*)$/);
          expect(parseLegacyHex(text, "v", { maxBytes: 32 })).to.equal(value);
        }),
        PROPERTY,
      );
    });

    it("refuses negative values", function () {
      expectRefusal(() => toLegacyHex(-1n), "INVALID_SCALAR");
    });
  });

  describe("parseLegacyHex", function () {
    it("reads torus.js's 64-digit zero-padded temp key coordinates and uppercase digits by value", function () {
      fc.assert(
        fc.property(u256, (value) => {
          const padded = value.toString(16).padStart(64, "0");
          expect(parseLegacyHex(padded, "temppubx", { maxBytes: 32 })).to.equal(value);
          expect(parseLegacyHex(padded.toUpperCase(), "temppubx", { maxBytes: 32 })).to.equal(value);
        }),
        PROPERTY,
      );
    });

    it("refuses a 0x prefix, signs, spaces and other characters, naming the field", function () {
      for (const bad of ["0x1", "0X1", "-1", "+1", " 1", "1 ", "1\n", "1_0", "g", "１"]) {
        expectRefusal(() => parseLegacyHex(bad, "pub_key_X", { maxBytes: 32 }), "INVALID_ENCODING", /^pub_key_X /);
      }
    });

    it("refuses the empty string and non-strings", function () {
      expectRefusal(() => parseLegacyHex("", "key_index", { maxBytes: 32 }), "INVALID_ENCODING", /key_index/);
      for (const bad of [undefined, null, 1, 1n, ["1"], { X: "1" }]) {
        expectRefusal(() => parseLegacyHex(bad, "key_index", { maxBytes: 32 }), "INVALID_ENCODING", /key_index/);
      }
    });

    it("refuses more than 2·maxBytes digits before parsing, even leading zeros", function () {
      expect(parseLegacyHex("f".repeat(64), "x", { maxBytes: 32 })).to.equal(2n ** 256n - 1n);
      expectRefusal(() => parseLegacyHex("0" + "f".repeat(64), "x", { maxBytes: 32 }), "INVALID_LENGTH", /^x has 65/);
      expectRefusal(() => parseLegacyHex("1".repeat(1_000_000), "x", { maxBytes: 32 }), "INVALID_LENGTH");
      expectRefusal(() => parseLegacyHex("100", "index", { maxBytes: 1 }), "INVALID_LENGTH");
    });
  });

  describe("fixed-width hex", function () {
    it("toFixedHex pads to the width and refuses values that do not fit", function () {
      expect(toFixedHex(1n, 32)).to.equal("0".repeat(63) + "1");
      expect(toFixedHex(0n, 2)).to.equal("0000");
      expectRefusal(() => toFixedHex(2n ** 256n, 32), "INVALID_LENGTH");
    });

    it("toHex / parseFixedHex round-trip bytes of the exact length", function () {
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 1, maxLength: 80 }), (bytes) => {
          const text = toHex(bytes);
          expect(text).to.match(/^[0-9a-f]*$/);
          expect(parseFixedHex(text, "b", bytes.length)).to.deep.equal(bytes);
        }),
        PROPERTY,
      );
    });

    it("toHex respects a subarray's offset", function () {
      expect(toHex(Uint8Array.of(1, 2, 3, 4).subarray(1, 3))).to.equal("0203");
    });

    it("parseFixedHex refuses another length, uppercase, 0x and non-strings", function () {
      expectRefusal(() => parseFixedHex("00".repeat(15), "iv", 16), "INVALID_LENGTH", /^iv must be 32 hex digits/);
      expectRefusal(() => parseFixedHex("00".repeat(17), "iv", 16), "INVALID_LENGTH");
      expectRefusal(() => parseFixedHex("AB".repeat(16), "iv", 16), "INVALID_ENCODING", /^iv must be lowercase/);
      expectRefusal(() => parseFixedHex("0x" + "00".repeat(15), "iv", 16), "INVALID_ENCODING");
      expectRefusal(() => parseFixedHex(new Uint8Array(16), "iv", 16), "INVALID_ENCODING");
    });

    it("parseHexBytes refuses odd lengths and more than maxBytes", function () {
      expect(parseHexBytes("", "c", { maxBytes: 4 })).to.deep.equal(new Uint8Array());
      expect(parseHexBytes("00ff", "c", { maxBytes: 4 })).to.deep.equal(Uint8Array.of(0, 255));
      expectRefusal(() => parseHexBytes("abc", "c", { maxBytes: 4 }), "INVALID_LENGTH", /even/);
      expectRefusal(() => parseHexBytes("00".repeat(5), "c", { maxBytes: 4 }), "INVALID_LENGTH");
      expectRefusal(() => parseHexBytes("zz", "c", { maxBytes: 4 }), "INVALID_ENCODING");
    });
  });

  describe("public keys as legacy {X, Y}", function () {
    it("writes unpadded coordinates and reads them back (also zero-padded)", function () {
      fc.assert(
        fc.property(fc.bigInt({ min: 1n, max: ORDER - 1n }), (key) => {
          const point = G.multiply(key);
          const { X, Y } = pointToLegacy(point);
          const { x, y } = point.toAffine();
          expect([X, Y]).to.deep.equal([x.toString(16), y.toString(16)]);
          expect(pointFromLegacy(X, Y, "PublicKey").equals(point)).to.be.true;
          expect(pointFromLegacy(X.padStart(64, "0"), Y.padStart(64, "0"), "PublicKey").equals(point)).to.be.true;
        }),
        PROPERTY,
      );
    });

    it("refuses an off-curve point, coordinates ≥ p, and the point at infinity", function () {
      const { X, Y } = pointToLegacy(G);
      const y = BigInt("0x" + Y);
      expectRefusal(() => pointFromLegacy(X, toLegacyHex(y + 1n), "PublicKey"), "INVALID_POINT", /PublicKey/);
      expectRefusal(() => pointFromLegacy(X, toLegacyHex(y + P), "PublicKey"), "INVALID_LENGTH", /PublicKey\.Y/);
      expectRefusal(() => pointFromLegacy("0", "0", "PublicKey"), "INVALID_POINT");
      expectRefusal(() => pointToLegacy(Point.ZERO), "INVALID_POINT");
    });

    it("refuses a coordinate in [p, 2^256) that is congruent to a valid one (x + p)", function () {
      // A point with a small x-coordinate, so that x + p still fits in 32 bytes: search x = 1, 2, … for one on the curve.
      let point: Point | undefined;
      for (let x = 1n; point === undefined; x++) {
        try {
          point = Point.fromBytes(Uint8Array.of(0x02, ...Buffer.from(x.toString(16).padStart(64, "0"), "hex")));
        } catch {
          // x³ + 7 is not a square: no point with this x.
        }
      }
      const { X, Y } = pointToLegacy(point);
      const alias = toLegacyHex(BigInt("0x" + X) + P);
      expect(alias).to.have.length(64);
      expect(pointFromLegacy(X, Y, "PublicKey").equals(point)).to.be.true;
      expectRefusal(() => pointFromLegacy(alias, Y, "PublicKey"), "INVALID_POINT");
    });
  });

  describe("canonicalJson", function () {
    it("sorts keys at every level, keeps array order, drops undefined members and has no whitespace", function () {
      const value = { b: [{ y: 1, x: "two" }, 3], a: { d: null, c: true, e: undefined } };
      expect(canonicalJson(value)).to.equal('{"a":{"c":true,"d":null},"b":[{"x":"two","y":1},3]}');
    });

    it("gives the same text for the same data whatever the order its keys were written in", function () {
      fc.assert(
        fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (object) => {
          const reversed = Object.fromEntries(Object.entries(object).reverse());
          expect(canonicalJson(reversed)).to.equal(canonicalJson(object));
          expect(JSON.parse(canonicalJson(object))).to.deep.equal(JSON.parse(JSON.stringify(object)));
        }),
        PROPERTY,
      );
    });
  });
});
