import { expect } from "chai";

import {
  PendingChecks,
  checkJobFromPlain,
  checkJobToPlain,
  checkResultFromPlain,
  checkResultToPlain,
  runCheck,
  type CheckJob,
  type CheckOutput,
} from "../../node/dkg/checks.ts";
import { Prng } from "../support/prng.ts";
import { dealJob, publicKeysJob, rowsJob, shareProofsJob, sharesJob, tamperedRows } from "../support/check-jobs.ts";
import type { BatchShares } from "../../node/dkg/batch-shares.ts";
import { bivariateRow } from "../../node/crypto/bivariate.ts";
import { mulG } from "../../node/crypto/generators.ts";
import { evaluatePolynomial } from "../../node/crypto/polynomial.ts";
import type { Dealt } from "../../node/dkg/dealing.ts";
import type { PublicKeys } from "../../node/dkg/public-keys.ts";
import { matricesToWire, parsePoint, parseScalar, pointHex } from "../../node/dkg/wire.ts";

const prng = new Prng(23);
const rng = (bytes: number) => Uint8Array.from({ length: bytes }, () => prng.nextUint32() & 0xff);
/** Through the plain form and a structured clone, as a job reaches a worker of the check pool. */
const viaThread = <J extends CheckJob>(job: J) => checkJobFromPlain(structuredClone(checkJobToPlain(job))) as J;

describe("checks (the curve work a core can hand to its shell)", function () {
  it("passes a dealer's honest rows, Pedersen and Feldman, and refuses a row off by one coefficient", function () {
    for (const feldman of [false, true]) {
      const job = rowsJob(rng, { k: 3, self: 2, keys: 4, feldman });
      expect(runCheck(job, rng)).to.deep.equal({ ok: true });
      expect(runCheck(tamperedRows(job, 3, 2), rng)).to.deep.equal({
        ok: false,
        reason: "rows or columns do not match the commitments",
      });
    }
  });

  it("passes honest share-key proofs and refuses one made for another node", function () {
    const job = shareProofsJob(rng, { k: 3, prover: 4, keys: 5 });
    expect(runCheck(job, rng)).to.deep.equal({ ok: true });
    expect(runCheck({ ...job, prover: 3 }, rng)).to.deep.equal({
      ok: false,
      reason: "share key proof does not verify",
    });
  });

  it("refuses a job it cannot run (a row of the wrong length) with the reason, rather than throwing", function () {
    const job = rowsJob(rng, { k: 3, self: 2, keys: 2 });
    const short = { ...job, rows: job.rows.map((row) => row.slice(1)) };
    const verdict = runCheck(short, rng);
    expect(verdict.ok).to.equal(false);
    expect(!verdict.ok && verdict.reason).to.match(/^the check could not run: /);
  });

  it("crosses a thread as plain data: the same points and scalars, the same verdicts", function () {
    const rows = rowsJob(rng, { k: 3, self: 5, keys: 3 });
    const crossed = viaThread(rows);
    expect(crossed.commitments.flat(2).every((p, i) => p.equals(rows.commitments.flat(2)[i]!))).to.equal(true);
    expect(crossed.rows).to.deep.equal(rows.rows);
    expect(crossed.rowBlindings).to.deep.equal(rows.rowBlindings);
    expect(runCheck(crossed, rng).ok).to.equal(true);
    expect(runCheck(viaThread(tamperedRows(rows, 0, 0)), rng).ok).to.equal(false);
    const feldman = viaThread(rowsJob(rng, { k: 3, self: 1, keys: 2, feldman: true }));
    expect(feldman.rowBlindings).to.equal(undefined);
    expect(runCheck(feldman, rng).ok).to.equal(true);
    const proofs = shareProofsJob(rng, { k: 5, prover: 9, keys: 3 });
    expect(runCheck(viaThread(proofs), rng).ok).to.equal(true);
    expect(runCheck(viaThread({ ...proofs, prover: 8 }), rng).ok).to.equal(false);
  });

  it("computes a batch's shares and proofs that the other nodes' check accepts, the same through a thread", function () {
    const job = sharesJob(rng, { k: 3, self: 2, dealers: [1, 3, 4, 5], sharings: 2 });
    const shares = runCheck(job, rng);
    expect(shares.s).to.have.length(6);
    const crossed = checkResultFromPlain(
      structuredClone(checkResultToPlain(runCheck(viaThread(job), rng))),
    ) as BatchShares;
    expect(crossed.s).to.deep.equal(shares.s);
    expect(crossed.r).to.deep.equal(shares.r);
    expect(crossed.columns.flat().every((p, i) => p.equals(shares.columns.flat()[i]!))).to.equal(true);
    const claims = (proofs: typeof shares.proofs) =>
      proofs.map(({ Y, T1, T2, u1, u2 }, key) => ({
        Y: parsePoint(Y, "Y"),
        proof: {
          T1: parsePoint(T1, "T1"),
          T2: parsePoint(T2, "T2"),
          u1: parseScalar(u1, "u1"),
          u2: parseScalar(u2, "u2"),
        },
        context: job.contexts[key]!,
      }));
    for (const { proofs } of [shares, crossed]) {
      const check = { kind: "shareProofs", prover: 2, columns: shares.columns, claims: claims(proofs) } as const;
      expect(runCheck(check, rng)).to.deep.equal({ ok: true });
      expect(runCheck({ ...check, prover: 1 }, rng).ok).to.equal(false);
    }
  });

  it("deals commitments that the receivers' check accepts, the same through a thread, with their wire form", function () {
    const job = dealJob(rng, { k: 3, sharings: 4 });
    const { commitments } = runCheck(job, rng);
    const plain = structuredClone(checkResultToPlain(runCheck(viaThread(job), rng)));
    const crossed = checkResultFromPlain(plain) as Dealt;
    expect(matricesToWire(crossed.commitments)).to.deep.equal(matricesToWire(commitments));
    expect(matricesToWire(crossed.commitments)).to.equal((plain as { commitments: string[][][] }).commitments);
    for (const self of [1, 4]) {
      const rows = job.f.map((f) => bivariateRow(f, BigInt(self)));
      const rowBlindings = job.fb.map((f) => bivariateRow(f, BigInt(self)));
      const check = { kind: "rows", k: 3, self, commitments: crossed.commitments, rows, rowBlindings } as const;
      expect(runCheck(check, rng)).to.deep.equal({ ok: true });
    }
  });

  it("combines a batch's public keys from every node's share keys, or from k with the others interpolated", function () {
    for (const missing of [[], [2, 5]]) {
      const { job, polynomials } = publicKeysJob(rng, { n: 5, k: 3, keys: 4, missing });
      const expected = (f: bigint[], x: number) => pointHex(mulG(evaluatePolynomial(f, BigInt(x))));
      for (const combined of [runCheck(job, rng), runCheck(viaThread(job), rng)] as PublicKeys[]) {
        expect(combined.publicKeys).to.deep.equal(polynomials.map((f) => expected(f, 0)));
        expect(combined.shareKeys).to.deep.equal(polynomials.map((f) => [1, 2, 3, 4, 5].map((x) => expected(f, x))));
      }
    }
    const { job } = publicKeysJob(rng, { n: 5, k: 3, keys: 1, missing: [1, 2, 3] });
    expect(() => runCheck(job, rng)).to.throw(RangeError, "public keys need 3 nodes' share keys, not 2");
  });

  describe("pending checks", function () {
    it("inline, runs a check at once and its continuation before run returns", function () {
      const outputs: CheckOutput[] = [];
      const checks = new PendingChecks(false, rng, (o) => outputs.push(o));
      let verdict: unknown;
      checks.run(rowsJob(rng, { k: 3, self: 1, keys: 1 }), (v) => (verdict = v));
      expect(verdict).to.deep.equal({ ok: true });
      expect(outputs).to.deep.equal([]);
    });

    it("deferred, emits the job and continues once its verdict is entered, once; an unknown verdict is ignored", function () {
      const outputs: CheckOutput[] = [];
      const checks = new PendingChecks(true, rng, (o) => outputs.push(o));
      const verdicts: unknown[] = [];
      const job = rowsJob(rng, { k: 3, self: 1, keys: 1 });
      checks.run(job, (v) => verdicts.push(v));
      expect(outputs).to.have.length(1);
      expect(outputs[0]!.job).to.equal(job);
      expect(verdicts).to.deep.equal([]);
      expect(checks.waiting).to.equal(1);
      checks.settle({ type: "checked", id: outputs[0]!.id + 1, result: { ok: true } });
      expect(verdicts).to.deep.equal([]);
      const verdict = { ok: false, reason: "no" } as const;
      checks.settle({ type: "checked", id: outputs[0]!.id, result: verdict });
      checks.settle({ type: "checked", id: outputs[0]!.id, result: { ok: true } });
      expect(verdicts).to.deep.equal([verdict]);
      expect(checks.waiting).to.equal(0);
    });
  });
});
