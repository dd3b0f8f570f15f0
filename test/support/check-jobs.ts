/**
 * Check jobs (node/dkg/checks.ts) as a node meets them, for the tests of the checks and of the check pool: a dealer's
 * send to node `self` (Pedersen, or Feldman as in the handover), a node's share-key proofs, and key generation's
 * computations (a batch's shares, a dealing, a batch's public keys).
 */
import { bivariateRow, randomSymmetricBivariate } from "../../node/crypto/bivariate.ts";
import { commitFeldmanMatrix, commitPedersen, commitPedersenMatrix } from "../../node/crypto/commitments.ts";
import { add, randomScalar, type Rng } from "../../node/crypto/field.ts";
import { evaluateCommitment, mulG } from "../../node/crypto/generators.ts";
import { evaluatePolynomial } from "../../node/crypto/polynomial.ts";
import { proveShare } from "../../node/crypto/share-proof.ts";
import type { CheckJob } from "../../node/dkg/checks.ts";
import type { Point } from "../../node/crypto/point.ts";

export function rowsJob(
  rng: Rng,
  options: { k: number; self: number; keys: number; feldman?: boolean },
): CheckJob & {
  kind: "rows";
} {
  const { k, self, keys, feldman = false } = options;
  const i = BigInt(self);
  const polys = Array.from({ length: keys }, () => randomSymmetricBivariate(randomScalar(rng), k, rng));
  const blinds = Array.from({ length: keys }, () => randomSymmetricBivariate(randomScalar(rng), k, rng));
  return {
    kind: "rows",
    k,
    self,
    commitments: polys.map((f, key) => (feldman ? commitFeldmanMatrix(f) : commitPedersenMatrix(f, blinds[key]!))),
    rows: polys.map((f) => bivariateRow(f, i)),
    ...(feldman ? {} : { rowBlindings: blinds.map((f) => bivariateRow(f, i)) }),
  };
}

/** The same job with one coefficient of one row off by one: its check must fail. */
export function tamperedRows(
  job: CheckJob & { kind: "rows" },
  key: number,
  coefficient: number,
): CheckJob & { kind: "rows" } {
  const rows = job.rows.map((row, r) => row.map((c, l) => (r === key && l === coefficient ? add(c, 1n) : c)));
  return { ...job, rows };
}

export function shareProofsJob(
  rng: Rng,
  options: { k: number; prover: number; keys: number },
): CheckJob & {
  kind: "shareProofs";
} {
  const { k, prover, keys } = options;
  const x = BigInt(prover);
  const columns: Point[][] = [];
  const claims = Array.from({ length: keys }, (_, key) => {
    const f = Array.from({ length: k }, () => randomScalar(rng));
    const r = Array.from({ length: k }, () => randomScalar(rng));
    const column = commitPedersen(f, r);
    columns.push(column);
    const context = new TextEncoder().encode(`test/${key}/${prover}`);
    const C = evaluateCommitment(column, x);
    const { Y, proof } = proveShare(evaluatePolynomial(f, x), evaluatePolynomial(r, x), context, rng, C);
    return { Y, proof, context };
  });
  return { kind: "shareProofs", prover, columns, claims };
}

/** A batch's `shares` job as a node has it after the decision: each dealer's f_j(x, 0) committed, its value at self. */
export function sharesJob(
  rng: Rng,
  options: { k: number; self: number; dealers: number[]; sharings: number },
): CheckJob & { kind: "shares" } {
  const { k, self, dealers, sharings } = options;
  const x = BigInt(self);
  const polynomials = Array.from({ length: sharings }, () =>
    dealers.map(() => ({ f: randomPolynomial(k, rng), b: randomPolynomial(k, rng) })),
  );
  return {
    kind: "shares",
    k,
    self,
    dealers,
    values: polynomials.map((perDealer) => perDealer.map(({ f }) => evaluatePolynomial(f, x))),
    blindings: polynomials.map((perDealer) => perDealer.map(({ b }) => evaluatePolynomial(b, x))),
    dealerColumns: polynomials.map((perDealer) => perDealer.map(({ f, b }) => commitPedersen(f, b))),
    contexts: Array.from({ length: sharings * k }, (_, key) => new TextEncoder().encode(`shares/${key}/${self}`)),
  };
}

function randomPolynomial(k: number, rng: Rng): bigint[] {
  return Array.from({ length: k }, () => randomScalar(rng));
}

/** A dealer's `deal` job: a batch of `sharings` symmetric polynomials of degree k − 1 and their blindings. */
export function dealJob(rng: Rng, options: { k: number; sharings: number }): CheckJob & { kind: "deal" } {
  const { k, sharings } = options;
  const polynomials = () => Array.from({ length: sharings }, () => randomSymmetricBivariate(randomScalar(rng), k, rng));
  return { kind: "deal", f: polynomials(), fb: polynomials() };
}

/**
 * A batch's `publicKeys` job: per key a random polynomial of degree k − 1, each node's Y its value at the node times
 * G, the nodes in `missing` without theirs; with the secrets, so that a test can check the public keys against them.
 */
export function publicKeysJob(
  rng: Rng,
  options: { n: number; k: number; keys: number; missing?: number[] },
): { job: CheckJob & { kind: "publicKeys" }; polynomials: bigint[][] } {
  const { n, k, keys, missing = [] } = options;
  const polynomials = Array.from({ length: keys }, () => randomPolynomial(k, rng));
  const shareKeys = Array.from({ length: n }, (_, m) =>
    missing.includes(m + 1) ? null : polynomials.map((f) => mulG(evaluatePolynomial(f, BigInt(m + 1)))),
  );
  return { job: { kind: "publicKeys", k, shareKeys }, polynomials };
}
