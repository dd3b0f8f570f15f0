/**
 * Randomness extraction (Damgård–Nielsen, "Scalable and unconditionally secure multiparty computation", CRYPTO 2007):
 * from the sharings of k + t agreed dealers, of which at most t are Byzantine, k independent random keys instead of
 * one. Output r is Σ_j M[r][j]·(dealer j's sharing) with the k × (k + t) Vandermonde matrix M[r][j] = x_j^r mod q over
 * the dealers' distinct indexes x_j. For any choice of the t Byzantine columns, the k × k submatrix of the honest
 * columns is an invertible Vandermonde matrix (distinct x_j < q), so the outputs are a bijection of the honest
 * dealers' secrets: uniform and independent, whatever the Byzantine dealers shared.
 *
 * The entries are reduced mod q: x_j^r itself reaches 256^128 = 2^1024 in an epoch of 256 nodes, and every scalar
 * operation takes only values below q (unreduced, an epoch of n ≥ 86 threw on its first decided batch). Commitments
 * are combined without the matrix: x_j^r·C = x_j·(x_j^(r−1)·C), one multiplication by the small index x_j per output,
 * which is what the reduced entry means in a group of order q and costs ≈ 9 doublings instead of a full-size
 * multiplication.
 */
import { add, mul, ORDER } from "../crypto/field.ts";
import { mulSmall } from "../crypto/generators.ts";
import { Point } from "../crypto/point.ts";

/** M[r][j] = x_j^r mod q for r = 0..outputs−1. */
export function extractionMatrix(dealerIndexes: readonly bigint[], outputs: number): bigint[][] {
  if (new Set(dealerIndexes).size !== dealerIndexes.length || dealerIndexes.some((x) => x <= 0n || x >= ORDER)) {
    throw new RangeError("dealer indexes must be distinct and in 1..q−1");
  }
  if (outputs > dealerIndexes.length) throw new RangeError("more outputs than dealers");
  const rows: bigint[][] = [dealerIndexes.map(() => 1n)];
  for (let r = 1; r < outputs; r++) rows.push(rows[r - 1]!.map((power, j) => mul(power, dealerIndexes[j]!)));
  return rows.slice(0, outputs);
}

/** Σ_j weights[j]·values[j] mod q: one output of the extraction from the dealers' scalars (shares or blindings). */
export function extractScalar(weights: readonly bigint[], values: readonly bigint[]): bigint {
  if (weights.length !== values.length) throw new RangeError("one value per dealer");
  let sum = 0n;
  for (let j = 0; j < weights.length; j++) sum = add(sum, mul(weights[j]!, values[j]!));
  return sum;
}

/**
 * The extraction applied to commitment vectors: out[r][c] = Σ_j x_j^r·vectors[j][c], for r = 0..outputs−1. A vector
 * per dealer, all of one length (a column of coefficient commitments, or a single point); the map is linear, so
 * evaluating the result at an index equals extracting the dealers' evaluations there.
 */
export function extractCommitments(
  dealerIndexes: readonly bigint[],
  vectors: readonly (readonly Point[])[],
  outputs: number,
): Point[][] {
  if (vectors.length !== dealerIndexes.length) throw new RangeError("one commitment vector per dealer");
  const length = vectors[0]?.length ?? 0;
  if (vectors.some((v) => v.length !== length)) throw new RangeError("commitment vectors differ in length");
  const out = Array.from({ length: outputs }, () => Array.from({ length }, () => Point.ZERO));
  dealerIndexes.forEach((x, j) => {
    for (let c = 0; c < length; c++) {
      let power = vectors[j]![c]!;
      for (let r = 0; r < outputs; r++) {
        out[r]![c] = out[r]![c]!.add(power);
        if (r + 1 < outputs) power = mulSmall(power, x);
      }
    }
  });
  return out;
}
