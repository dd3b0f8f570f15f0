import { expect } from "chai";
import fc from "fast-check";

import { CryptoError } from "../../node/crypto/errors.ts";
import type { CryptoErrorCode } from "../../node/crypto/errors.ts";
import { ORDER } from "../../node/crypto/field.ts";
import type { Rng } from "../../node/crypto/field.ts";
import { evaluatePolynomial, interpolatePolynomial, randomPolynomial } from "../../node/crypto/polynomial.ts";
import { Prng, envCount } from "../support/prng.ts";

// PROPERTY_RUNS=10000 runs more cases; a failure prints fast-check's seed and path, PROPERTY_SEED=<seed> replays it.
const PROPERTY = { numRuns: envCount("PROPERTY_RUNS", 100), seed: envCount("PROPERTY_SEED", 20260417) };

const scalar = fc.bigInt({ min: 0n, max: ORDER - 1n });
// Small indexes as nodes use them (1..n), and any index in [1, q) to reach the edges of the field.
const index = fc.oneof(fc.bigInt({ min: 1n, max: 30n }), fc.bigInt({ min: 1n, max: ORDER - 1n }));

/** A reproducible Rng for tests (never for secrets). */
function seededRng(seed: number): Rng {
  const prng = new Prng(seed);
  return (bytes) => Uint8Array.from({ length: bytes }, () => prng.nextUint32() & 0xff);
}

function expectRefusal(action: () => unknown, code: CryptoErrorCode): void {
  expect(action).to.throw(CryptoError).with.property("code", code);
}

describe(`polynomial (${PROPERTY.numRuns} runs, seed ${PROPERTY.seed})`, function () {
  describe("evaluatePolynomial", function () {
    it("evaluates by Horner's rule, mod q", function () {
      expect(evaluatePolynomial([3n, 2n, 1n], 5n)).to.equal(38n);
      expect(evaluatePolynomial([ORDER - 1n, 1n], 1n)).to.equal(0n);
      expect(evaluatePolynomial([], 7n)).to.equal(0n);
    });
  });

  describe("randomPolynomial", function () {
    it("has the constant at x = 0 and degree + 1 canonical coefficients", function () {
      fc.assert(
        fc.property(scalar, fc.integer({ min: 0, max: 12 }), fc.integer(), (constant, degree, seed) => {
          const f = randomPolynomial(constant, degree, seededRng(seed));
          expect(f).to.have.length(degree + 1);
          expect(evaluatePolynomial(f, 0n)).to.equal(constant);
          for (const coefficient of f) expect(coefficient >= 0n && coefficient < ORDER).to.be.true;
        }),
        PROPERTY,
      );
    });

    it("draws its coefficients from the injected rng only", function () {
      expect(randomPolynomial(5n, 4, seededRng(1))).to.deep.equal(randomPolynomial(5n, 4, seededRng(1)));
      expect(randomPolynomial(5n, 4, seededRng(1))).to.not.deep.equal(randomPolynomial(5n, 4, seededRng(2)));
    });

    it("refuses a constant that is not a canonical scalar", function () {
      const rng = seededRng(0);
      expectRefusal(() => randomPolynomial(ORDER, 2, rng), "INVALID_SCALAR");
      expectRefusal(() => randomPolynomial(-1n, 2, rng), "INVALID_SCALAR");
      expectRefusal(() => randomPolynomial(1 as unknown as bigint, 2, rng), "INVALID_SCALAR");
    });

    it("refuses a negative or fractional degree", function () {
      expectRefusal(() => randomPolynomial(1n, -1, seededRng(0)), "INVALID_LENGTH");
      expectRefusal(() => randomPolynomial(1n, 1.5, seededRng(0)), "INVALID_LENGTH");
    });
  });

  describe("interpolatePolynomial", function () {
    it("round-trips: degree + 1 values of a polynomial give back its coefficients", function () {
      fc.assert(
        fc.property(fc.uniqueArray(index, { minLength: 1, maxLength: 13 }), scalar, fc.integer(), (xs, c, seed) => {
          const f = randomPolynomial(c, xs.length - 1, seededRng(seed));
          const points = xs.map((x) => ({ x, y: evaluatePolynomial(f, x) }));
          expect(interpolatePolynomial(points)).to.deep.equal(f);
        }),
        PROPERTY,
      );
    });

    it("pads with zero coefficients when given more points than degree + 1", function () {
      fc.assert(
        fc.property(fc.uniqueArray(index, { minLength: 3, maxLength: 13 }), scalar, fc.integer(), (xs, c, seed) => {
          const f = randomPolynomial(c, 1, seededRng(seed));
          const points = xs.map((x) => ({ x, y: evaluatePolynomial(f, x) }));
          expect(interpolatePolynomial(points)).to.deep.equal([...f, ...new Array<bigint>(xs.length - 2).fill(0n)]);
        }),
        PROPERTY,
      );
    });

    it("goes through every given point, whatever the values", function () {
      const points = fc.uniqueArray(fc.record({ x: index, y: scalar }), {
        minLength: 1,
        maxLength: 13,
        selector: (point) => point.x,
      });
      fc.assert(
        fc.property(points, (points) => {
          const f = interpolatePolynomial(points);
          expect(f).to.have.length(points.length);
          for (const { x, y } of points) expect(evaluatePolynomial(f, x)).to.equal(y);
        }),
        PROPERTY,
      );
    });

    it("refuses share index 0, which would reveal f(0)", function () {
      expectRefusal(
        () =>
          interpolatePolynomial([
            { x: 0n, y: 5n },
            { x: 1n, y: 6n },
          ]),
        "INVALID_INDEX",
      );
    });

    it("refuses an index ≡ 0 mod q", function () {
      for (const x of [ORDER, 2n * ORDER, -ORDER]) {
        expectRefusal(
          () =>
            interpolatePolynomial([
              { x, y: 5n },
              { x: 1n, y: 6n },
            ]),
          "INVALID_INDEX",
        );
      }
    });

    it("refuses duplicate indexes", function () {
      expectRefusal(
        () =>
          interpolatePolynomial([
            { x: 2n, y: 5n },
            { x: 2n, y: 6n },
          ]),
        "DUPLICATE_INDEX",
      );
    });

    it("refuses a value ≥ q", function () {
      expectRefusal(
        () =>
          interpolatePolynomial([
            { x: 1n, y: ORDER + 5n },
            { x: 2n, y: 6n },
          ]),
        "INVALID_SCALAR",
      );
      expectRefusal(() => interpolatePolynomial([{ x: 1n, y: -1n }]), "INVALID_SCALAR");
    });

    it("refuses an empty list of points", function () {
      expectRefusal(() => interpolatePolynomial([]), "INVALID_LENGTH");
    });
  });
});
