import { expect } from "chai";
import fc from "fast-check";

import { curveBackend, installCurveBackend, nobleBackend, type CurveBackend } from "../../node/crypto/backend.ts";
import { ORDER, bigIntToBytes } from "../../node/crypto/field.ts";
import { G, H } from "../../node/crypto/generators.ts";
import { Point } from "../../node/crypto/point.ts";
import { signTorus } from "../../node/crypto/signature.ts";
import { CryptoBackendError, selectCurveBackend } from "../../node/native/select.ts";
import { nativeBackend, nativeLoad } from "../support/backends.ts";
import { envCount } from "../support/prng.ts";

const PROPERTY = { numRuns: envCount("PROPERTY_RUNS", 50), seed: envCount("PROPERTY_SEED", 20260417) };
const scalar = fc.bigInt({ min: 1n, max: ORDER - 1n });
const digest = fc.uint8Array({ minLength: 32, maxLength: 32 });
const bytesEqual = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

describe(`curve backends: native libsecp256k1 against noble (${PROPERTY.numRuns} runs, seed ${PROPERTY.seed})`, function () {
  let native: CurveBackend;
  let previous: CurveBackend;
  before(function () {
    native = nativeBackend();
    previous = curveBackend();
  });
  after(() => installCurveBackend(previous));

  it("is native for every test file (test/support/native-backend-hook.ts), as in a node", function () {
    expect(previous.name).to.equal("native");
  });

  describe("the native addon", function () {
    it("is the compiled libsecp256k1 binding, not the package's pure-JS elliptic fallback", function () {
      const load = nativeLoad();
      expect(load.ok, load.ok ? "" : load.reason).to.equal(true);
      if (!load.ok) return;
      expect(load.binary).to.match(/\.node$/);
      expect(load.backend.name).to.equal("native");
    });
  });

  describe("byte for byte", function () {
    it("k·G, k·H and k·P are the same points", function () {
      const nobleG = nobleBackend.fixedBase(G);
      const nativeG = native.fixedBase(G);
      const nobleH = nobleBackend.fixedBase(H);
      const nativeH = native.fixedBase(H);
      fc.assert(
        fc.property(scalar, scalar, (k, p) => {
          const P = G.multiply(p);
          for (const [a, b] of [
            [nobleG.mul(k), nativeG.mul(k)],
            [nobleG.mulPublic(k), nativeG.mulPublic(k)],
            [nobleH.mul(k), nativeH.mul(k)],
            [nobleH.mulPublic(k), nativeH.mulPublic(k)],
            [nobleBackend.mul(P, k), native.mul(P, k)],
            [nobleBackend.mulPublic(P, k), native.mulPublic(P, k)],
          ] as const) {
            expect(bytesEqual(a.toBytes(false), b.toBytes(false))).to.equal(true);
          }
        }),
        PROPERTY,
      );
    });

    it("sumOfProducts is Σ s·P of noble's arithmetic, for short and full scalars, and undefined at infinity", function () {
      const sum = (points: Uint8Array[], scalars: bigint[]) => native.sumOfProducts!(points, scalars);
      expect("sumOfProducts" in nobleBackend, "noble has no cheap per-point products").to.equal(false);
      fc.assert(
        fc.property(
          fc.array(fc.tuple(scalar, scalar, fc.integer({ min: 1, max: 256 })), { minLength: 1, maxLength: 8 }),
          (terms) => {
            const points = terms.map(([p]) => G.multiply(p));
            const scalars = terms.map(([, s, bits]) => s >> BigInt(256 - bits) || 1n);
            const expected = points.reduce((acc, P, n) => acc.add(P.multiply(scalars[n]!)), Point.ZERO);
            const got = sum(
              points.map((P) => P.toBytes(false)),
              scalars,
            );
            if (expected.is0()) expect(got).to.equal(undefined);
            else expect(bytesEqual(got!.toBytes(false), expected.toBytes(false))).to.equal(true);
          },
        ),
        PROPERTY,
      );
      const P = H.toBytes(false);
      expect(sum([P, P], [5n, ORDER - 5n])).to.equal(undefined);
      expect(sum([P], [ORDER - 1n])!.equals(H.negate())).to.equal(true);
      expect(() => sum([P], [0n]), "a zero scalar is the caller's to drop").to.throw();
      expect(() => sum([P, P], [1n]), "one scalar per point").to.throw(RangeError);
    });

    it("k·G at the edges of the scalar range (1, 2, q − 1) agrees", function () {
      for (const k of [1n, 2n, ORDER - 1n]) {
        expect(native.fixedBase(G).mul(k).equals(nobleBackend.fixedBase(G).mul(k))).to.equal(true);
        expect(native.mul(H, k).equals(H.multiply(k))).to.equal(true);
      }
      expect(
        native
          .fixedBase(G)
          .mul(ORDER - 1n)
          .equals(G.negate()),
      ).to.equal(true);
    });

    it("ECDSA signatures are identical (RFC 6979 without extra entropy, low-s) and verify and recover on both", function () {
      fc.assert(
        fc.property(scalar, digest, (key, z) => {
          const privateKey = bigIntToBytes(key);
          const a = nobleBackend.sign(z, privateKey);
          const b = native.sign(z, privateKey);
          expect(bytesEqual(a.compact, b.compact)).to.equal(true);
          expect(a.recovery).to.equal(b.recovery);
          const publicKey = G.multiply(key);
          for (const backend of [nobleBackend, native]) {
            expect(backend.verify(z, a.compact, a.recovery, publicKey)).to.equal(true);
            expect(backend.verifier(publicKey)(z, a.compact, a.recovery)).to.equal(true);
            expect(backend.recover(z, a.compact, a.recovery)?.equals(publicKey)).to.equal(true);
          }
        }),
        { ...PROPERTY, numRuns: Math.min(PROPERTY.numRuns, 20) },
      );
    });

    it("the Torus signature of either backend is the same 130 hex characters", function () {
      const key = 0xc0ffee1234567890n;
      installCurveBackend(nobleBackend);
      const bySlow = signTorus(key, "commitment");
      installCurveBackend(native);
      const byNative = signTorus(key, "commitment");
      installCurveBackend(nobleBackend);
      expect(byNative).to.equal(bySlow);
    });

    it("both refuse the same forged signatures: flipped v, high s, wrong digest, another key, r or s out of range", function () {
      const key = 0x5eed5eedn;
      const publicKey = G.multiply(key);
      const z = new Uint8Array(32).fill(9);
      const { compact, recovery } = native.sign(z, bigIntToBytes(key));
      const s = BigInt("0x" + Buffer.from(compact.subarray(32)).toString("hex"));
      const highS = Uint8Array.from(compact);
      highS.set(bigIntToBytes(ORDER - s), 32);
      const zeroR = Uint8Array.from(compact);
      zeroR.fill(0, 0, 32);
      const bigS = Uint8Array.from(compact);
      bigS.fill(0xff, 32, 64);
      const otherZ = new Uint8Array(32).fill(8);
      const cases: [Uint8Array, Uint8Array, number, Point][] = [
        [z, compact, recovery ^ 1, publicKey],
        [z, highS, recovery ^ 1, publicKey],
        [z, highS, recovery, publicKey],
        [otherZ, compact, recovery, publicKey],
        [z, compact, recovery, G.multiply(key + 1n)],
        [z, zeroR, recovery, publicKey],
        [z, bigS, recovery, publicKey],
        [z, compact.subarray(0, 63), recovery, publicKey],
      ];
      for (const [d, c, v, P] of cases) {
        expect(nobleBackend.verify(d, c, v, P)).to.equal(false);
        expect(native.verify(d, c, v, P)).to.equal(false);
        expect(native.verifier(P)(d, c, v)).to.equal(false);
        expect(nobleBackend.verifier(P)(d, c, v)).to.equal(false);
      }
    });
  });

  describe("selection (crypto.backend, crypto.allowSlowFallback)", function () {
    const missing = () => ({ ok: false as const, reason: "the npm package secp256k1 is not installed" });

    it("a node configured for native refuses to start without the addon and says how to get it", function () {
      expect(() => selectCurveBackend({ backend: "native", allowSlowFallback: false }, missing))
        .to.throw(CryptoBackendError)
        .with.property("message")
        .that.matches(/not installed.*npm run build:native.*allowSlowFallback/);
    });

    it("runs on noble, saying why, only when the slow fallback is allowed", function () {
      const selected = selectCurveBackend({ backend: "native", allowSlowFallback: true }, missing);
      expect(selected.backend.name).to.equal("noble");
      expect(selected.fallbackReason).to.match(/not installed/);
    });

    it("selects native when it loads, and noble when configured, without loading the addon", function () {
      expect(selectCurveBackend({ backend: "native", allowSlowFallback: false }).backend.name).to.equal("native");
      const selected = selectCurveBackend({ backend: "noble", allowSlowFallback: false }, () => {
        throw new Error("must not load the addon");
      });
      expect(selected.backend).to.equal(nobleBackend);
    });
  });
});
