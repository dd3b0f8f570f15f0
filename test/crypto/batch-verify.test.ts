import { pippenger } from "@noble/curves/abstract/curve.js";
import { expect } from "chai";
import fc from "fast-check";

import {
  MAX_WEIGHT_BITS,
  MIN_COMBINED_ITEMS,
  columnItems,
  multiScalarMul,
  rowItems,
  verifyBatch,
  verifySymmetricRows,
} from "../../node/crypto/batch-verify.ts";
import type { BatchItem } from "../../node/crypto/batch-verify.ts";
import { randomSymmetricBivariate } from "../../node/crypto/bivariate.ts";
import {
  commitFeldman,
  commitFeldmanMatrix,
  commitPedersen,
  commitPedersenMatrix,
  verifyPoint,
  verifyRow,
  verifyShare,
} from "../../node/crypto/commitments.ts";
import type { CommitmentMatrix } from "../../node/crypto/commitments.ts";
import { CryptoError } from "../../node/crypto/errors.ts";
import type { CryptoErrorCode } from "../../node/crypto/errors.ts";
import { ORDER, add, randomNonZeroScalar, randomScalar, sub } from "../../node/crypto/field.ts";
import type { Rng } from "../../node/crypto/field.ts";
import { G, mulGUnblinded } from "../../node/crypto/generators.ts";
import { Point, decodePoint } from "../../node/crypto/point.ts";
import { evaluatePolynomial } from "../../node/crypto/polynomial.ts";
import { Prng, envCount } from "../support/prng.ts";
import { describeOnBackends } from "../support/backends.ts";

// PROPERTY_RUNS=1000 runs more cases; a failure prints fast-check's seed and path, PROPERTY_SEED=<seed> replays it.
const PROPERTY = { numRuns: envCount("PROPERTY_RUNS", 50), seed: envCount("PROPERTY_SEED", 20260417) };
const K = 3;

/** A reproducible Rng for tests (never for secrets). */
function seededRng(seed: number): Rng {
  const prng = new Prng(seed);
  return (bytes) => Uint8Array.from({ length: bytes }, () => prng.nextUint32() & 0xff);
}

function expectRefusal(action: () => unknown, code: CryptoErrorCode): void {
  expect(action).to.throw(CryptoError).with.property("code", code);
}

type Matrix = bigint[][];
const randomVector = (k: number, rng: Rng): bigint[] => Array.from({ length: k }, () => randomNonZeroScalar(rng));
const rowOf = (a: Matrix, i: bigint): bigint[] =>
  a.map((_, l) =>
    evaluatePolynomial(
      a.map((r) => r[l]!),
      i,
    ),
  );
const columnOf = (a: Matrix, i: bigint): bigint[] => a.map((r) => evaluatePolynomial(r, i));
const valueAt = (a: Matrix, x: bigint, y: bigint): bigint => evaluatePolynomial(rowOf(a, x), y);

/**
 * `count` honest items of k = 3, cycling through Feldman shares, Pedersen shares and Pedersen matrix points (the
 * points of one matrix share their x, as a node's echoes share its index). Few commitments, many indexes, so that
 * building 1,000 items stays cheap.
 */
function honestItems(count: number, seed: number): BatchItem[] {
  const rng = seededRng(seed);
  const feldman = Array.from({ length: 8 }, () => randomVector(K, rng)).map((f) => ({ f, c: commitFeldman(f) }));
  const pedersen = Array.from({ length: 8 }, () => [randomVector(K, rng), randomVector(K, rng)] as const).map(
    ([f, r]) => ({ f, r, c: commitPedersen(f, r) }),
  );
  const matrices = Array.from({ length: 3 }, () => {
    const [a, b] = [
      Array.from({ length: K }, () => randomVector(K, rng)),
      Array.from({ length: K }, () => randomVector(K, rng)),
    ];
    return { a, b, c: commitPedersenMatrix(a, b) };
  });
  return Array.from({ length: count }, (_, n): BatchItem => {
    const i = BigInt(1 + ((n * 7) % 97));
    if (n % 3 === 0) {
      const { f, c } = feldman[n % feldman.length]!;
      return { kind: "share", commitment: c, index: i, value: evaluatePolynomial(f, i) };
    }
    if (n % 3 === 1) {
      const { f, r, c } = pedersen[n % pedersen.length]!;
      return {
        kind: "share",
        commitment: c,
        index: i,
        value: evaluatePolynomial(f, i),
        blinding: evaluatePolynomial(r, i),
      };
    }
    const { a, b, c } = matrices[n % matrices.length]!;
    const x = BigInt(1 + (n % 5));
    return { kind: "point", commitment: c, x, y: i, value: valueAt(a, x, i), blinding: valueAt(b, x, i) };
  });
}

/** The item with its value (or blinding) moved by `delta`. */
function corrupt(item: BatchItem, delta = 1n, field: "value" | "blinding" = "value"): BatchItem {
  if (field === "blinding") return { ...item, blinding: add(item.blinding ?? 0n, delta) };
  return { ...item, value: add(item.value, delta) };
}

/** Each item on its own, with the single-item checks of commitments.ts. */
function checkAlone(item: BatchItem): boolean {
  return item.kind === "share"
    ? verifyShare(item.commitment, K, item.index, item.value, item.blinding)
    : verifyPoint(item.commitment, K, item.x, item.y, item.value, item.blinding);
}

describeOnBackends(`batch verification (${PROPERTY.numRuns} runs, seed ${PROPERTY.seed})`, function () {
  const THOUSAND = honestItems(1000, PROPERTY.seed);

  describe("verifyBatch", function () {
    it("passes an all-good batch of 1,000 shares and points", function () {
      expect(verifyBatch(THOUSAND, K, seededRng(1))).to.deep.equal({ ok: true, bad: [] });
    });

    it("detects and names a single bad share in a batch of 1,000", function () {
      const items = THOUSAND.slice();
      items[613] = corrupt(items[613]!);
      expect(verifyBatch(items, K, seededRng(2))).to.deep.equal({ ok: false, bad: [613] });
    });

    it("names bad values, bad blindings and bad points, and only those", function () {
      const items = THOUSAND.slice(0, 90);
      items[4] = corrupt(items[4]!, 5n, "blinding"); // a Pedersen share
      items[8] = corrupt(items[8]!, ORDER - 1n); // a matrix point
      items[30] = corrupt(items[30]!, 1n, "blinding"); // a Feldman share given a blinding it does not have
      expect(verifyBatch(items, K, seededRng(3))).to.deep.equal({ ok: false, bad: [4, 8, 30] });
    });

    it("fails two errors that cancel under equal weights (v + δ and v − δ on one polynomial)", function () {
      const [first, second] = [THOUSAND[1]!, THOUSAND[1]!];
      const delta = 123456789n;
      const pair = [first, ...THOUSAND.slice(2, 40), second];
      pair[0] = corrupt(first, delta);
      pair[pair.length - 1] = corrupt(second, ORDER - delta);
      // With weights that repeat (a broken rng: every byte the same) the two errors cancel and the batch passes;
      // this is the attack that random weights, drawn after the batch is given, defeat.
      const constant: Rng = (bytes) => new Uint8Array(bytes).fill(0x5a);
      expect(verifyBatch(pair, K, constant).ok, "equal weights are fooled").to.be.true;
      expect(verifyBatch(pair, K, seededRng(4))).to.deep.equal({ ok: false, bad: [0, pair.length - 1] });
    });

    it("finds exactly the corrupted items, whichever they are", function () {
      const pool = THOUSAND.slice(0, 40);
      fc.assert(
        fc.property(
          fc.uniqueArray(fc.integer({ min: 0, max: pool.length - 1 }), { maxLength: 4 }),
          fc.bigInt({ min: 1n, max: ORDER - 1n }),
          fc.integer(),
          (positions, delta, seed) => {
            const items = pool.map((item, n) => (positions.includes(n) ? corrupt(item, delta) : item));
            const result = verifyBatch(items, K, seededRng(seed));
            expect(result.bad).to.deep.equal([...positions].sort((x, y) => x - y));
            expect(result.ok).to.equal(positions.length === 0);
          },
        ),
        { ...PROPERTY, numRuns: Math.min(PROPERTY.numRuns, 30) },
      );
    });

    it("agrees with the item-by-item checks of commitments.ts", function () {
      const items = THOUSAND.slice(100, 130).map((item, n) => (n % 7 === 3 ? corrupt(item) : item));
      const alone = items.flatMap((item, n) => (checkAlone(item) ? [] : [n]));
      expect(alone).to.deep.equal([3, 10, 17, 24]);
      expect(verifyBatch(items, K, seededRng(5)).bad).to.deep.equal(alone);
    });

    it("checks node i's rows and columns of many dealings in one batch", function () {
      const rng = seededRng(6);
      const i = 4n;
      const items: BatchItem[] = [];
      const dealings: { a: Matrix; b: Matrix; c: CommitmentMatrix }[] = [];
      for (let d = 0; d < 6; d++) {
        const a = Array.from({ length: K }, () => randomVector(K, rng));
        const b = Array.from({ length: K }, () => randomVector(K, rng));
        dealings.push({ a, b, c: commitPedersenMatrix(a, b) });
      }
      for (const { a, b, c } of dealings) {
        items.push(
          ...rowItems(c, K, i, rowOf(a, i), rowOf(b, i)),
          ...columnItems(c, K, i, columnOf(a, i), columnOf(b, i)),
        );
      }
      expect(verifyBatch(items, K, rng).ok).to.be.true;
      // Dealing 2 sent node i a row with its last coefficient changed: item 2·2k + (k − 1).
      const { a, b, c } = dealings[2]!;
      const badRow = rowOf(a, i).map((v, l) => (l === K - 1 ? add(v, 1n) : v));
      items.splice(2 * 2 * K, K, ...rowItems(c, K, i, badRow, rowOf(b, i)));
      expect(verifyBatch(items, K, rng)).to.deep.equal({ ok: false, bad: [2 * 2 * K + K - 1] });
    });

    it("refuses a row of k − 1 coefficients (the missing one would go unchecked)", function () {
      const rng = seededRng(7);
      const a = Array.from({ length: K }, () => randomVector(K, rng));
      const c = commitPedersenMatrix(a, a);
      expectRefusal(() => rowItems(c, K, 1n, rowOf(a, 1n).slice(1), rowOf(a, 1n)), "INVALID_LENGTH");
      expectRefusal(() => columnItems(c, K, 1n, columnOf(a, 1n), columnOf(a, 1n).slice(1)), "INVALID_LENGTH");
    });

    it("works with 64-bit weights and refuses weights shorter than 64 or longer than 128 bits", function () {
      const items = THOUSAND.slice(0, 50);
      expect(verifyBatch(items, K, seededRng(8), { weightBits: 64 }).ok).to.be.true;
      items[9] = corrupt(items[9]!);
      expect(verifyBatch(items, K, seededRng(8), { weightBits: 64 }).bad).to.deep.equal([9]);
      for (const weightBits of [32, 63, 129, 96.5]) {
        expectRefusal(() => verifyBatch(items, K, seededRng(8), { weightBits }), "INVALID_LENGTH");
      }
    });

    it("draws its weights from the rng once, only after checking the whole batch", function () {
      const calls: number[] = [];
      const spy: Rng = (bytes) => {
        calls.push(bytes);
        return seededRng(9)(bytes);
      };
      const items = THOUSAND.slice(0, 20);
      verifyBatch(items, K, spy);
      expect(calls).to.deep.equal([20 * (MAX_WEIGHT_BITS / 8)]);
      calls.length = 0;
      expectRefusal(() => verifyBatch([...items, { ...items[0]!, index: 0n } as BatchItem], K, spy), "INVALID_INDEX");
      expect(calls, "no weight drawn for a batch that is refused").to.deep.equal([]);
    });

    it("checks an empty batch and batches of fewer than 8 items directly, without drawing weights", function () {
      const never: Rng = () => expect.fail("no weights for a small batch");
      expect(verifyBatch([], K, never)).to.deep.equal({ ok: true, bad: [] });
      const small = THOUSAND.slice(0, MIN_COMBINED_ITEMS - 1);
      expect(verifyBatch(small, K, never)).to.deep.equal({ ok: true, bad: [] });
      small[2] = corrupt(small[2]!);
      expect(verifyBatch(small, K, never)).to.deep.equal({ ok: false, bad: [2] });
    });

    it("refuses an rng that returns the wrong number of bytes", function () {
      expectRefusal(() => verifyBatch(THOUSAND.slice(0, 20), K, () => new Uint8Array(1)), "INVALID_LENGTH");
    });
  });

  describe("verifyBatch guards (a malformed item refuses the whole batch, naming the item)", function () {
    const items = THOUSAND.slice(0, 6); // share, share, point, share, share, point
    const refuse = (bad: BatchItem, code: CryptoErrorCode, at = 4): void => {
      const batch = items.slice();
      batch[at] = bad;
      expect(() => verifyBatch(batch, K, seededRng(11)))
        .to.throw(CryptoError, `items[${at}]`)
        .with.property("code", code);
    };
    const share = items[4]! as Extract<BatchItem, { kind: "share" }>;
    const point = items[5]! as Extract<BatchItem, { kind: "point" }>;

    it("rejects a commitment vector of k + 1 points (it would silently raise the threshold)", function () {
      refuse({ ...share, commitment: [...share.commitment, G] }, "INVALID_LENGTH");
      refuse({ ...share, commitment: share.commitment.slice(1) }, "INVALID_LENGTH");
    });

    it("rejects a non-square matrix and a matrix of another threshold", function () {
      refuse({ ...point, commitment: point.commitment.map((row) => [...row, G]) }, "INVALID_LENGTH", 5);
      refuse({ ...point, commitment: [...point.commitment, point.commitment[0]!] }, "INVALID_LENGTH", 5);
      refuse({ ...point, commitment: point.commitment.map((row, j) => (j ? row : row.slice(1))) }, "INVALID_LENGTH", 5);
    });

    it("rejects the point at infinity and points off the curve", function () {
      refuse({ ...share, commitment: [share.commitment[0]!, Point.ZERO, share.commitment[2]!] }, "INVALID_POINT");
      refuse(
        { ...share, commitment: [share.commitment[0]!, share.commitment[1]!, new Point(1n, 1n, 1n)] },
        "INVALID_POINT",
      );
      const matrix = point.commitment.map((row, j) => (j === 1 ? [Point.ZERO, row[1]!, row[2]!] : row));
      refuse({ ...point, commitment: matrix }, "INVALID_POINT", 5);
    });

    it("rejects index 0 and indexes ≥ q, for shares and both coordinates of points", function () {
      for (const i of [0n, ORDER, ORDER + 1n]) {
        refuse({ ...share, index: i }, "INVALID_INDEX");
        refuse({ ...point, x: i }, "INVALID_INDEX", 5);
        refuse({ ...point, y: i }, "INVALID_INDEX", 5);
      }
    });

    it("rejects non-canonical values and blindings", function () {
      refuse({ ...share, value: share.value + ORDER }, "INVALID_SCALAR");
      refuse({ ...share, blinding: -1n }, "INVALID_SCALAR");
      refuse({ ...point, value: 1 as unknown as bigint }, "INVALID_SCALAR", 5);
    });

    it("rejects an item of unknown kind and a threshold that is not a positive integer", function () {
      refuse({ ...share, kind: "row" } as unknown as BatchItem, "INVALID_LENGTH");
      expectRefusal(() => verifyBatch(items, 0, seededRng(12)), "INVALID_LENGTH");
      expectRefusal(() => verifyBatch(items, K + 1, seededRng(12)), "INVALID_LENGTH");
    });
  });

  describe("verifySymmetricRows", function () {
    /** `keys` symmetric sharings of threshold k: Feldman, or Pedersen with a symmetric blinding polynomial. */
    function symmetricDealings(keys: number, k: number, seed: number, pedersen = false) {
      const rng = seededRng(seed);
      return Array.from({ length: keys }, () => {
        const a = randomSymmetricBivariate(randomScalar(rng), k, rng);
        const b = randomSymmetricBivariate(randomScalar(rng), k, rng);
        return { a, b, c: pedersen ? commitPedersenMatrix(a, b) : commitFeldmanMatrix(a) };
      });
    }
    const FIVE = 5;
    const dealt = symmetricDealings(12, FIVE, 30);
    const matrices = dealt.map((d) => d.c);
    const rowsAt = (i: bigint) => dealt.map((d) => rowOf(d.a, i));

    it("passes honest rows of many keys and names exactly the keys with a wrong coefficient, as verifyRow does", function () {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 9 }),
          fc.uniqueArray(fc.integer({ min: 0, max: dealt.length * FIVE - 1 }), { maxLength: 4 }),
          fc.bigInt({ min: 1n, max: ORDER - 1n }),
          (index, wrong, delta) => {
            const i = BigInt(index);
            const rows = rowsAt(i);
            for (const at of wrong)
              rows[Math.floor(at / FIVE)]![at % FIVE] = add(rows[Math.floor(at / FIVE)]![at % FIVE]!, delta);
            const alone = matrices.flatMap((c, key) => (verifyRow(c, FIVE, i, rows[key]!) ? [] : [key]));
            expect(alone).to.deep.equal([...new Set(wrong.map((at) => Math.floor(at / FIVE)))].sort((x, y) => x - y));
            const result = verifySymmetricRows(matrices, FIVE, i, rows, seededRng(index), { weightBits: 64 });
            expect(result).to.deep.equal({ ok: alone.length === 0, bad: alone });
          },
        ),
        { numRuns: Math.min(PROPERTY.numRuns, 25), seed: PROPERTY.seed },
      );
    });

    it("checks Pedersen rows with their blinding rows, and decoded matrices as dealt ones", function () {
      const pedersen = symmetricDealings(4, 3, 31, true);
      const i = 7n;
      const rows = pedersen.map((d) => rowOf(d.a, i));
      const blindingRows = pedersen.map((d) => rowOf(d.b, i));
      const decoded = pedersen.map((d) => d.c.map((row) => row.map((p) => decodePoint(p.toBytes(false), "p"))));
      for (const cs of [pedersen.map((d) => d.c), decoded]) {
        expect(verifySymmetricRows(cs, 3, i, rows, seededRng(1), { blindingRows }).ok).to.be.true;
        const badBlindings = blindingRows.map((r, key) => (key === 2 ? [r[0]!, add(r[1]!, 1n), r[2]!] : r));
        expect(verifySymmetricRows(cs, 3, i, rows, seededRng(1), { blindingRows: badBlindings })).to.deep.equal({
          ok: false,
          bad: [2],
        });
        // Without the blindings the committed values are g^v·h^b, not g^v.
        expect(verifySymmetricRows(cs, 3, i, rows, seededRng(1)).ok).to.be.false;
      }
    });

    it("fails two errors that cancel under equal weights, in one key and across keys", function () {
      const i = 3n;
      for (const [[k1, l1], [k2, l2]] of [
        [
          [0, 1],
          [0, 3],
        ],
        [
          [4, 2],
          [9, 2],
        ],
      ] as const) {
        const rows = rowsAt(i);
        rows[k1]![l1] = add(rows[k1]![l1]!, 5n);
        rows[k2]![l2] = sub(rows[k2]![l2]!, 5n);
        const result = verifySymmetricRows(matrices, FIVE, i, rows, seededRng(2), { weightBits: 64 });
        expect(result).to.deep.equal({ ok: false, bad: [...new Set([k1, k2])] });
      }
    });

    it("checks rows at an index whose powers wrap around q", function () {
      const i = ORDER - 2n;
      expect(verifySymmetricRows(matrices, FIVE, i, rowsAt(i), seededRng(3)).ok).to.be.true;
      const rows = rowsAt(i);
      rows[11]![4] = add(rows[11]![4]!, 1n);
      expect(verifySymmetricRows(matrices, FIVE, i, rows, seededRng(3)).bad).to.deep.equal([11]);
    });

    it("refuses malformed input before drawing any weight, naming what is wrong", function () {
      const never: Rng = () => expect.fail("no weights for a refused batch");
      const rows = rowsAt(2n);
      const refuse = (action: () => unknown, code: CryptoErrorCode, text: string | RegExp) =>
        expect(action).to.throw(CryptoError, text).with.property("code", code);
      const asymmetric = matrices.map((c, key) =>
        key === 3 ? c.map((row, j) => (j === 0 ? [row[0]!, G, ...row.slice(2)] : row)) : c,
      );
      refuse(
        () => verifySymmetricRows(asymmetric, FIVE, 2n, rows, never),
        "INVALID_POINT",
        "matrices[3] is not symmetric",
      );
      const short = rows.map((r, key) => (key === 1 ? r.slice(1) : r));
      refuse(() => verifySymmetricRows(matrices, FIVE, 2n, short, never), "INVALID_LENGTH", "rows[1]");
      refuse(() => verifySymmetricRows(matrices, FIVE, 2n, rows.slice(1), never), "INVALID_LENGTH", "one row");
      const big = rows.map((r, key) => (key === 5 ? [r[0]! + ORDER, ...r.slice(1)] : r));
      refuse(() => verifySymmetricRows(matrices, FIVE, 2n, big, never), "INVALID_SCALAR", "rows[5][0]");
      refuse(() => verifySymmetricRows(matrices, FIVE, 0n, rows, never), "INVALID_INDEX", "row index");
      refuse(
        () => verifySymmetricRows(matrices, FIVE, 2n, rows, never, { weightBits: 32 }),
        "INVALID_LENGTH",
        "weightBits",
      );
      const infinity = matrices.map((c, key) => (key === 0 ? c.map((row) => [Point.ZERO, ...row.slice(1)]) : c));
      refuse(() => verifySymmetricRows(infinity, FIVE, 2n, rows, never), "INVALID_POINT", "infinity");
      expect(verifySymmetricRows([], FIVE, 2n, [], never)).to.deep.equal({ ok: true, bad: [] });
    });
  });

  describe("multiScalarMul", function () {
    const rng = seededRng(13);
    const points = Array.from({ length: 200 }, () => mulGUnblinded(randomNonZeroScalar(rng)));

    it("agrees with noble's pippenger on both of its paths (Straus below 64 points, buckets above)", function () {
      for (const count of [1, 2, 5, 63, 64, 200]) {
        for (const bits of [64, 128, 256]) {
          const scalars = Array.from({ length: count }, () => randomScalar(rng) >> BigInt(256 - bits));
          const ours = multiScalarMul(points.slice(0, count), scalars);
          expect(ours.equals(pippenger(Point, points.slice(0, count), scalars)), `${count} × ${bits} bits`).to.be.true;
        }
      }
    });

    it("agrees on projective points and past 512 short scalars (where the native backend returns to buckets)", function () {
      const projective = [...points, ...points, ...points].map((p, n) => (n % 2 === 0 ? p.double() : p.add(G)));
      for (const [count, bits] of [
        [600, 64],
        [600, 96],
        [30, 256],
      ] as const) {
        const scalars = Array.from({ length: count }, () => randomScalar(rng) >> BigInt(256 - bits));
        const some = projective.slice(0, count);
        expect(multiScalarMul(some, scalars).equals(pippenger(Point, some, scalars)), `${count} × ${bits}`).to.be.true;
      }
    });

    it("handles zero scalars, the point at infinity and an empty input", function () {
      expect(multiScalarMul([], []).is0()).to.be.true;
      expect(multiScalarMul([G, G], [0n, 0n]).is0()).to.be.true;
      const many = [...points.slice(0, 80), Point.ZERO];
      const scalars = many.map((_, n) => (n % 5 === 0 ? 0n : BigInt(n) * 1000003n));
      expect(multiScalarMul(many, scalars).equals(pippenger(Point, many, scalars))).to.be.true;
      expect(multiScalarMul([G, G.negate()], [7n, 7n]).is0()).to.be.true;
    });

    it("sums Σ s·P for scalars of any size (the sum of weights times points)", function () {
      const scalars = [ORDER - 1n, 2n, sub(0n, 2n)];
      const expected = G.negate()
        .add(points[0]!.double())
        .add(points[1]!.multiply(ORDER - 2n));
      expect(multiScalarMul([G, points[0]!, points[1]!], scalars).equals(expected)).to.be.true;
    });

    it("refuses mismatched lengths, negative scalars and non-points", function () {
      expectRefusal(() => multiScalarMul([G], []), "INVALID_LENGTH");
      expectRefusal(() => multiScalarMul([G], [-1n]), "INVALID_SCALAR");
      expectRefusal(() => multiScalarMul([{} as Point], [1n]), "INVALID_POINT");
    });
  });
});
