/**
 * A node's shares of a key-generation batch and the proofs it publishes of them: the curve work that follows the
 * dealer-set decision, as one function of plain inputs, so that a node with check workers runs it on one of them
 * (checks.ts) while its event loop goes on. Each of the batch's sharings per dealer yields k keys by extraction
 * (extraction.ts): key (κ, r) is Σ_j M[r][j]·(dealer j's sharing κ), so this node's share is Σ_j M[r][j]·f_j(i, 0),
 * and the key's column commitment, which every node checks the others' proofs against, is the same combination of
 * the dealers' column-0 commitments.
 */
import type { Rng } from "../crypto/field.ts";
import { evaluateCommitmentUnchecked } from "../crypto/generators.ts";
import { affinePoints, type Point } from "../crypto/point.ts";
import { proveShare } from "../crypto/share-proof.ts";
import { extractCommitments, extractScalar, extractionMatrix } from "./extraction.ts";
import type { ProofsMessage } from "./types.ts";
import { pointHex, scalarHex } from "./wire.ts";

export interface SharesJob {
  kind: "shares";
  k: number;
  /** This node's index. */
  self: number;
  /** The decided dealers whose sharings are combined, ascending. */
  dealers: number[];
  /** Per sharing of the batch, per dealer: f_j(i, 0) and its blinding, the constant terms of this node's rows. */
  values: bigint[][];
  blindings: bigint[][];
  /** Per sharing, per dealer: column 0 of the dealer's commitment matrix (the commitment to f_j(x, 0)). */
  dealerColumns: (readonly Point[])[][];
  /** Per key of the batch: what its proof is bound to (epoch, key index, this node). */
  contexts: Uint8Array[];
}

export interface BatchShares {
  s: bigint[];
  r: bigint[];
  /** Per key: the commitment to its sharing polynomial, k points. */
  columns: Point[][];
  /** Per key: Y = s·G and the proof that it opens the key's commitment at this node. */
  proofs: ProofsMessage["proofs"];
}

export function computeBatchShares(job: SharesJob, rng: Rng): BatchShares {
  const { k } = job;
  const dealerIndexes = job.dealers.map(BigInt);
  const M = extractionMatrix(dealerIndexes, k);
  const s: bigint[] = [];
  const r: bigint[] = [];
  const columns: Point[][] = [];
  job.values.forEach((values, sharing) => {
    const combined = extractCommitments(dealerIndexes, job.dealerColumns[sharing]!, k);
    for (let output = 0; output < k; output++) {
      s.push(extractScalar(M[output]!, values));
      r.push(extractScalar(M[output]!, job.blindings[sharing]!));
      columns.push(combined[output]!);
    }
  });
  const self = BigInt(job.self);
  // The columns are combinations of the dealers' checked columns: no point of them needs a curve check again.
  const commitments = affinePoints(columns.map((column) => evaluateCommitmentUnchecked(column, self)));
  const proofs = s.map((share, key) => {
    const { Y, proof } = proveShare(share, r[key]!, job.contexts[key]!, rng, commitments[key]);
    const [y, t1, t2] = affinePoints([Y, proof.T1, proof.T2]).map(pointHex);
    return { Y: y!, T1: t1!, T2: t2!, u1: scalarHex(proof.u1), u2: scalarHex(proof.u2) };
  });
  return { s, r, columns, proofs };
}
