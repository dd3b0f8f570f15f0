/**
 * The curve work of a sharing, as jobs that a protocol core can hand to its shell: the checks of what peers sent — a
 * dealer's rows against its commitments (key generation and the handover), a node's share-key proofs (key
 * generation) — and key generation's computations: a dealer's commitments (dealing.ts), a node's shares and proofs of
 * a batch (batch-shares.ts) and the batch's public keys (public-keys.ts). They are most of a sharing's cost, and they
 * parallelise: a node with a worker pool
 * (node/runtime/check-pool.ts) runs them there and enters each result into its core as an input, so the cores stay
 * synchronous and the simulations deterministic. A core without a pool runs the same function inline.
 *
 * A job holds everything it needs (curve points, scalars, bytes) and nothing of the core's state: the core checks,
 * when a result arrives, that what it was asked for still matters (a batch may have finished meanwhile).
 */
import { verifySymmetricRows } from "../crypto/batch-verify.ts";
import type { Rng } from "../crypto/field.ts";
import { evaluateCommitmentUnchecked } from "../crypto/generators.ts";
import { derivedPoint, ownPointHex, type Point } from "../crypto/point.ts";
import { verifyShareProofs, type ShareProof } from "../crypto/share-proof.ts";
import { computeBatchShares, type BatchShares, type SharesJob } from "./batch-shares.ts";
import { dealCommitments, type DealJob, type Dealt } from "./dealing.ts";
import { combinePublicKeys, type PublicKeys, type PublicKeysJob } from "./public-keys.ts";
import { matricesToWire, ownMatrices, pointHex, vectorsToWire } from "./wire.ts";

export type CheckJob =
  | SharesJob
  | DealJob
  | PublicKeysJob
  | {
      kind: "rows";
      k: number;
      /** The checking node's index: the row it holds of each key's polynomial. */
      self: number;
      commitments: readonly (readonly (readonly Point[])[])[];
      rows: readonly (readonly bigint[])[];
      /** Absent for a Feldman sharing (the handover's), whose commitments carry no blinding. */
      rowBlindings?: readonly (readonly bigint[])[] | undefined;
    }
  | {
      kind: "shareProofs";
      /** The node whose proofs these are: each claim's commitment is its key's column evaluated at that index. */
      prover: number;
      columns: readonly (readonly Point[])[];
      claims: readonly { Y: Point; proof: ShareProof; context: Uint8Array }[];
    };

export type CheckVerdict = { ok: true } | { ok: false; reason: string };

/** What a job gives: a verdict for a check; for a computation, what it computes. */
export type CheckResult<J extends CheckJob = CheckJob> = J extends SharesJob
  ? BatchShares
  : J extends DealJob
    ? Dealt
    : J extends PublicKeysJob
      ? PublicKeys
      : CheckVerdict;

/** The jobs that compute: their failure is a bug of this node, not a peer's fault, and throws. */
type Computation = SharesJob | DealJob | PublicKeysJob;

const OK: CheckVerdict = { ok: true };

/**
 * Runs a job. A check that cannot even run (a point or row of the wrong shape, which parsing should have refused)
 * fails with the reason, like a check that does not hold: the peer's message is refused, nothing throws. A
 * computation is this node's own: a failure there is a bug, and throws.
 */
export function runCheck<J extends CheckJob>(job: J, rng: Rng): CheckResult<J> {
  if (job.kind === "shares") return computeBatchShares(job, rng) as CheckResult<J>;
  if (job.kind === "deal") return dealCommitments(job) as CheckResult<J>;
  if (job.kind === "publicKeys") return combinePublicKeys(job) as CheckResult<J>;
  try {
    return checkOnce(job, rng) as CheckResult<J>;
  } catch (error) {
    const reason = `the check could not run: ${error instanceof Error ? error.message : String(error)}`;
    return { ok: false, reason } as CheckResult<J>;
  }
}

function checkOnce(job: Exclude<CheckJob, Computation>, rng: Rng): CheckVerdict {
  switch (job.kind) {
    case "rows": {
      // Every coefficient of every row in one random linear combination with 64-bit weights: a bad send passes with
      // probability 2^-64, for half the multiplication work of 128-bit weights.
      const { k, self, commitments, rows, rowBlindings } = job;
      return verifySymmetricRows(commitments, k, BigInt(self), rows, rng, {
        weightBits: 64,
        blindingRows: rowBlindings,
      }).ok
        ? OK
        : { ok: false, reason: "rows or columns do not match the commitments" };
    }
    case "shareProofs": {
      const x = BigInt(job.prover);
      // The columns are points this process checked or computed (a batch's columns), so their evaluation is too.
      const claims = job.claims.map(({ Y, proof, context }, key) => ({
        Y,
        C: derivedPoint(evaluateCommitmentUnchecked(job.columns[key]!, x)),
        proof,
        context,
      }));
      return verifyShareProofs(claims, rng).every(Boolean)
        ? OK
        : { ok: false, reason: "share key proof does not verify" };
    }
  }
}

/** A core's output that asks its shell to run a job, and the input that brings the result back. */
export type CheckOutput = { type: "check"; id: number; job: CheckJob };
export type CheckedInput = { type: "checked"; id: number; result: CheckResult };

/**
 * The jobs a core waits for. Inline (no pool), a job runs at once and its continuation within the same step, as if
 * the core had done the work in place. Deferred, the job goes out as a `check` output and the continuation runs when
 * the shell enters its result; a result for no waiting job (the core restarted since) is ignored. The core bounds how
 * many jobs wait (one per dealer's send, one per node's proofs, one per batch's shares), so this map stays small.
 */
export class PendingChecks {
  #next = 0;
  readonly #waiting = new Map<number, (result: CheckResult) => void>();

  constructor(
    private readonly deferred: boolean,
    private readonly rng: Rng,
    private readonly emit: (output: CheckOutput) => void,
  ) {}

  run<J extends CheckJob>(job: J, then: (result: CheckResult<J>) => void): void {
    if (!this.deferred) return then(runCheck(job, this.rng));
    const id = this.#next++;
    this.#waiting.set(id, then as (result: CheckResult) => void);
    this.emit({ type: "check", id, job });
  }

  settle({ id, result }: CheckedInput): void {
    const then = this.#waiting.get(id);
    if (!then) return;
    this.#waiting.delete(id);
    then(result);
  }

  get waiting(): number {
    return this.#waiting.size;
  }
}

type Plain<J> = J extends { kind: "rows" }
  ? Omit<J, "commitments"> & { commitments: string[][][] }
  : J extends { kind: "shareProofs" }
    ? Omit<J, "columns" | "claims"> & {
        columns: string[][];
        claims: { Y: string; T1: string; T2: string; u1: bigint; u2: bigint; context: Uint8Array }[];
      }
    : J extends { kind: "shares" }
      ? Omit<J, "dealerColumns"> & { dealerColumns: string[][][] }
      : J extends { kind: "publicKeys" }
        ? Omit<J, "shareKeys"> & { shareKeys: (string[] | null)[] }
        : J;

/** A job as plain data for another thread (a structured clone cannot carry points): every point as its wire hex. */
export type PlainCheckJob = Plain<CheckJob>;
/** A result as plain data: a batch's shares with their column commitments as hex, a dealing's commitments as hex. */
export type PlainCheckResult =
  CheckVerdict | PublicKeys | (Omit<BatchShares, "columns"> & { columns: string[][] }) | { commitments: string[][][] };

/**
 * A job as plain data. Its points travel as wire hex: points parsed from a message remember their encoding
 * (crypto/point.ts) and a batch's columns their hex (dkg/wire.ts), so the main thread, which the pool is there to
 * relieve, encodes next to nothing. Hex
 * crosses a thread faster than bigint coordinates. The other thread reads the points without checking them again
 * (`ownPointHex`): this process checked them when it parsed them, or computed them.
 */
export function checkJobToPlain(job: CheckJob): PlainCheckJob {
  switch (job.kind) {
    case "rows":
      return { ...job, commitments: matricesToWire(job.commitments) };
    case "shareProofs": {
      const claims = job.claims.map(({ Y, proof: { T1, T2, u1, u2 }, context }) => {
        return { Y: pointHex(Y), T1: pointHex(T1), T2: pointHex(T2), u1, u2, context };
      });
      return { ...job, columns: vectorsToWire(job.columns), claims };
    }
    case "shares":
      return { ...job, dealerColumns: job.dealerColumns.map(vectorsToWire) };
    case "deal":
      return job;
    case "publicKeys":
      return { ...job, shareKeys: job.shareKeys.map((ys) => ys && ys.map(pointHex)) };
  }
}

/** The job `checkJobToPlain` made, in the thread that runs it. */
export function checkJobFromPlain(plain: PlainCheckJob): CheckJob {
  const point = ownPointHex;
  const vectors = (v: string[][]) => v.map((vector) => vector.map(point));
  switch (plain.kind) {
    case "rows":
      return { ...plain, commitments: plain.commitments.map(vectors) };
    case "shareProofs": {
      const claims = plain.claims.map(({ Y, T1, T2, u1, u2, context }) => ({
        Y: point(Y),
        proof: { T1: point(T1), T2: point(T2), u1, u2 },
        context,
      }));
      return { ...plain, columns: vectors(plain.columns), claims };
    }
    case "shares":
      return { ...plain, dealerColumns: plain.dealerColumns.map(vectors) };
    case "deal":
      return plain;
    case "publicKeys":
      return { ...plain, shareKeys: plain.shareKeys.map((ys) => ys && ys.map(point)) };
  }
}

export function checkResultToPlain(result: CheckResult): PlainCheckResult {
  if ("columns" in result) return { ...result, columns: vectorsToWire(result.columns) };
  if ("commitments" in result) return { commitments: matricesToWire(result.commitments) };
  return result;
}

export function checkResultFromPlain(plain: PlainCheckResult): CheckResult {
  if ("columns" in plain) return { ...plain, columns: plain.columns.map((column) => column.map(ownPointHex)) };
  if ("commitments" in plain) return { commitments: ownMatrices(plain.commitments) };
  return plain;
}
