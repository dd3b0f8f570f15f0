/**
 * A token bucket per client (by IP): `ratePerSecond` sustained, `burst` at once. Bounded memory: idle buckets are
 * forgotten once full again, and at most `maxClients` are tracked (beyond that, the oldest are dropped).
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly now: () => number = () => Date.now(),
    readonly maxClients = 100_000,
  ) {}

  take(client: string): boolean {
    const now = this.now();
    const bucket = this.#buckets.get(client) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSecond);
    bucket.at = now;
    this.#buckets.delete(client);
    if (bucket.tokens < 1) {
      this.#buckets.set(client, bucket);
      return false;
    }
    bucket.tokens -= 1;
    this.#buckets.set(client, bucket);
    if (this.#buckets.size > this.maxClients) this.#buckets.delete(this.#buckets.keys().next().value!);
    return true;
  }
}
