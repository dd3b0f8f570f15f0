/**
 * Thresholds of an epoch, as the NodeList contract validates them: n >= 4t + 1 (key generation needs more than 3/4
 * honest nodes), k = floor(n/2) + 1 (reconstruction needs more than half) and k <= n - 2t (dual-threshold AVSS).
 */
export interface Thresholds {
  n: number;
  k: number;
  t: number;
}

/** The largest t that n nodes tolerate, and the k that goes with n. */
export function thresholdsFor(n: number, t = Math.floor((n - 1) / 4)): Thresholds {
  return { n, k: Math.floor(n / 2) + 1, t };
}

/** Why (n, k, t) is not a valid epoch, or undefined when it is. Mirrors `NodeList.createEpoch`. */
export function thresholdsError({ n, k, t }: Thresholds): string | undefined {
  if (![n, k, t].every((v) => Number.isSafeInteger(v) && v >= 0)) return "n, k and t must be non-negative integers";
  if (n < 1 || n > 256) return `n = ${n} is outside 1..256`;
  if (n < 4 * t + 1) return `n = ${n} < 4t + 1 = ${4 * t + 1}`;
  if (k !== Math.floor(n / 2) + 1) return `k = ${k} is not floor(n/2) + 1 = ${Math.floor(n / 2) + 1}`;
  if (k > n - 2 * t) return `k = ${k} > n - 2t = ${n - 2 * t}`;
  return undefined;
}
