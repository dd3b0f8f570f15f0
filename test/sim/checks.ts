/**
 * How a simulated cluster runs its cores' checks (node/dkg/checks.ts): in place, as a node without a worker pool does
 * (the default: the cores emit no `check`); after a delay drawn from the cluster's seed, which drives the deferred
 * path deterministically, with verdicts arriving after the messages around them; or on a real worker pool, for a
 * benchmark on every core (not deterministic: verdicts arrive when the workers finish).
 */
import type { CheckJob, CheckResult } from "../../node/dkg/checks.ts";
import { runCheck } from "../../node/dkg/checks.ts";
import type { Rng } from "../../node/crypto/field.ts";
import type { Prng } from "../support/prng.ts";
import type { Scheduler } from "./scheduler.ts";

export type SimChecks =
  { kind: "delayed"; maxDelayMs: number } | { kind: "pool"; pool: { run(job: CheckJob): Promise<CheckResult> } };

export class SimCheckRunner {
  /** Checks on the pool whose verdicts have not reached the scheduler yet. */
  outstanding = 0;
  #wake: (() => void) | undefined;

  constructor(
    readonly mode: SimChecks | undefined,
    private readonly scheduler: Scheduler,
    private readonly prng: Prng,
  ) {}

  get deferred(): boolean {
    return this.mode !== undefined;
  }

  /** Runs a node's job and hands its result to `deliver` as a scheduled event. */
  run(job: CheckJob, rng: Rng, deliver: (result: CheckResult) => void): void {
    const mode = this.mode;
    if (mode === undefined) throw new Error("a core emitted a check although its cluster checks in place");
    if (mode.kind === "delayed") {
      this.scheduler.after(this.prng.int(0, mode.maxDelayMs), () => deliver(runCheck(job, rng)));
      return;
    }
    this.outstanding++;
    void mode.pool.run(job).then((result) => {
      this.outstanding--;
      this.scheduler.after(0, () => deliver(result));
      this.#wake?.();
    });
  }

  /** Resolves once a check on the pool has finished (a benchmark awaits it while its scheduler is idle). */
  finished(): Promise<void> {
    return new Promise((resolve) => (this.#wake = resolve));
  }
}

/**
 * What a fault scenario's seed runs its checks with: odd seeds defer them, with verdicts delayed up to 0–40 ms, so
 * that every scenario covers both paths of the cores across its seeds.
 */
export function checksForSeed(seed: number): SimChecks | undefined {
  return seed % 2 === 1 ? { kind: "delayed", maxDelayMs: 10 * (seed % 5) } : undefined;
}
