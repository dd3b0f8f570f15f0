import { expect } from "chai";

import { extractCommitments, extractScalar, extractionMatrix } from "../../node/dkg/extraction.ts";
import { ORDER, inv, mul, randomScalar, sub, type Rng } from "../../node/crypto/field.ts";
import { evaluateCommitment, mulG, mulH } from "../../node/crypto/generators.ts";
import { lagrangeCoefficients } from "../../node/crypto/lagrange.ts";
import { evaluatePolynomial } from "../../node/crypto/polynomial.ts";
import { proveShare, verifyShareProofs } from "../../node/crypto/share-proof.ts";
import { Prng } from "../support/prng.ts";

const SEED = Number(process.env.EXTRACTION_SEED ?? 256);
const prng = new Prng(SEED);
const rng: Rng = (bytes) => Uint8Array.from({ length: bytes }, () => prng.nextUint32() & 0xff);

/** The rank of a matrix over Z_q, by Gaussian elimination on a copy. */
function rankModQ(rows: readonly (readonly bigint[])[]): number {
  const m = rows.map((row) => [...row]);
  let rank = 0;
  for (let col = 0; col < (m[0]?.length ?? 0) && rank < m.length; col++) {
    const pivot = m.findIndex((row, i) => i >= rank && row[col] !== 0n);
    if (pivot < 0) continue;
    [m[rank], m[pivot]] = [m[pivot]!, m[rank]!];
    const scale = inv(m[rank]![col]!);
    for (let i = rank + 1; i < m.length; i++) {
      const factor = mul(m[i]![col]!, scale);
      if (factor === 0n) continue;
      for (let c = col; c < m[i]!.length; c++) m[i]![c] = sub(m[i]![c]!, mul(factor, m[rank]![c]!));
    }
    rank++;
  }
  return rank;
}

function sample<T>(items: readonly T[], count: number): T[] {
  const pool = [...items];
  for (let i = pool.length - 1; i > 0; i--) {
    const j = prng.int(0, i);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, count);
}

describe(`randomness extraction at n = 256, t = 63, k = 129 (EXTRACTION_SEED=${SEED})`, function () {
  this.timeout(120_000);
  const [n, t, k] = [256, 63, 129];
  // The worst case: the k + t highest indexes, whose powers x^128 reach 2^1024 before reduction.
  const dealers = Array.from({ length: k + t }, (_, j) => BigInt(n - k - t + 1 + j));
  const M = extractionMatrix(dealers, k);
  // Each dealer's f_j(x, 0) and its blinding polynomial, degree k − 1.
  const values = dealers.map(() => Array.from({ length: k }, () => randomScalar(rng)));
  const blindings = dealers.map(() => Array.from({ length: k }, () => randomScalar(rng)));

  it("reduces every entry of the matrix below q, as x_j^r mod q", function () {
    expect(M).to.have.length(k);
    for (const row of M) for (const entry of row) expect(entry >= 0n && entry < ORDER).to.equal(true);
    for (const [r, j] of [
      [k - 1, k + t - 1],
      [k - 1, 0],
      [64, 100],
      [1, 7],
    ] as const)
      expect(M[r]![j]).to.equal(dealers[j]! ** BigInt(r) % ORDER);
  });

  it("keeps any k of the k + t columns invertible (sampled), so the honest dealers' secrets are the outputs", function () {
    for (let s = 0; s < 3; s++) {
      const columns = sample(
        dealers.map((_, j) => j),
        k,
      );
      expect(rankModQ(M.map((row) => columns.map((j) => row[j]!)))).to.equal(k);
    }
  });

  it("puts every output's combined shares on one polynomial of degree k − 1, whose value at 0 is the output", function () {
    const indexes = [
      1n,
      BigInt(n),
      ...sample(
        Array.from({ length: n - 2 }, (_, i) => BigInt(i + 2)),
        k + 6,
      ),
    ];
    const [basis, extra] = [indexes.slice(0, k), indexes.slice(k)];
    const evaluations = indexes.map((i) => values.map((f) => evaluatePolynomial(f, i)));
    const atExtra = extra.map((x) => lagrangeCoefficients(basis, x));
    const atZero = lagrangeCoefficients(basis);
    const dot = (a: readonly bigint[], b: readonly bigint[]) => a.reduce((sum, x, j) => (sum + x * b[j]!) % ORDER, 0n);
    for (let output = 0; output < k; output++) {
      const shares = evaluations.map((at) => extractScalar(M[output]!, at));
      const onBasis = shares.slice(0, k);
      extra.forEach((_, e) => expect(dot(atExtra[e]!, onBasis)).to.equal(shares[k + e]));
      const secret = extractScalar(
        M[output]!,
        values.map((f) => f[0]!),
      );
      expect(dot(atZero, onBasis)).to.equal(secret);
    }
  });

  it("combines commitments to match the combined shares, and their proofs verify, at the first and last node", function () {
    for (const i of [1n, BigInt(n)]) {
      const [f, b] = [values, blindings].map((polys) => polys.map((poly) => evaluatePolynomial(poly, i)));
      const share = (output: number) => extractScalar(M[output]!, f!);
      const blinding = (output: number) => extractScalar(M[output]!, b!);
      // Dealer j's commitment to (f_j(i), b_j(i)); the extraction is linear, so extracting these equals evaluating
      // the extracted column commitments at i.
      const evaluated = dealers.map((_, j) => [mulG(f![j]!).add(mulH(b![j]!))]);
      const combined = extractCommitments(dealers, evaluated, k);
      for (let output = 0; output < k; output++) {
        const expected = mulG(share(output)).add(mulH(blinding(output)));
        expect(combined[output]![0]!.equals(expected), `output ${output} at node ${i}`).to.equal(true);
      }
      const claims = [0, k - 1].map((output) => {
        const context = new TextEncoder().encode(`extraction test\x1c${output}\x1c${i}`);
        const C = combined[output]![0]!;
        const proved = proveShare(share(output), blinding(output), context, rng, C);
        return { Y: proved.Y, C, proof: proved.proof, context };
      });
      expect(verifyShareProofs(claims, rng)).to.deep.equal([true, true]);
    }
  });
});

describe("randomness extraction of commitment columns", function () {
  it("equals the column of the extracted polynomial, coefficient by coefficient (n9, k5, t2)", function () {
    const dealers = [2n, 3n, 5n, 6n, 7n, 8n, 9n];
    const k = 5;
    const M = extractionMatrix(dealers, k);
    const coefficients = dealers.map(() => Array.from({ length: k }, () => randomScalar(rng)));
    const columns = extractCommitments(
      dealers,
      coefficients.map((f) => f.map((a) => mulG(a))),
      k,
    );
    for (let output = 0; output < k; output++) {
      const combined = Array.from({ length: k }, (_, c) =>
        extractScalar(
          M[output]!,
          coefficients.map((f) => f[c]!),
        ),
      );
      combined.forEach((a, c) => expect(columns[output]![c]!.equals(mulG(a))).to.equal(true));
      // Evaluating the extracted column at a node gives g^(its extracted share).
      expect(evaluateCommitment(columns[output]!, 4n).equals(mulG(evaluatePolynomial(combined, 4n)))).to.equal(true);
    }
  });

  it("refuses dealer indexes that repeat, are 0 or reach q, and more outputs than dealers", function () {
    expect(() => extractionMatrix([1n, 1n], 1)).to.throw(RangeError);
    expect(() => extractionMatrix([0n, 1n], 1)).to.throw(RangeError);
    expect(() => extractionMatrix([1n, ORDER], 1)).to.throw(RangeError);
    expect(() => extractionMatrix([1n, 2n], 3)).to.throw(RangeError);
  });
});
