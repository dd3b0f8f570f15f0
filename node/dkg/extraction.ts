/**
 * Randomness extraction (Damgård–Nielsen, "Scalable and unconditionally secure multiparty computation", CRYPTO 2007):
 * from the sharings of k + t agreed dealers, of which at most t are Byzantine, k independent random keys instead of
 * one. Output r is Σ_j M[r][j]·(dealer j's sharing) with the k × (k + t) Vandermonde matrix M[r][j] = x_j^r over the
 * dealers' distinct indexes x_j. For any choice of the t Byzantine columns, the k × k submatrix of the honest columns is
 * an invertible Vandermonde matrix, so the outputs are a bijection of the honest dealers' secrets: uniform and
 * independent, whatever the Byzantine dealers shared. Entries are small integers (≤ n^(k−1)), so combining
 * commitments costs short scalar multiplications.
 */
export function extractionMatrix(dealerIndexes: readonly bigint[], outputs: number): bigint[][] {
  if (new Set(dealerIndexes).size !== dealerIndexes.length || dealerIndexes.some((x) => x <= 0n)) {
    throw new RangeError("dealer indexes must be distinct and positive");
  }
  if (outputs > dealerIndexes.length) throw new RangeError("more outputs than dealers");
  return Array.from({ length: outputs }, (_, r) => dealerIndexes.map((x) => x ** BigInt(r)));
}
