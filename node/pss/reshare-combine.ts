/**
 * A new node's shares of a chunk's keys, from the first k_old decided old dealers' completed resharings: its share
 * s'_j = Σ λ_i f_i(j, 0), and each key's public commitment Ĉ = Σ λ_i C_i(x, 0) (Lagrange over the dealers' old
 * indexes), whose constant term must be the unchanged public key and whose value at m is the new Y'_m.
 */
import { multiScalarMul } from "../crypto/batch-verify.ts";
import { add, mul } from "../crypto/field.ts";
import { evaluateCommitmentAtIndexes, mulG } from "../crypto/generators.ts";
import { lagrangeCoefficients } from "../crypto/lagrange.ts";
import { affinePoints, type Point } from "../crypto/point.ts";
import type { Sharing } from "../dkg/sharing.ts";
import { pointHex, scalarHex } from "../dkg/wire.ts";
import type { MovedKey, ResharedKey } from "./types.ts";

export interface Reshares {
  /** The chunk, for what a failed check says. */
  chunk: number;
  /** The decided dealers' old indexes, ascending, and their completed sharings (this node's rows in hand). */
  dealers: number[];
  sessions: Sharing[];
  /** The chunk's moved keys and their public keys, as agreed. */
  keys: MovedKey[];
  publicKeys: Point[];
  /** This node's index and the new epoch's n and k. */
  self: number;
  n: number;
  k: number;
}

/** The new shares of every key of the chunk; throws if one does not match the public key or its commitment (a bug). */
export function combineReshares({ chunk, dealers, sessions, keys, publicKeys, self, n, k }: Reshares): ResharedKey[] {
  const lambdas = lagrangeCoefficients(dealers.map(BigInt));
  return keys.map((moved, key) => {
    const column: Point[] = [];
    for (let c = 0; c < k; c++) {
      column.push(
        multiScalarMul(
          sessions.map((s) => s.commitments.get(s.own!.hash)![key]![c]![0]!),
          lambdas,
        ),
      );
    }
    let share = 0n;
    sessions.forEach((s, j) => (share = add(share, mul(lambdas[j]!, s.own!.rows[key]![0]!))));
    if (!column[0]!.equals(publicKeys[key]!))
      throw new Error(`chunk ${chunk} key ${key}: the reshared commitments lost the public key (a bug)`);
    // Affine together: each is encoded below.
    const shareKeys = affinePoints(evaluateCommitmentAtIndexes(column, n));
    if (!mulG(share).equals(shareKeys[self - 1]!))
      throw new Error(`chunk ${chunk} key ${key}: the new share does not match its commitment (a bug)`);
    return {
      keyIndex: moved.keyIndex,
      publicKey: moved.publicKey,
      ...(moved.owner ? { owner: moved.owner } : {}),
      shareKeys: shareKeys.map(pointHex),
      share: scalarHex(share),
    };
  });
}
