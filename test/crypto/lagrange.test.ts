import { expect } from "chai";
import fc from "fast-check";

import { CryptoError } from "../../node/crypto/errors.ts";
import type { CryptoErrorCode } from "../../node/crypto/errors.ts";
import { ORDER, add, inv, mul, sub } from "../../node/crypto/field.ts";
import type { Rng } from "../../node/crypto/field.ts";
import { interpolateAt, invertAll, lagrangeCoefficients, reconstructSecret } from "../../node/crypto/lagrange.ts";
import type { Share } from "../../node/crypto/lagrange.ts";
import { evaluatePolynomial, interpolatePolynomial, randomPolynomial } from "../../node/crypto/polynomial.ts";
import { Prng, envCount } from "../support/prng.ts";

// PROPERTY_RUNS=10000 runs more cases; a failure prints fast-check's seed and path, PROPERTY_SEED=<seed> replays it.
const PROPERTY = { numRuns: envCount("PROPERTY_RUNS", 100), seed: envCount("PROPERTY_SEED", 20260417) };

const scalar = fc.bigInt({ min: 0n, max: ORDER - 1n });
// Small indexes as nodes use them (1..n), and any index in [1, q) to reach the edges of the field.
const index = fc.oneof(fc.bigInt({ min: 1n, max: 30n }), fc.bigInt({ min: 1n, max: ORDER - 1n }));
const indexSet = fc.uniqueArray(index, { minLength: 1, maxLength: 13 });

/** n ≤ 13 nodes with indexes 1..n, a threshold k ≤ n and a random k-subset of them in random order. */
const sharing = fc
  .integer({ min: 1, max: 13 })
  .chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 1, max: n })))
  .chain(([n, k]) =>
    fc.record({
      n: fc.constant(n),
      k: fc.constant(k),
      subset: fc.shuffledSubarray(indexesUpTo(n), { minLength: k, maxLength: k }),
      secret: scalar,
      seed: fc.integer(),
    }),
  );

function indexesUpTo(n: number): bigint[] {
  return Array.from({ length: n }, (_, i) => BigInt(i + 1));
}

/** A reproducible Rng for tests (never for secrets). */
function seededRng(seed: number): Rng {
  const prng = new Prng(seed);
  return (bytes) => Uint8Array.from({ length: bytes }, () => prng.nextUint32() & 0xff);
}

function sharesOf(f: readonly bigint[], indexes: readonly bigint[]): Share[] {
  return indexes.map((index) => ({ index, value: evaluatePolynomial(f, index) }));
}

function expectRefusal(action: () => unknown, code: CryptoErrorCode): void {
  expect(action).to.throw(CryptoError).with.property("code", code);
}

/** The guards every entry point taking shares must apply, named after what the bad input would let an attacker do. */
function itRefusesBadShares(accept: (shares: Share[]) => unknown): void {
  const good: Share[] = [
    { index: 1n, value: 11n },
    { index: 2n, value: 12n },
    { index: 3n, value: 13n },
  ];
  const withShare = (i: number, share: Share): Share[] => good.map((s, j) => (i === j ? share : s));

  it("refuses share index 0, which would reveal f(0)", function () {
    expectRefusal(() => accept(withShare(1, { index: 0n, value: 99n })), "INVALID_INDEX");
  });

  it("refuses an index ≡ 0 mod q", function () {
    // q is the same field element as 0, so such a share would claim to be f(0).
    expectRefusal(() => accept(withShare(1, { index: ORDER, value: 99n })), "INVALID_INDEX");
    expectRefusal(() => accept(withShare(1, { index: 2n * ORDER, value: 99n })), "INVALID_INDEX");
  });

  it("refuses an index ≥ q or negative, which would alias another share", function () {
    expectRefusal(() => accept(withShare(1, { index: ORDER + 1n, value: 99n })), "INVALID_INDEX");
    expectRefusal(() => accept(withShare(1, { index: -1n, value: 99n })), "INVALID_INDEX");
    expectRefusal(() => accept(withShare(1, { index: 2 as unknown as bigint, value: 99n })), "INVALID_INDEX");
  });

  it("refuses duplicate indexes", function () {
    // Counting one node twice would fake the threshold (and divides by zero).
    expectRefusal(() => accept(withShare(1, { index: 1n, value: 11n })), "DUPLICATE_INDEX");
    expectRefusal(() => accept(withShare(1, { index: 1n, value: 99n })), "DUPLICATE_INDEX");
  });

  it("refuses a value ≥ q", function () {
    // A non-canonical value is a second encoding of the same share: malleable, so refused rather than reduced.
    expectRefusal(() => accept(withShare(2, { index: 3n, value: ORDER + 13n })), "INVALID_SCALAR");
    expectRefusal(() => accept(withShare(2, { index: 3n, value: -1n })), "INVALID_SCALAR");
  });

  it("refuses an empty list of shares", function () {
    expectRefusal(() => accept([]), "INVALID_LENGTH");
  });
}

describe(`lagrange (${PROPERTY.numRuns} runs, seed ${PROPERTY.seed})`, function () {
  describe("invertAll", function () {
    it("inverts every value with a single field inversion", function () {
      fc.assert(
        fc.property(fc.array(fc.bigInt({ min: 1n, max: ORDER - 1n }), { maxLength: 20 }), (values) => {
          expect(invertAll(values)).to.deep.equal(values.map(inv));
        }),
        PROPERTY,
      );
    });

    it("refuses 0, which has no inverse", function () {
      expectRefusal(() => invertAll([3n, 0n, 5n]), "INVALID_SCALAR");
      expectRefusal(() => invertAll([ORDER]), "INVALID_SCALAR");
    });
  });

  describe("lagrangeCoefficients", function () {
    it("equal the textbook product ∏ (at − x_j) / (x_i − x_j)", function () {
      fc.assert(
        fc.property(indexSet, scalar, (indexes, at) => {
          const textbook = indexes.map((xi) =>
            indexes.reduce((acc, xj) => (xj === xi ? acc : mul(acc, mul(sub(at, xj), inv(sub(xi, xj))))), 1n),
          );
          expect(lagrangeCoefficients(indexes, at)).to.deep.equal(textbook);
        }),
        PROPERTY,
      );
    });

    it("at 0, weight the shares of a polynomial of lower degree into its constant", function () {
      fc.assert(
        fc.property(indexSet, scalar, fc.integer(), (indexes, secret, seed) => {
          const f = randomPolynomial(secret, indexes.length - 1, seededRng(seed));
          const lambdas = lagrangeCoefficients(indexes);
          const weighted = indexes.reduce((acc, x, i) => add(acc, mul(lambdas[i]!, evaluatePolynomial(f, x))), 0n);
          expect(weighted).to.equal(secret);
        }),
        PROPERTY,
      );
    });

    it("sum to 1, since they interpolate the constant polynomial 1", function () {
      fc.assert(
        fc.property(indexSet, scalar, (indexes, at) => {
          expect(lagrangeCoefficients(indexes, at).reduce(add, 0n)).to.equal(1n);
        }),
        PROPERTY,
      );
    });

    it("at one of the indexes, select that share alone", function () {
      fc.assert(
        fc.property(indexSet, fc.nat(), (indexes, pick) => {
          const m = pick % indexes.length;
          const expected = indexes.map((_, i) => (i === m ? 1n : 0n));
          expect(lagrangeCoefficients(indexes, indexes[m])).to.deep.equal(expected);
        }),
        PROPERTY,
      );
    });

    it("refuses share index 0, an index ≡ 0 mod q and duplicate indexes", function () {
      expectRefusal(() => lagrangeCoefficients([1n, 0n]), "INVALID_INDEX");
      expectRefusal(() => lagrangeCoefficients([1n, ORDER]), "INVALID_INDEX");
      expectRefusal(() => lagrangeCoefficients([1n, 2n, 1n]), "DUPLICATE_INDEX");
      expectRefusal(() => lagrangeCoefficients([]), "INVALID_LENGTH");
    });

    it("refuses an evaluation point ≥ q", function () {
      expectRefusal(() => lagrangeCoefficients([1n, 2n], ORDER), "INVALID_SCALAR");
      expectRefusal(() => lagrangeCoefficients([1n, 2n], -1n), "INVALID_SCALAR");
    });
  });

  describe("interpolateAt", function () {
    it("recombines the shares of a polynomial of lower degree into its value anywhere", function () {
      fc.assert(
        fc.property(indexSet, scalar, scalar, fc.integer(), (indexes, secret, at, seed) => {
          const f = randomPolynomial(secret, indexes.length - 1, seededRng(seed));
          expect(interpolateAt(sharesOf(f, indexes), at)).to.equal(evaluatePolynomial(f, at));
        }),
        PROPERTY,
      );
    });

    itRefusesBadShares((shares) => interpolateAt(shares, 0n));

    it("refuses an evaluation point ≥ q", function () {
      expectRefusal(() => interpolateAt([{ index: 1n, value: 1n }], ORDER), "INVALID_SCALAR");
    });
  });

  describe("reconstructSecret", function () {
    it("reconstructs the secret from any k of n shares", function () {
      fc.assert(
        fc.property(sharing, ({ k, subset, secret, seed }) => {
          const f = randomPolynomial(secret, k - 1, seededRng(seed));
          expect(reconstructSecret(sharesOf(f, subset), k)).to.equal(secret);
        }),
        PROPERTY,
      );
    });

    it("uses only the first k shares when given more", function () {
      fc.assert(
        fc.property(sharing, fc.bigInt({ min: 1n, max: ORDER - 1n }), ({ n, k, subset, secret, seed }, offset) => {
          const f = randomPolynomial(secret, k - 1, seededRng(seed));
          // Well-formed extra shares that lie on no polynomial of f's: they must not be used.
          const extra = indexesUpTo(n + 2)
            .filter((index) => !subset.includes(index))
            .map((index) => ({ index, value: add(evaluatePolynomial(f, index), offset) }));
          expect(reconstructSecret([...sharesOf(f, subset), ...extra], k)).to.equal(secret);
        }),
        PROPERTY,
      );
    });

    it("k − 1 shares do not determine the secret: they fit a polynomial of degree k − 1 for any other secret", function () {
      fc.assert(
        fc.property(sharing, scalar, ({ k, subset, secret, seed }, otherSecret) => {
          const f = randomPolynomial(secret, k - 1, seededRng(seed));
          const known = sharesOf(f, subset.slice(0, k - 1));
          const last = subset[k - 1]!;
          // Choose the k-th share so that the sharing's secret becomes otherSecret: λ_last(0) ≠ 0, so one exists.
          const lambdas = lagrangeCoefficients([...known.map((s) => s.index), last]);
          const knownPart = known.reduce((acc, s, i) => add(acc, mul(lambdas[i]!, s.value)), 0n);
          const forged = { index: last, value: mul(sub(otherSecret, knownPart), inv(lambdas[k - 1]!)) };

          expect(reconstructSecret([...known, { index: last, value: evaluatePolynomial(f, last) }], k)).to.equal(
            secret,
          );
          expect(reconstructSecret([...known, forged], k)).to.equal(otherSecret);
          const g = interpolatePolynomial([...known, forged].map((s) => ({ x: s.index, y: s.value })));
          expect(g).to.have.length(k);
          expect(evaluatePolynomial(g, 0n)).to.equal(otherSecret);
          for (const s of known) expect(evaluatePolynomial(g, s.index)).to.equal(s.value);
        }),
        PROPERTY,
      );
    });

    it("refuses fewer than k shares", function () {
      const f = [7n, 8n, 9n];
      expectRefusal(() => reconstructSecret(sharesOf(f, [1n, 2n]), 3), "INVALID_LENGTH");
      expectRefusal(() => reconstructSecret(sharesOf(f, [5n]), 3), "INVALID_LENGTH");
      expect(reconstructSecret(sharesOf(f, [1n, 2n, 5n]), 3)).to.equal(7n);
    });

    it("refuses a threshold that is not an integer ≥ 1", function () {
      const shares = sharesOf([7n], [1n]);
      for (const k of [0, -1, 1.5, Number.NaN]) expectRefusal(() => reconstructSecret(shares, k), "INVALID_LENGTH");
    });

    // k = 2 while the bad share is sometimes the third: shares beyond the first k are validated too.
    itRefusesBadShares((shares) => reconstructSecret(shares, 2));
  });
});
