/**
 * Vote thresholds for n validators of equal power. "2f + 1" in the paper means more than two thirds of the power and
 * "f + 1" more than one third; with equal power that is ⌊2n/3⌋ + 1 and ⌊n/3⌋ + 1 votes. Computing 2f + 1 from
 * f = ⌊(n − 1)/3⌋ instead gives 3 of 5, and two such quorums can then intersect in a Byzantine validator only.
 */
export function quorum(n: number): number {
  return Math.floor((2 * n) / 3) + 1;
}

/** Votes that prove at least one honest validator is in a later round (Algorithm 1, line 55). */
export function skipThreshold(n: number): number {
  return Math.floor(n / 3) + 1;
}

/** Byzantine validators tolerated: the largest f with n > 3f. */
export function maxFaulty(n: number): number {
  return Math.floor((n - 1) / 3);
}
