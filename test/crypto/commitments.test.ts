import { expect } from "chai";
import fc from "fast-check";

import {
  columnCommitment,
  commitFeldman,
  commitFeldmanMatrix,
  commitPedersen,
  commitPedersenMatrix,
  isSymmetricMatrix,
  rowCommitment,
  verifyColumn,
  verifyPoint,
  verifyRow,
  verifyShare,
} from "../../node/crypto/commitments.ts";
import type { CommitmentMatrix } from "../../node/crypto/commitments.ts";
import { randomBivariate, randomSymmetricBivariate } from "../../node/crypto/bivariate.ts";
import { CryptoError } from "../../node/crypto/errors.ts";
import type { CryptoErrorCode } from "../../node/crypto/errors.ts";
import { ORDER, add, randomScalar } from "../../node/crypto/field.ts";
import type { Rng } from "../../node/crypto/field.ts";
import { G, H, mulG, mulH } from "../../node/crypto/generators.ts";
import { Point } from "../../node/crypto/point.ts";
import { evaluatePolynomial } from "../../node/crypto/polynomial.ts";
import { Prng, envCount } from "../support/prng.ts";
import { describeOnBackends } from "../support/backends.ts";

// PROPERTY_RUNS=1000 runs more cases; a failure prints fast-check's seed and path, PROPERTY_SEED=<seed> replays it.
const PROPERTY = { numRuns: envCount("PROPERTY_RUNS", 50), seed: envCount("PROPERTY_SEED", 20260417) };

/** A reproducible Rng for tests (never for secrets). */
function seededRng(seed: number): Rng {
  const prng = new Prng(seed);
  return (bytes) => Uint8Array.from({ length: bytes }, () => prng.nextUint32() & 0xff);
}

function expectRefusal(action: () => unknown, code: CryptoErrorCode): void {
  expect(action).to.throw(CryptoError).with.property("code", code);
}

// Bivariate polynomials as bivariate.ts lays them out: a[j][l] is the coefficient of x^j·y^l.
type Matrix = bigint[][];
const randomVector = (k: number, rng: Rng): bigint[] => Array.from({ length: k }, () => randomScalar(rng));
const randomMatrix = (k: number, rng: Rng): Matrix => Array.from({ length: k }, () => randomVector(k, rng));
/** The coefficients of f(i, y): row[l] = Σ_j a[j][l]·i^j. */
const rowOf = (a: Matrix, i: bigint): bigint[] =>
  a.map((_, l) =>
    evaluatePolynomial(
      a.map((r) => r[l]!),
      i,
    ),
  );
/** The coefficients of f(x, i): column[j] = Σ_l a[j][l]·i^l. */
const columnOf = (a: Matrix, i: bigint): bigint[] => a.map((r) => evaluatePolynomial(r, i));
const valueAt = (a: Matrix, x: bigint, y: bigint): bigint => evaluatePolynomial(rowOf(a, x), y);
const bump = (values: readonly bigint[], at: number): bigint[] => values.map((v, n) => (n === at ? add(v, 1n) : v));

interface Dealing {
  k: number;
  a: Matrix;
  b: Matrix;
  pedersen: CommitmentMatrix;
  feldman: CommitmentMatrix;
}

// A few dealings committed once (k² blinded multiplications each), reused by the properties below.
const rng = seededRng(envCount("PROPERTY_SEED", 20260417));
const DEALINGS: Dealing[] = [1, 2, 3, 4, 5].map((k) => {
  const a = randomMatrix(k, rng);
  const b = randomMatrix(k, rng);
  return { k, a, b, pedersen: commitPedersenMatrix(a, b), feldman: commitFeldmanMatrix(a) };
});
const K3 = DEALINGS[2]!;

const dealing = fc.constantFrom(...DEALINGS);
const smallIndex = fc.bigInt({ min: 1n, max: 40n });
const index = fc.oneof(
  { arbitrary: smallIndex, weight: 9 },
  { arbitrary: fc.bigInt({ min: 1n, max: ORDER - 1n }), weight: 1 },
);
const otherIndex = (i: bigint): bigint => (i === ORDER - 1n ? 1n : i + 1n);
/** The matrix with entry [j][l] replaced by a different point. */
const tamperMatrix = (matrix: CommitmentMatrix, j: number, l: number): Point[][] =>
  matrix.map((row, jj) => row.map((point, ll) => (jj === j && ll === l ? point.add(G) : point)));

describeOnBackends(`commitments (${PROPERTY.numRuns} runs, seed ${PROPERTY.seed})`, function () {
  describe("committing", function () {
    it("commits coefficient-wise: g^a (Feldman) and g^a·h^b (Pedersen)", function () {
      const a = [5n, 7n, ORDER - 1n];
      const b = [11n, 0n, 13n];
      commitFeldman(a).forEach((c, j) => expect(c.equals(G.multiply(a[j]!))).to.be.true);
      commitPedersen(a, b).forEach((c, j) => expect(c.equals(mulG(a[j]!).add(mulH(b[j]!)))).to.be.true);
      const matrix = commitPedersenMatrix([a, a, a], [b, b, b]);
      expect(matrix[2]![1]!.equals(mulG(7n))).to.be.true;
    });

    it("commits a symmetric polynomial to a symmetric matrix, and tells it from one that is not", function () {
      const rng = seededRng(5);
      const f = randomSymmetricBivariate(3n, 4, rng);
      const fb = randomSymmetricBivariate(4n, 4, rng);
      expect(isSymmetricMatrix(commitFeldmanMatrix(f))).to.equal(true);
      expect(isSymmetricMatrix(commitPedersenMatrix(f, fb))).to.equal(true);
      // The entries below the diagonal are the commitments of their coefficients, not merely copies.
      expect(commitPedersenMatrix(f, fb)[3]![1]!.equals(mulG(f[3]![1]!).add(mulH(fb[3]![1]!)))).to.equal(true);
      expect(isSymmetricMatrix(commitFeldmanMatrix(randomBivariate(3n, 4, rng)))).to.equal(false);
      // Symmetric coefficients with blindings that are not: the Pedersen matrix is not symmetric.
      expect(isSymmetricMatrix(commitPedersenMatrix(f, randomBivariate(4n, 4, rng)))).to.equal(false);
    });

    it("refuses a zero Feldman coefficient: g^0 is the point at infinity, which cannot be sent", function () {
      expectRefusal(() => commitFeldman([1n, 0n]), "INVALID_SCALAR");
      expectRefusal(
        () =>
          commitFeldmanMatrix([
            [1n, 2n],
            [0n, 3n],
          ]),
        "INVALID_SCALAR",
      );
    });

    it("refuses non-canonical coefficients and blindings", function () {
      expectRefusal(() => commitFeldman([ORDER + 1n]), "INVALID_SCALAR");
      expectRefusal(() => commitPedersen([1n], [-1n]), "INVALID_SCALAR");
      expectRefusal(() => commitPedersenMatrix([[1n]], [[ORDER]]), "INVALID_SCALAR");
    });

    it("refuses empty inputs, blindings of another length and non-square matrices", function () {
      expectRefusal(() => commitFeldman([]), "INVALID_LENGTH");
      expectRefusal(() => commitPedersen([1n, 2n], [3n]), "INVALID_LENGTH");
      expectRefusal(
        () =>
          commitFeldmanMatrix([
            [1n, 2n, 3n],
            [4n, 5n, 6n],
          ]),
        "INVALID_LENGTH",
      );
      expectRefusal(() => commitFeldmanMatrix([[1n, 2n], [4n]]), "INVALID_LENGTH");
      expectRefusal(
        () =>
          commitPedersenMatrix(
            [
              [1n, 2n],
              [3n, 4n],
            ],
            [[1n, 2n]],
          ),
        "INVALID_LENGTH",
      );
      expectRefusal(
        () =>
          commitPedersenMatrix(
            [
              [1n, 2n],
              [3n, 4n],
            ],
            [[1n, 2n], [3n]],
          ),
        "INVALID_LENGTH",
      );
    });
  });

  describe("verifyShare (a share against a commitment vector)", function () {
    it("accepts exactly the Feldman share it commits to: a changed value, index or commitment fails", function () {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 5 }), index, fc.integer(), fc.nat(), (k, i, seed, at) => {
          const f = randomVector(k, seededRng(seed)).map((a) => (a === 0n ? 1n : a));
          const commitment = commitFeldman(f);
          const share = evaluatePolynomial(f, i);
          expect(verifyShare(commitment, k, i, share)).to.be.true;
          expect(verifyShare(commitment, k, i, add(share, 1n)), "changed value").to.be.false;
          // A constant polynomial (k = 1) has the same share everywhere: only k > 1 tells indexes apart.
          if (k > 1) expect(verifyShare(commitment, k, otherIndex(i), share), "changed index").to.be.false;
          const j = at % k;
          const tampered = commitment.map((c, n) => (n === j ? c.add(G) : c));
          expect(verifyShare(tampered, k, i, share), "changed commitment").to.be.false;
        }),
        PROPERTY,
      );
    });

    it("accepts exactly the Pedersen share it commits to: a changed value, blinding, index or commitment fails", function () {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 5 }), index, fc.integer(), fc.nat(), (k, i, seed, at) => {
          const prng = seededRng(seed);
          const [f, r] = [randomVector(k, prng), randomVector(k, prng)];
          const commitment = commitPedersen(f, r);
          const [value, blinding] = [evaluatePolynomial(f, i), evaluatePolynomial(r, i)];
          expect(verifyShare(commitment, k, i, value, blinding)).to.be.true;
          expect(verifyShare(commitment, k, i, add(value, 1n), blinding), "changed value").to.be.false;
          expect(verifyShare(commitment, k, i, value, add(blinding, 1n)), "changed blinding").to.be.false;
          if (k > 1) expect(verifyShare(commitment, k, otherIndex(i), value, blinding), "changed index").to.be.false;
          const tampered = commitment.map((c, n) => (n === at % k ? c.add(H) : c));
          expect(verifyShare(tampered, k, i, value, blinding), "changed commitment").to.be.false;
          expect(verifyShare(commitment, k, i, value), "blinding left out").to.be.false;
        }),
        PROPERTY,
      );
    });

    it("rejects a commitment vector of k + 1 points (it would silently raise the threshold to k + 1)", function () {
      // Shares of a degree-k polynomial pass Feldman's check against its k + 1 commitments, but k of them no longer
      // determine the secret: only the caller's k may decide the size.
      const f = [3n, 5n, 7n, 9n];
      const commitment = commitFeldman(f);
      expectRefusal(() => verifyShare(commitment, 3, 2n, evaluatePolynomial(f, 2n)), "INVALID_LENGTH");
      expectRefusal(() => verifyShare(commitment.slice(0, 2), 3, 2n, evaluatePolynomial(f, 2n)), "INVALID_LENGTH");
    });

    it("rejects the point at infinity, a point off the curve and a non-point in the commitment", function () {
      expectRefusal(() => verifyShare([G, Point.ZERO], 2, 1n, 1n), "INVALID_POINT");
      expectRefusal(() => verifyShare([G, new Point(1n, 1n, 1n)], 2, 1n, 1n), "INVALID_POINT");
      expectRefusal(() => verifyShare([G, G.toAffine() as unknown as Point], 2, 1n, 1n), "INVALID_POINT");
    });

    it("rejects share index 0 (the secret itself) and indexes ≥ q (index q + 1 aliases index 1)", function () {
      const commitment = commitFeldman([3n, 5n]);
      for (const i of [0n, ORDER, ORDER + 1n, -1n])
        expectRefusal(() => verifyShare(commitment, 2, i, 1n), "INVALID_INDEX");
    });

    it("rejects non-canonical values and blindings (value + q names the same point: a malleable share)", function () {
      const f = [3n, 5n];
      const commitment = commitPedersen(f, [1n, 1n]);
      const value = evaluatePolynomial(f, 4n);
      expectRefusal(() => verifyShare(commitment, 2, 4n, value + ORDER, 5n), "INVALID_SCALAR");
      expectRefusal(() => verifyShare(commitment, 2, 4n, value, 5n + ORDER), "INVALID_SCALAR");
      expectRefusal(() => verifyShare(commitment, 2, 4n, 5 as unknown as bigint), "INVALID_SCALAR");
    });

    it("rejects a threshold that is not a positive integer", function () {
      const commitment = commitFeldman([3n]);
      for (const k of [0, -1, 1.5, Number.NaN])
        expectRefusal(() => verifyShare(commitment, k, 1n, 3n), "INVALID_LENGTH");
    });
  });

  describe("rows, columns and points of a committed bivariate polynomial", function () {
    it("accepts node i's row, column and points, Pedersen and Feldman", function () {
      fc.assert(
        fc.property(dealing, index, smallIndex, ({ k, a, b, pedersen, feldman }, i, m) => {
          expect(verifyRow(pedersen, k, i, rowOf(a, i), rowOf(b, i))).to.be.true;
          expect(verifyColumn(pedersen, k, i, columnOf(a, i), columnOf(b, i))).to.be.true;
          expect(verifyPoint(pedersen, k, i, m, valueAt(a, i, m), valueAt(b, i, m))).to.be.true;
          expect(verifyRow(feldman, k, i, rowOf(a, i))).to.be.true;
          expect(verifyColumn(feldman, k, i, columnOf(a, i))).to.be.true;
          expect(verifyPoint(feldman, k, m, i, valueAt(a, m, i))).to.be.true;
        }),
        PROPERTY,
      );
    });

    it("rejects a row or column with one changed coefficient or blinding coefficient", function () {
      fc.assert(
        fc.property(dealing, smallIndex, fc.nat(), ({ k, a, b, pedersen, feldman }, i, at) => {
          const l = at % k;
          const [row, blindingRow] = [rowOf(a, i), rowOf(b, i)];
          const [column, blindingColumn] = [columnOf(a, i), columnOf(b, i)];
          expect(verifyRow(pedersen, k, i, bump(row, l), blindingRow), "row value").to.be.false;
          expect(verifyRow(pedersen, k, i, row, bump(blindingRow, l)), "row blinding").to.be.false;
          expect(verifyColumn(pedersen, k, i, bump(column, l), blindingColumn), "column value").to.be.false;
          expect(verifyColumn(pedersen, k, i, column, bump(blindingColumn, l)), "column blinding").to.be.false;
          expect(verifyRow(feldman, k, i, bump(row, l)), "Feldman row").to.be.false;
          expect(verifyColumn(feldman, k, i, bump(column, l)), "Feldman column").to.be.false;
        }),
        PROPERTY,
      );
    });

    it("rejects another node's row, column or point (a changed index)", function () {
      fc.assert(
        fc.property(dealing, smallIndex, smallIndex, ({ k, a, b, pedersen }, i, m) => {
          const j = i + 1n;
          // For k = 1 the polynomial is a constant and every node's row is the same: nothing to tell apart.
          if (k === 1) return;
          expect(verifyRow(pedersen, k, j, rowOf(a, i), rowOf(b, i)), "row").to.be.false;
          expect(verifyColumn(pedersen, k, j, columnOf(a, i), columnOf(b, i)), "column").to.be.false;
          expect(verifyPoint(pedersen, k, j, m, valueAt(a, i, m), valueAt(b, i, m)), "point x").to.be.false;
          expect(verifyPoint(pedersen, k, i, m + 1n, valueAt(a, i, m), valueAt(b, i, m)), "point y").to.be.false;
        }),
        PROPERTY,
      );
    });

    it("rejects a changed point value or blinding, and a changed commitment entry", function () {
      fc.assert(
        fc.property(dealing, smallIndex, smallIndex, fc.nat(), ({ k, a, b, pedersen }, i, m, at) => {
          const [value, blinding] = [valueAt(a, i, m), valueAt(b, i, m)];
          expect(verifyPoint(pedersen, k, i, m, add(value, 1n), blinding), "value").to.be.false;
          expect(verifyPoint(pedersen, k, i, m, value, add(blinding, 1n)), "blinding").to.be.false;
          const tampered = tamperMatrix(pedersen, at % k, Math.floor(at / k) % k);
          expect(verifyPoint(tampered, k, i, m, value, blinding), "commitment of the point").to.be.false;
          expect(verifyRow(tampered, k, i, rowOf(a, i), rowOf(b, i)), "commitment of the row").to.be.false;
          expect(verifyColumn(tampered, k, i, columnOf(a, i), columnOf(b, i)), "commitment of the column").to.be.false;
        }),
        PROPERTY,
      );
    });

    it("rejects a column sent as a row", function () {
      const { k, a, b, pedersen } = K3;
      expect(verifyRow(pedersen, k, 2n, columnOf(a, 2n), columnOf(b, 2n))).to.be.false;
    });

    it("reduces a matrix to the commitment of one row or column", function () {
      const { k, a, b, pedersen } = K3;
      const row = rowCommitment(pedersen, k, 6n);
      const column = columnCommitment(pedersen, k, 6n);
      commitPedersen(rowOf(a, 6n), rowOf(b, 6n)).forEach((c, l) => expect(c.equals(row[l]!)).to.be.true);
      commitPedersen(columnOf(a, 6n), columnOf(b, 6n)).forEach((c, j) => expect(c.equals(column[j]!)).to.be.true);
    });

    it("rejects a non-square matrix and a matrix for another threshold", function () {
      const { k, a, b, pedersen } = K3;
      const [row, blindingRow] = [rowOf(a, 1n), rowOf(b, 1n)];
      const wide = pedersen.map((r) => [...r, G]);
      const tall = [...pedersen, pedersen[0]!];
      const ragged = pedersen.map((r, j) => (j === 1 ? r.slice(0, k - 1) : r));
      for (const matrix of [wide, tall, ragged, pedersen.slice(0, k - 1)]) {
        expectRefusal(() => verifyRow(matrix, k, 1n, row, blindingRow), "INVALID_LENGTH");
        expectRefusal(() => verifyColumn(matrix, k, 1n, row, blindingRow), "INVALID_LENGTH");
        expectRefusal(() => verifyPoint(matrix, k, 1n, 2n, 0n, 0n), "INVALID_LENGTH");
      }
      // A 4×4 matrix offered for k = 3 would raise the threshold, a 3×3 one for k = 4 lower it.
      expectRefusal(() => verifyRow(DEALINGS[3]!.pedersen, k, 1n, row, blindingRow), "INVALID_LENGTH");
      expectRefusal(() => verifyRow(pedersen, k + 1, 1n, [...row, 0n], [...blindingRow, 0n]), "INVALID_LENGTH");
    });

    it("rejects a row or column of the wrong length (a short row would leave coefficients unchecked)", function () {
      const { k, a, b, pedersen } = K3;
      const [row, blindingRow] = [rowOf(a, 1n), rowOf(b, 1n)];
      expectRefusal(() => verifyRow(pedersen, k, 1n, row.slice(0, k - 1), blindingRow), "INVALID_LENGTH");
      expectRefusal(() => verifyRow(pedersen, k, 1n, [...row, 0n], blindingRow), "INVALID_LENGTH");
      expectRefusal(() => verifyRow(pedersen, k, 1n, row, blindingRow.slice(1)), "INVALID_LENGTH");
      expectRefusal(() => verifyColumn(pedersen, k, 1n, row.slice(1), blindingRow), "INVALID_LENGTH");
    });

    it("rejects the point at infinity and points off the curve in the matrix", function () {
      const { k, a, b, pedersen } = K3;
      const [row, blindingRow] = [rowOf(a, 1n), rowOf(b, 1n)];
      for (const bad of [Point.ZERO, new Point(1n, 1n, 1n)]) {
        const matrix = pedersen.map((r, j) => (j === 2 ? [r[0]!, bad, r[2]!] : r));
        expectRefusal(() => verifyRow(matrix, k, 1n, row, blindingRow), "INVALID_POINT");
        expectRefusal(() => verifyPoint(matrix, k, 1n, 1n, 1n, 1n), "INVALID_POINT");
      }
    });

    it("rejects index 0 and indexes ≥ q for rows, columns and both coordinates of a point", function () {
      const { k, a, b, pedersen } = K3;
      const [row, blindingRow] = [rowOf(a, 1n), rowOf(b, 1n)];
      for (const i of [0n, ORDER, ORDER + 2n]) {
        expectRefusal(() => verifyRow(pedersen, k, i, row, blindingRow), "INVALID_INDEX");
        expectRefusal(() => verifyColumn(pedersen, k, i, row, blindingRow), "INVALID_INDEX");
        expectRefusal(() => verifyPoint(pedersen, k, i, 1n, 1n, 1n), "INVALID_INDEX");
        expectRefusal(() => verifyPoint(pedersen, k, 1n, i, 1n, 1n), "INVALID_INDEX");
        expectRefusal(() => rowCommitment(pedersen, k, i), "INVALID_INDEX");
        expectRefusal(() => columnCommitment(pedersen, k, i), "INVALID_INDEX");
      }
    });

    it("rejects non-canonical coefficients in rows, columns and points", function () {
      const { k, a, b, pedersen } = K3;
      const [row, blindingRow] = [rowOf(a, 1n), rowOf(b, 1n)];
      const shifted = row.map((v, l) => (l === 0 ? v + ORDER : v));
      expectRefusal(() => verifyRow(pedersen, k, 1n, shifted, blindingRow), "INVALID_SCALAR");
      expectRefusal(() => verifyColumn(pedersen, k, 1n, row, [-1n, 0n, 0n]), "INVALID_SCALAR");
      expectRefusal(() => verifyPoint(pedersen, k, 1n, 2n, ORDER, 0n), "INVALID_SCALAR");
      expectRefusal(() => verifyPoint(pedersen, k, 1n, 2n, 0n, ORDER), "INVALID_SCALAR");
    });
  });
});
