import { expect } from "chai";
import fc from "fast-check";

import {
  bivariateColumn,
  bivariateRow,
  evaluateBivariate,
  randomBivariate,
  randomSymmetricBivariate,
} from "../../node/crypto/bivariate.ts";
import { CryptoError } from "../../node/crypto/errors.ts";
import type { CryptoErrorCode } from "../../node/crypto/errors.ts";
import { ORDER, add, mul } from "../../node/crypto/field.ts";
import type { Rng } from "../../node/crypto/field.ts";
import { reconstructSecret } from "../../node/crypto/lagrange.ts";
import { evaluatePolynomial } from "../../node/crypto/polynomial.ts";
import { Prng, envCount } from "../support/prng.ts";

// PROPERTY_RUNS=10000 runs more cases; a failure prints fast-check's seed and path, PROPERTY_SEED=<seed> replays it.
const PROPERTY = { numRuns: envCount("PROPERTY_RUNS", 100), seed: envCount("PROPERTY_SEED", 20260417) };

const scalar = fc.bigInt({ min: 0n, max: ORDER - 1n });
const index = fc.oneof(fc.bigInt({ min: 1n, max: 30n }), fc.bigInt({ min: 1n, max: ORDER - 1n }));
/** A random polynomial of threshold k ≤ 7, with its secret, and n ≥ k nodes (n ≤ 13). */
const dealing = fc
  .record({
    k: fc.integer({ min: 1, max: 7 }),
    extra: fc.integer({ min: 0, max: 6 }),
    secret: scalar,
    seed: fc.integer(),
  })
  .map(({ k, extra, secret, seed }) => ({ k, n: k + extra, secret, f: randomBivariate(secret, k, seededRng(seed)) }));

/** A reproducible Rng for tests (never for secrets). */
function seededRng(seed: number): Rng {
  const prng = new Prng(seed);
  return (bytes) => Uint8Array.from({ length: bytes }, () => prng.nextUint32() & 0xff);
}

function power(base: bigint, exponent: number): bigint {
  let result = 1n;
  for (let i = 0; i < exponent; i++) result = mul(result, base);
  return result;
}

function expectRefusal(action: () => unknown, code: CryptoErrorCode): void {
  expect(action).to.throw(CryptoError).with.property("code", code);
}

describe(`bivariate (${PROPERTY.numRuns} runs, seed ${PROPERTY.seed})`, function () {
  describe("randomBivariate", function () {
    it("is a k×k matrix of canonical scalars with the secret at f(0, 0)", function () {
      fc.assert(
        fc.property(dealing, ({ k, secret, f }) => {
          expect(f).to.have.length(k);
          for (const row of f) {
            expect(row).to.have.length(k);
            for (const coefficient of row) expect(coefficient >= 0n && coefficient < ORDER).to.be.true;
          }
          expect(f[0]![0]).to.equal(secret);
          expect(evaluateBivariate(f, 0n, 0n)).to.equal(secret);
        }),
        PROPERTY,
      );
    });

    it("draws its coefficients from the injected rng only", function () {
      expect(randomBivariate(5n, 3, seededRng(1))).to.deep.equal(randomBivariate(5n, 3, seededRng(1)));
      expect(randomBivariate(5n, 3, seededRng(1))).to.not.deep.equal(randomBivariate(5n, 3, seededRng(2)));
    });

    it("refuses a threshold that is not an integer ≥ 1", function () {
      for (const k of [0, -1, 2.5, Number.NaN])
        expectRefusal(() => randomBivariate(1n, k, seededRng(0)), "INVALID_LENGTH");
    });

    it("refuses a secret that is not a canonical scalar", function () {
      expectRefusal(() => randomBivariate(ORDER, 2, seededRng(0)), "INVALID_SCALAR");
      expectRefusal(() => randomBivariate(-1n, 2, seededRng(0)), "INVALID_SCALAR");
    });
  });

  describe("randomSymmetricBivariate", function () {
    it("is symmetric with the secret at f(0, 0): node i's row is its column, f(i, j) = f(j, i)", function () {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 7 }), scalar, fc.integer(), index, index, (k, secret, seed, i, j) => {
          const f = randomSymmetricBivariate(secret, k, seededRng(seed));
          expect(f[0]![0]).to.equal(secret);
          f.forEach((row, a) => row.forEach((c, b) => expect(c).to.equal(f[b]![a])));
          expect(bivariateRow(f, i)).to.deep.equal(bivariateColumn(f, i));
          expect(evaluateBivariate(f, i, j)).to.equal(evaluateBivariate(f, j, i));
        }),
        PROPERTY,
      );
    });

    it("draws the coefficients above the diagonal at random: two draws share only the secret", function () {
      const [f, g] = [1, 2].map((seed) => randomSymmetricBivariate(9n, 4, seededRng(seed)));
      const shared = f!.flatMap((row, a) => row.filter((c, b) => c === g![a]![b]));
      expect(shared).to.deep.equal([9n]);
    });
  });

  describe("evaluateBivariate", function () {
    it("is Σ coefficients[j][l]·x^j·y^l", function () {
      fc.assert(
        fc.property(dealing, scalar, scalar, ({ k, f }, x, y) => {
          let expected = 0n;
          for (let j = 0; j < k; j++) {
            for (let l = 0; l < k; l++) expected = add(expected, mul(f[j]![l]!, mul(power(x, j), power(y, l))));
          }
          expect(evaluateBivariate(f, x, y)).to.equal(expected);
        }),
        PROPERTY,
      );
    });

    it("reads x as the first variable: f(x, y) = 2 + 3x + 5y + 7xy", function () {
      const f = [
        [2n, 5n],
        [3n, 7n],
      ];
      expect(evaluateBivariate(f, 1n, 0n)).to.equal(5n);
      expect(evaluateBivariate(f, 0n, 1n)).to.equal(7n);
      expect(evaluateBivariate(f, 10n, 100n)).to.equal(2n + 30n + 500n + 7000n);
    });

    it("refuses coordinates that are not canonical scalars", function () {
      expectRefusal(() => evaluateBivariate([[1n]], ORDER, 0n), "INVALID_SCALAR");
      expectRefusal(() => evaluateBivariate([[1n]], 0n, -1n), "INVALID_SCALAR");
    });
  });

  describe("rows and columns", function () {
    it("agree at every (i, j): row_i(j) = f(i, j) = column_j(i)", function () {
      fc.assert(
        fc.property(dealing, ({ n, f }) => {
          for (let i = 1n; i <= n; i++) {
            const row = bivariateRow(f, i);
            for (let j = 1n; j <= n; j++) {
              const value = evaluateBivariate(f, i, j);
              expect(evaluatePolynomial(row, j)).to.equal(value);
              expect(evaluatePolynomial(bivariateColumn(f, j), i)).to.equal(value);
            }
          }
        }),
        PROPERTY,
      );
    });

    it("are f(i, y) in y and f(x, i) in x: for f = 2 + 3x + 5y + 7xy, row 1 is 5 + 12y and column 1 is 7 + 10x", function () {
      const f = [
        [2n, 5n],
        [3n, 7n],
      ];
      expect(bivariateRow(f, 1n)).to.deep.equal([5n, 12n]);
      expect(bivariateColumn(f, 1n)).to.deep.equal([7n, 10n]);
    });

    it("agree at any indexes and points of the field", function () {
      fc.assert(
        fc.property(dealing, index, scalar, ({ f }, i, y) => {
          expect(evaluatePolynomial(bivariateRow(f, i), y)).to.equal(evaluateBivariate(f, i, y));
          expect(evaluatePolynomial(bivariateColumn(f, i), y)).to.equal(evaluateBivariate(f, y, i));
        }),
        PROPERTY,
      );
    });

    it("have degree k − 1, and their values at 0 are k-of-n Shamir shares of the secret", function () {
      fc.assert(
        fc.property(dealing, fc.nat(), ({ k, n, secret, f }, offset) => {
          const indexes = Array.from({ length: k }, (_, i) => BigInt(((offset + i) % n) + 1));
          for (const i of indexes) {
            expect(bivariateRow(f, i)).to.have.length(k);
            expect(bivariateColumn(f, i)).to.have.length(k);
          }
          // f(0, i): the shares of the secret that AVSS leaves with the nodes; f(i, 0) works the same way.
          const columnShares = indexes.map((i) => ({ index: i, value: evaluatePolynomial(bivariateColumn(f, i), 0n) }));
          const rowShares = indexes.map((i) => ({ index: i, value: evaluatePolynomial(bivariateRow(f, i), 0n) }));
          expect(reconstructSecret(columnShares, k)).to.equal(secret);
          expect(reconstructSecret(rowShares, k)).to.equal(secret);
        }),
        PROPERTY,
      );
    });

    it("refuses row or column index 0, which would hand out the polynomial that shares the secret", function () {
      const f = randomBivariate(42n, 3, seededRng(0));
      expectRefusal(() => bivariateRow(f, 0n), "INVALID_INDEX");
      expectRefusal(() => bivariateColumn(f, 0n), "INVALID_INDEX");
    });

    it("refuses an index ≡ 0 mod q", function () {
      const f = randomBivariate(42n, 3, seededRng(0));
      expectRefusal(() => bivariateRow(f, ORDER), "INVALID_INDEX");
      expectRefusal(() => bivariateColumn(f, ORDER), "INVALID_INDEX");
      expectRefusal(() => bivariateColumn(f, -1n), "INVALID_INDEX");
    });
  });

  describe("matrix shapes", function () {
    const entryPoints: [string, (f: bigint[][]) => unknown][] = [
      ["evaluateBivariate", (f) => evaluateBivariate(f, 1n, 2n)],
      ["bivariateRow", (f) => bivariateRow(f, 1n)],
      ["bivariateColumn", (f) => bivariateColumn(f, 1n)],
    ];

    for (const [name, use] of entryPoints) {
      it(`${name} refuses a matrix that is not k×k with k ≥ 1`, function () {
        expectRefusal(() => use([]), "INVALID_LENGTH");
        expectRefusal(() => use([[1n, 2n]]), "INVALID_LENGTH"); // 1×2: more degree in y than the threshold
        expectRefusal(() => use([[1n], [2n]]), "INVALID_LENGTH"); // 2×1
        expectRefusal(
          () =>
            use([
              [1n, 2n],
              [3n, 4n, 5n],
            ]),
          "INVALID_LENGTH",
        );
        expectRefusal(() => use([[1n, 2n], [] as bigint[]]), "INVALID_LENGTH");
        expectRefusal(() => use("11" as unknown as bigint[][]), "INVALID_LENGTH");
        expectRefusal(() => use([[1n, 2n], "34" as unknown as bigint[]]), "INVALID_LENGTH");
      });

      it(`${name} refuses a coefficient that is not a canonical scalar`, function () {
        expectRefusal(
          () =>
            use([
              [1n, 2n],
              [3n, ORDER],
            ]),
          "INVALID_SCALAR",
        );
        expectRefusal(() => use([[-1n]]), "INVALID_SCALAR");
        expectRefusal(() => use([[1 as unknown as bigint]]), "INVALID_SCALAR");
      });
    }
  });
});
