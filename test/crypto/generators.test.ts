import { keccak_256 } from "@noble/hashes/sha3.js";
import { expect } from "chai";
import fc from "fast-check";

import { CryptoError } from "../../node/crypto/errors.ts";
import type { CryptoErrorCode } from "../../node/crypto/errors.ts";
import { ORDER, bigIntToBytes, bytesToBigInt, mod } from "../../node/crypto/field.ts";
import {
  FIXED_BASE_WINDOW,
  G,
  H,
  evaluateCommitment,
  evaluateCommitmentAtIndexes,
  hashToPoint,
  mulG,
  mulGUnblinded,
  mulH,
  mulHUnblinded,
  mulSmall,
} from "../../node/crypto/generators.ts";
import { affinePoints, Point } from "../../node/crypto/point.ts";
import { evaluatePolynomial } from "../../node/crypto/polynomial.ts";
import { envCount } from "../support/prng.ts";
import { describeOnBackends } from "../support/backends.ts";

// PROPERTY_RUNS=1000 runs more cases; a failure prints fast-check's seed and path, PROPERTY_SEED=<seed> replays it.
const PROPERTY = { numRuns: envCount("PROPERTY_RUNS", 50), seed: envCount("PROPERTY_SEED", 20260417) };

const scalar = fc.bigInt({ min: 0n, max: ORDER - 1n });
const nonZeroScalar = fc.bigInt({ min: 1n, max: ORDER - 1n });
const smallIndex = fc.bigInt({ min: 1n, max: 300n });

// The Torus node's H (torus-common/secp256k1/curve.go), pinned: any change to the derivation breaks compatibility.
const H_X = 0xbd48405ed3251dbb9f783c5a51cbf46016252921b268ebd47d0a0389f7b93cc1n;
const H_Y = 0x8d8aca53b562a88df1b823928ff9ec96ea4daf03346e935544f104fe77898f45n;
const P = Point.Fp.ORDER;

function expectRefusal(action: () => unknown, code: CryptoErrorCode): void {
  expect(action).to.throw(CryptoError).with.property("code", code);
}

/** x³ + 7 mod p: the right-hand side of y² = x³ + 7. */
const curveRhs = (x: bigint): bigint => (((x * x) % P) * x + 7n) % P;
const isSquareModP = (v: bigint): boolean => Point.Fp.pow(v, (P - 1n) / 2n) === 1n;

describeOnBackends(`generators (${PROPERTY.numRuns} runs, seed ${PROPERTY.seed})`, function () {
  describe("H", function () {
    it("is the Torus node's second generator (pinned coordinates)", function () {
      const { x, y } = H.toAffine();
      expect(x).to.equal(H_X);
      expect(y).to.equal(H_Y);
    });

    it("is derived by try-and-increment from keccak256(G.x), one increment, root without parity fix", function () {
      const start = bytesToBigInt(keccak_256(bigIntToBytes(G.toAffine().x, 32)));
      expect(isSquareModP(curveRhs(start)), "the hash itself is not an x-coordinate").to.be.false;
      expect(start + 1n).to.equal(H_X);
      expect(Point.Fp.pow(curveRhs(H_X), (P + 1n) / 4n)).to.equal(H_Y);
      expect(H_Y % 2n, "the odd root is kept as it comes out").to.equal(1n);
      expect(hashToPoint(bigIntToBytes(G.toAffine().x, 32)).equals(H)).to.be.true;
    });

    it("is a valid point distinct from G and from −G", function () {
      expect(() => H.assertValidity()).to.not.throw();
      expect(H.equals(G)).to.be.false;
      expect(H.equals(G.negate())).to.be.false;
    });

    it("hashToPoint always lands on the curve", function () {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), (data) => {
          const point = hashToPoint(data);
          expect(() => point.assertValidity()).to.not.throw();
          const { x, y } = point.toAffine();
          expect((y * y) % P).to.equal(curveRhs(x));
        }),
        PROPERTY,
      );
    });
  });

  describe("fixed-base multiplication", function () {
    it(`uses window ${FIXED_BASE_WINDOW} tables that agree with noble's generic multiplication`, function () {
      fc.assert(
        fc.property(nonZeroScalar, (k) => {
          expect(mulG(k).equals(Point.BASE.multiply(k))).to.be.true;
          expect(mulH(k).equals(H.multiply(k))).to.be.true;
          expect(mulGUnblinded(k).equals(mulG(k))).to.be.true;
          expect(mulHUnblinded(k).equals(mulH(k))).to.be.true;
        }),
        PROPERTY,
      );
    });

    it("handles the edges 0, 1 and q − 1", function () {
      for (const mul of [mulG, mulGUnblinded]) {
        expect(mul(0n).is0()).to.be.true;
        expect(mul(1n).equals(G)).to.be.true;
        expect(mul(ORDER - 1n).equals(G.negate())).to.be.true;
      }
      for (const mul of [mulH, mulHUnblinded]) {
        expect(mul(0n).is0()).to.be.true;
        expect(mul(1n).equals(H)).to.be.true;
        expect(mul(ORDER - 1n).equals(H.negate())).to.be.true;
      }
    });

    it("is linear: (a + b)·G = a·G + b·G", function () {
      fc.assert(
        fc.property(scalar, scalar, (a, b) => {
          expect(mulG(mod(a + b)).equals(mulG(a).add(mulG(b)))).to.be.true;
        }),
        PROPERTY,
      );
    });

    it("refuses non-canonical scalars (q, −1, 2^256, a number)", function () {
      for (const mul of [mulG, mulH, mulGUnblinded, mulHUnblinded]) {
        expectRefusal(() => mul(ORDER), "INVALID_SCALAR");
        expectRefusal(() => mul(-1n), "INVALID_SCALAR");
        expectRefusal(() => mul(1n << 256n), "INVALID_SCALAR");
        expectRefusal(() => mul(5 as unknown as bigint), "INVALID_SCALAR");
      }
    });

    it("leaves noble's base point table alone", function () {
      // Our tables hang off copies of G and H; resizing Point.BASE's would change every other noble user's.
      mulG(7n);
      expect(Point.BASE.equals(G)).to.be.true;
      expect(Point.BASE.multiply(7n).equals(mulG(7n))).to.be.true;
    });
  });

  describe("mulSmall", function () {
    it("agrees with multiplyUnsafe for every small scalar 0..300", function () {
      const point = mulG(123456789n);
      for (let k = 0n; k <= 300n; k++) expect(mulSmall(point, k).equals(point.multiplyUnsafe(k)), `k=${k}`).to.be.true;
    });

    it("agrees with multiplyUnsafe for large scalars (the GLV path)", function () {
      fc.assert(
        fc.property(fc.bigInt({ min: 1n << 40n, max: ORDER - 1n }), (k) => {
          expect(mulSmall(H, k).equals(H.multiplyUnsafe(k))).to.be.true;
        }),
        { ...PROPERTY, numRuns: Math.min(PROPERTY.numRuns, 20) },
      );
    });

    it("accepts the point at infinity (an intermediate of Horner's rule can be)", function () {
      expect(mulSmall(Point.ZERO, 9n).is0()).to.be.true;
    });

    it("refuses a non-point and a non-canonical scalar", function () {
      expectRefusal(() => mulSmall({ x: 1n, y: 2n } as unknown as Point, 3n), "INVALID_POINT");
      expectRefusal(() => mulSmall(G, ORDER), "INVALID_SCALAR");
      expectRefusal(() => mulSmall(G, -3n), "INVALID_SCALAR");
    });
  });

  describe("affinePoints", function () {
    it("gives the same points with Z = 1, in order, with one inversion for all", function () {
      const projective = [3n, 5n, 7n].map((k) => G.multiply(k).add(G)); // sums: Z ≠ 1
      expect(projective.some((p) => p.Z !== 1n)).to.equal(true);
      const affine = affinePoints(projective);
      expect(affine.map((p) => p.Z)).to.deep.equal([1n, 1n, 1n]);
      affine.forEach((p, i) => expect(p.equals(projective[i]!)).to.equal(true));
      expect(affinePoints([])).to.deep.equal([]);
    });
  });

  describe("evaluateCommitment", function () {
    it("is g^{f(x)} for a Feldman commitment: Σ_j C_j·x^j by Horner's rule", function () {
      fc.assert(
        fc.property(fc.array(nonZeroScalar, { minLength: 1, maxLength: 5 }), smallIndex, (f, x) => {
          const commitment = f.map((a) => mulGUnblinded(a));
          expect(evaluateCommitment(commitment, x).equals(mulG(evaluatePolynomial(f, x)))).to.be.true;
        }),
        PROPERTY,
      );
    });

    it("agrees with the direct sum Σ_j C_j·(x^j mod q), also at large x", function () {
      const commitment = [3n, 5n, 7n, 11n].map((a) => mulH(a));
      for (const x of [1n, 2n, 255n, 1n << 70n, ORDER - 1n]) {
        let direct = Point.ZERO;
        commitment.forEach((c, j) => (direct = direct.add(c.multiplyUnsafe(Point.Fn.pow(x, BigInt(j))))));
        expect(evaluateCommitment(commitment, x).equals(direct), `x=${x}`).to.be.true;
      }
    });

    it("at every index 1..n by forward differences agrees with Horner's rule at each, for degrees 0 to 7", function () {
      fc.assert(
        fc.property(
          fc.array(nonZeroScalar, { minLength: 1, maxLength: 8 }),
          fc.integer({ min: 0, max: 12 }),
          (f, count) => {
            const commitment = f.map((a) => mulGUnblinded(a));
            const values = evaluateCommitmentAtIndexes(commitment, count);
            expect(values).to.have.length(count);
            values.forEach((value, m) => {
              const x = BigInt(m + 1);
              expect(value.equals(evaluateCommitment(commitment, x)), `x=${x}`).to.be.true;
              expect(value.equals(mulG(evaluatePolynomial(f, x))), `x=${x}`).to.be.true;
            });
          },
        ),
        { ...PROPERTY, numRuns: Math.min(PROPERTY.numRuns, 30) },
      );
    });

    it("at every index refuses what evaluateCommitment refuses, and a count that is not a count", function () {
      expectRefusal(() => evaluateCommitmentAtIndexes([], 3), "INVALID_LENGTH");
      expectRefusal(() => evaluateCommitmentAtIndexes([G, Point.ZERO], 3), "INVALID_POINT");
      expectRefusal(() => evaluateCommitmentAtIndexes([G, new Point(1n, 1n, 1n)], 3), "INVALID_POINT");
      for (const count of [-1, 1.5, Number.NaN])
        expectRefusal(() => evaluateCommitmentAtIndexes([G], count), "INVALID_LENGTH");
    });

    it("refuses an empty commitment, the point at infinity and a point off the curve", function () {
      expectRefusal(() => evaluateCommitment([], 1n), "INVALID_LENGTH");
      expectRefusal(() => evaluateCommitment([G, Point.ZERO], 1n), "INVALID_POINT");
      expectRefusal(() => evaluateCommitment([G, new Point(1n, 1n, 1n)], 1n), "INVALID_POINT");
      expectRefusal(() => evaluateCommitment([G], ORDER), "INVALID_SCALAR");
    });
  });
});
