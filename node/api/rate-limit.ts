/**
 * Per-source quotas. A source is what one client can cheaply have many of: an IPv4 address, or an IPv6 /64 (one
 * subscriber gets a whole /64, so counting IPv6 addresses one by one would give a single client 2^64 quotas).
 *
 * A token bucket per source: `ratePerSecond` sustained, `burst` at once. Bounded memory: idle buckets are forgotten
 * once full again, and at most `maxClients` are tracked (beyond that, the oldest are dropped).
 */
import { isIPv4, isIPv6 } from "node:net";

/** The quota key of a client address: IPv4 as is (also when mapped into IPv6), IPv6 cut to its /64. */
export function sourceOf(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (isIPv4(ip) || !isIPv6(ip)) return ip;
  let address = ip.split("%")[0]!.toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    address = address.slice(0, v4.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = address.split("::");
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === undefined || tail === "" ? [] : tail.split(":");
  const zeros = Array<string>(8 - headGroups.length - tailGroups.length).fill("0");
  const groups = tail === undefined ? headGroups : [...headGroups, ...zeros, ...tailGroups];
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(":")}::/64`;
}

export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly now: () => number = () => Date.now(),
    readonly maxClients = 100_000,
  ) {}

  /** Takes one token of `client`'s bucket; false (and nothing taken) when it is empty. */
  take(client: string): boolean {
    const bucket = this.#refill(client);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Whether `client` has a token now, taking none. */
  allows(client: string): boolean {
    return this.#refill(client).tokens >= 1;
  }

  #refill(client: string): { tokens: number; at: number } {
    const now = this.now();
    const bucket = this.#buckets.get(client) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.ratePerSecond);
    bucket.at = now;
    // Re-inserted, so the map's order is least recently used first and the oldest is the one dropped.
    this.#buckets.delete(client);
    this.#buckets.set(client, bucket);
    if (this.#buckets.size > this.maxClients) this.#buckets.delete(this.#buckets.keys().next().value!);
    return bucket;
  }
}
