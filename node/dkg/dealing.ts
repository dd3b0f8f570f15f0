/**
 * A dealer's commitments to its batch's polynomials: the curve work of dealing (two fixed-base multiplications per
 * entry on or above the diagonal of each symmetric k × k matrix), as a job of plain inputs (checks.ts), so that a node
 * with check workers deals on one of them. The polynomials themselves are drawn, and persisted, by the core: a
 * restarted dealer commits to the same ones again.
 */
import { commitPedersenMatrix } from "../crypto/commitments.ts";
import type { Point } from "../crypto/point.ts";

export interface DealJob {
  kind: "deal";
  /** Per sharing of the batch: the symmetric bivariate polynomial's coefficients, and its blinding polynomial's. */
  f: bigint[][][];
  fb: bigint[][][];
}

export interface Dealt {
  /** Per sharing: its Pedersen commitment matrix. */
  commitments: Point[][][];
}

export function dealCommitments({ f, fb }: DealJob): Dealt {
  return { commitments: f.map((poly, sharing) => commitPedersenMatrix(poly, fb[sharing]!)) };
}
