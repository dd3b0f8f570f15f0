import { expect } from "chai";
import pino from "pino";

import { runCheck } from "../../node/dkg/checks.ts";
import { curveBackend } from "../../node/crypto/backend.ts";
import { CheckPool } from "../../node/runtime/check-pool.ts";
import { Prng } from "../support/prng.ts";
import { dealJob, publicKeysJob, rowsJob, shareProofsJob, sharesJob, tamperedRows } from "../support/check-jobs.ts";
import { matricesToWire } from "../../node/dkg/wire.ts";

const prng = new Prng(5);
const rng = (bytes: number) => Uint8Array.from({ length: bytes }, () => prng.nextUint32() & 0xff);
const crypto = { backend: curveBackend().name === "native" ? "native" : "noble", allowSlowFallback: true } as const;
const log = pino({ level: "silent" });

describe("check pool (worker threads for the checks' curve work)", function () {
  this.timeout(60_000);
  let pool: CheckPool;

  before(async function () {
    pool = await CheckPool.start(2, crypto, log);
  });

  after(async function () {
    await pool.close();
  });

  it("gives every job the verdict the check gives on the main thread, many jobs at once", async function () {
    const rows = rowsJob(rng, { k: 3, self: 2, keys: 4 });
    const feldman = rowsJob(rng, { k: 5, self: 7, keys: 3, feldman: true });
    const proofs = shareProofsJob(rng, { k: 3, prover: 4, keys: 4 });
    const jobs = [
      rows,
      tamperedRows(rows, 1, 0),
      feldman,
      tamperedRows(feldman, 2, 4),
      proofs,
      { ...proofs, prover: 1 },
    ];
    const all = [...jobs, ...jobs, ...jobs];
    const verdicts = await Promise.all(all.map((job) => pool.run(job)));
    expect(verdicts).to.deep.equal(all.map((job) => runCheck(job, rng)));
    expect(verdicts.filter((v) => v.ok)).to.have.length(9);
    expect(pool.workers).to.equal(2);
  });

  it("computes a batch's shares on a worker as on the main thread", async function () {
    const job = sharesJob(rng, { k: 3, self: 4, dealers: [1, 2, 4, 5], sharings: 3 });
    const [onWorker, here] = [await pool.run(job), runCheck(job, rng)];
    expect(onWorker.s).to.deep.equal(here.s);
    expect(onWorker.r).to.deep.equal(here.r);
    expect(onWorker.columns.flat().every((p, i) => p.equals(here.columns.flat()[i]!))).to.equal(true);
    expect(onWorker.proofs.map((p) => p.Y)).to.deep.equal(here.proofs.map((p) => p.Y)); // Y = s·G; the proofs' nonces differ
  });

  it("deals and combines public keys on a worker as on the main thread", async function () {
    const deal = dealJob(rng, { k: 3, sharings: 2 });
    const [dealt, dealtHere] = [await pool.run(deal), runCheck(deal, rng)];
    expect(matricesToWire(dealt.commitments)).to.deep.equal(matricesToWire(dealtHere.commitments));
    const { job } = publicKeysJob(rng, { n: 5, k: 3, keys: 3, missing: [4] });
    expect(await pool.run(job)).to.deep.equal(runCheck(job, rng));
  });

  it("runs waiting jobs on the event loop's thread too while every worker is busy, one per turn of the loop", async function () {
    const own = await CheckPool.start(1, crypto, log);
    try {
      const job = rowsJob(rng, { k: 3, self: 1, keys: 8 });
      const bad = tamperedRows(job, 0, 1);
      // One worker holds two jobs at a time: of 20, most wait, and the event loop takes some of them.
      const jobs = Array.from({ length: 20 }, (_, i) => (i % 4 === 3 ? bad : job));
      // At each turn of the loop, how many jobs this thread has run: another callback gets its turn between two.
      const seen: number[] = [];
      let done = false;
      const look = () => {
        seen.push(own.mainThreadJobs);
        if (!done) setImmediate(look);
      };
      look();
      const verdicts = await Promise.all(jobs.map((j) => own.run(j)));
      done = true;
      expect(verdicts.map((v) => v.ok)).to.deep.equal(jobs.map((j) => j === job));
      expect(own.mainThreadJobs).to.be.within(1, 18);
      expect(seen.reduce((most, n, i) => Math.max(most, n - (seen[i - 1] ?? n)), 0)).to.equal(1);
      const idle = own.mainThreadJobs;
      expect(await own.run(job)).to.deep.equal({ ok: true });
      expect(own.mainThreadJobs, "a job a worker is free for runs there").to.equal(idle);
    } finally {
      await own.close();
    }
  });

  it("answers the jobs it still holds when it closes, on the main thread", async function () {
    const own = await CheckPool.start(1, crypto, log);
    const job = rowsJob(rng, { k: 3, self: 1, keys: 8 });
    const pending = Array.from({ length: 6 }, () => own.run(job));
    await own.close();
    expect(await Promise.all(pending)).to.deep.equal(pending.map(() => ({ ok: true })));
    expect(await own.run(tamperedRows(job, 0, 1))).to.deep.include({ ok: false });
  });

  it("refuses a pool of no workers (crypto.workers 0 means no pool at all)", async function () {
    let error: unknown;
    try {
      await CheckPool.start(0, crypto, log);
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(RangeError);
  });
});
