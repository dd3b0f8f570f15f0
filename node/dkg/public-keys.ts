/**
 * A batch's public keys from the nodes' share keys: k valid Y_j = s_j·G fix each key's public key (its value at 0)
 * and every other node's Y by Lagrange interpolation in the exponent, one multi-scalar multiplication per point. A
 * job of plain inputs (checks.ts), so that a node with check workers combines them on one of them. Public values
 * only: variable-time arithmetic is fine.
 */
import { multiScalarMul } from "../crypto/batch-verify.ts";
import { lagrangeCoefficients } from "../crypto/lagrange.ts";
import { affinePoints, type Point } from "../crypto/point.ts";
import { pointHex } from "./wire.ts";

export interface PublicKeysJob {
  kind: "publicKeys";
  /** The threshold: how many share keys fix a key. */
  k: number;
  /** Per node (index − 1): its checked Y of each key of the batch, or null when it has not come. */
  shareKeys: (readonly Point[] | null)[];
}

export interface PublicKeys {
  /** Per key of the batch: the public key's wire hex. */
  publicKeys: string[];
  /** Per key, per node (index − 1): its Y's wire hex, received or interpolated. */
  shareKeys: string[][];
}

export function combinePublicKeys({ k, shareKeys }: PublicKeysJob): PublicKeys {
  const senders = shareKeys.flatMap((ys, m) => (ys ? [m + 1] : [])).slice(0, k);
  if (senders.length < k) throw new RangeError(`public keys need ${k} nodes' share keys, not ${senders.length}`);
  const indexes = senders.map(BigInt);
  const keys = shareKeys[senders[0]! - 1]!.length;
  const lambdasAt = new Map<number, bigint[]>();
  const combine = (key: number, at: number) => {
    let lambdas = lambdasAt.get(at);
    if (!lambdas) lambdasAt.set(at, (lambdas = lagrangeCoefficients(indexes, BigInt(at))));
    return multiScalarMul(
      senders.map((sender) => shareKeys[sender - 1]![key]!),
      lambdas,
    );
  };
  const range = Array.from({ length: keys }, (_, key) => key);
  // Affine together, one inversion for all; a received Y keeps the encoding it came in.
  const publicKeys = affinePoints(range.map((key) => combine(key, 0))).map(pointHex);
  const missing = shareKeys.flatMap((ys, m) => (ys ? [] : [m + 1]));
  const interpolated = new Map(
    missing.map((node) => [node, affinePoints(range.map((key) => combine(key, node))).map(pointHex)]),
  );
  return {
    publicKeys,
    shareKeys: range.map((key) => shareKeys.map((ys, m) => (ys ? pointHex(ys[key]!) : interpolated.get(m + 1)![key]!))),
  };
}
