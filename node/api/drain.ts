/**
 * How fast the free-key buffer drains: keys assigned per minute over the last minutes, from samples of the assigned
 * count. Key generation refills the buffer in batches; an operator (or an alert) compares this rate with the refill
 * rate to see an assignment flood before the buffer runs dry, which is what an open KeyAssign let anyone cause.
 */
export class DrainMeter {
  /** (time ms, assigned) samples, oldest first, at least `stepMs` apart (≤ window ÷ step + 2 of them). */
  readonly #samples: { at: number; assigned: number }[] = [];

  constructor(
    private readonly now: () => number = Date.now,
    readonly windowMs = 5 * 60_000,
    readonly stepMs = 5_000,
  ) {}

  /**
   * Records the assigned count now (cheap; called on a timer and on every read). At most one sample per step, whatever
   * changed: /status is open to anyone, and a sample per read during an assignment flood would grow with the reads.
   */
  sample(assigned: number): void {
    const at = this.now();
    const last = this.#samples.at(-1);
    if (last && at - last.at < this.stepMs) return;
    this.#samples.push({ at, assigned });
    while (this.#samples.length > 2 && at - this.#samples[0]!.at > this.windowMs) this.#samples.shift();
  }

  /** Keys assigned per minute over the samples held (0 until two samples a step apart exist). */
  perMinute(): number {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    if (!first || !last || last.at - first.at < this.stepMs) return 0;
    return Math.round(((last.assigned - first.assigned) / (last.at - first.at)) * 60_000 * 10) / 10;
  }
}
