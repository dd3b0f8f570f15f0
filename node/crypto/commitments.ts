/**
 * Feldman and Pedersen commitments to polynomials and their verification.
 *
 * A commitment to f(x) = Σ a_j·x^j is the vector C_j = g^{a_j} (Feldman 1987) or C_j = g^{a_j}·h^{b_j} with a random
 * blinding polynomial r(x) = Σ b_j·x^j (Pedersen 1991: perfectly hiding, binding as long as log_g h is unknown). A
 * share (f(i), r(i)) is checked "in the exponent": g^{f(i)}·h^{r(i)} = Σ_j C_j·i^j (additive notation below).
 *
 * For the bivariate sharings of AVSS (Cachin, Kursawe, Lysyanskaya, Strobl 2002, §3), the dealer commits to the
 * k×k coefficient matrix of f(x, y) = Σ a_jl·x^j·y^l: C[j][l] = g^{a_jl}·h^{b_jl}. Node i receives its row f(i, y)
 * and its column f(x, i) and checks them against C; echoes carry single points f(i, m). The matrix layout is
 * bivariate.ts's: `matrix[j][l]` belongs to x^j·y^l.
 *
 * The threshold k is always the caller's (from the epoch), never read off the commitment: a vector of k + 1 points
 * would silently raise the reconstruction threshold to k + 1 (Feldman's check still passes for shares of a
 * polynomial of degree k), so every size is checked against k.
 */
import { assertIndex, assertScalar } from "./field.ts";
import { CryptoError } from "./errors.ts";
import { evaluateCommitmentUnchecked, mulG, mulGUnblinded, mulH, mulHUnblinded } from "./generators.ts";
import { assertPoint } from "./point.ts";
import type { Point } from "./point.ts";

/** Commitments to the coefficients of a polynomial, constant term first. */
export type CommitmentVector = readonly Point[];
/** Commitments to the coefficients of a bivariate polynomial: `matrix[j][l]` for x^j·y^l. */
export type CommitmentMatrix = readonly (readonly Point[])[];

// ── guards ──────────────────────────────────────────────────────────────────────────────────────────────────────

/** Asserts a threshold: a positive integer (the number of coefficients of every sharing polynomial). */
export function assertThreshold(k: unknown, field = "k"): asserts k is number {
  if (typeof k !== "number" || !Number.isSafeInteger(k) || k < 1) {
    throw new CryptoError("INVALID_LENGTH", `${field} must be a positive integer, got ${String(k)}`);
  }
}

function assertLength(value: unknown, k: number, field: string): asserts value is readonly unknown[] {
  if (!Array.isArray(value)) throw new CryptoError("INVALID_LENGTH", `${field} must be an array`);
  if (value.length !== k) {
    throw new CryptoError("INVALID_LENGTH", `${field} must have exactly k = ${k} entries, got ${value.length}`);
  }
}

/** Asserts a commitment to a polynomial of k coefficients: exactly k finite points of the curve. */
export function assertCommitmentVector(commitment: unknown, k: number, field = "commitment"): void {
  assertThreshold(k);
  assertLength(commitment, k, field);
  for (const [j, point] of commitment.entries()) assertPoint(point, `${field}[${j}]`);
}

/** Asserts a commitment to a bivariate polynomial: a square k×k matrix of finite points of the curve. */
export function assertCommitmentMatrix(matrix: unknown, k: number, field = "commitment"): void {
  assertThreshold(k);
  assertLength(matrix, k, field);
  for (const [j, row] of matrix.entries()) assertCommitmentVector(row, k, `${field}[${j}]`);
}

function assertScalars(values: unknown, k: number, field: string): asserts values is readonly bigint[] {
  assertLength(values, k, field);
  for (const [j, value] of values.entries()) assertScalar(value, `${field}[${j}]`);
}

function assertScalarMatrix(matrix: unknown, field: string): asserts matrix is readonly (readonly bigint[])[] {
  if (!Array.isArray(matrix) || matrix.length === 0) {
    throw new CryptoError("INVALID_LENGTH", `${field} must be a non-empty square matrix`);
  }
  for (const [j, row] of matrix.entries()) assertScalars(row, matrix.length, `${field}[${j}]`);
}

// ── committing (dealer side: the scalars are secret, so the blinded constant-time multiplication) ──────────────

function nonZero(point: Point, field: string): Point {
  // The point at infinity cannot be sent (it has no uncompressed encoding) and verifiers refuse it; it happens only
  // for a zero coefficient (Feldman) or with probability 2^-256 (Pedersen): the dealer should draw again.
  if (point.is0()) throw new CryptoError("INVALID_SCALAR", `${field} commits to the point at infinity; draw again`);
  return point;
}

/** Feldman commitment g^{a_j} to the coefficients a_0..a_{k−1}. */
export function commitFeldman(coefficients: readonly bigint[]): Point[] {
  assertScalars(coefficients, coefficients?.length ?? 0, "coefficients");
  if (coefficients.length === 0) throw new CryptoError("INVALID_LENGTH", "coefficients must not be empty");
  return coefficients.map((a, j) => nonZero(mulG(a), `coefficient ${j}`));
}

/** Pedersen commitment g^{a_j}·h^{b_j} to the coefficients a_j blinded by b_j (same length). */
export function commitPedersen(coefficients: readonly bigint[], blindings: readonly bigint[]): Point[] {
  assertScalars(coefficients, coefficients?.length ?? 0, "coefficients");
  if (coefficients.length === 0) throw new CryptoError("INVALID_LENGTH", "coefficients must not be empty");
  assertScalars(blindings, coefficients.length, "blindings");
  return coefficients.map((a, j) => nonZero(mulG(a).add(mulH(blindings[j]!)), `coefficient ${j}`));
}

/** Feldman commitment to a k×k coefficient matrix: C[j][l] = g^{a_jl}. */
export function commitFeldmanMatrix(coefficients: readonly (readonly bigint[])[]): Point[][] {
  assertScalarMatrix(coefficients, "coefficients");
  return commitEntries(
    coefficients,
    (j, l) => coefficients[j]![l] === coefficients[l]![j],
    (j, l) => mulG(coefficients[j]![l]!),
  );
}

/** Pedersen commitment to a k×k coefficient matrix blinded by another: C[j][l] = g^{a_jl}·h^{b_jl}. */
export function commitPedersenMatrix(
  coefficients: readonly (readonly bigint[])[],
  blindings: readonly (readonly bigint[])[],
): Point[][] {
  assertScalarMatrix(coefficients, "coefficients");
  assertLength(blindings, coefficients.length, "blindings");
  assertScalarMatrix(blindings, "blindings");
  return commitEntries(
    coefficients,
    (j, l) => coefficients[j]![l] === coefficients[l]![j] && blindings[j]![l] === blindings[l]![j],
    (j, l) => mulG(coefficients[j]![l]!).add(mulH(blindings[j]![l]!)),
  );
}

/** The matrix's commitments, an entry below the diagonal taken from its mirror when their coefficients are equal. */
function commitEntries(
  coefficients: readonly (readonly bigint[])[],
  mirrored: (j: number, l: number) => boolean,
  commit: (j: number, l: number) => Point,
): Point[][] {
  const matrix: Point[][] = coefficients.map(() => []);
  for (const [j, row] of coefficients.entries()) {
    for (let l = 0; l < row.length; l++) {
      matrix[j]![l] = l < j && mirrored(j, l) ? matrix[l]![j]! : nonZero(commit(j, l), `coefficient [${j}][${l}]`);
    }
  }
  return matrix;
}

/** Whether C[j][l] = C[l][j] everywhere: the commitment of a symmetric polynomial (commitments are binding). */
export function isSymmetricMatrix(matrix: CommitmentMatrix): boolean {
  for (let j = 1; j < matrix.length; j++) {
    for (let l = 0; l < j; l++) {
      // A parsed matrix holds one object for both entries (dkg/wire.ts): no curve arithmetic then.
      const [below, above] = [matrix[j]![l]!, matrix[l]![j]!];
      if (below !== above && !below.equals(above)) return false;
    }
  }
  return true;
}

// ── reducing a matrix to the commitment of one row or column (public, so Horner with small scalars) ───────────

/**
 * The commitment to the row polynomial f(i, y) = Σ_l (Σ_j a_jl·i^j)·y^l: entry l is Σ_j C[j][l]·i^j. Checked input;
 * the entries may be the point at infinity (a dealer may make a row coefficient 0).
 */
export function rowCommitment(matrix: CommitmentMatrix, k: number, i: bigint): Point[] {
  assertCommitmentMatrix(matrix, k);
  assertIndex(i, "row index");
  return rowCommitmentUnchecked(matrix, i);
}

/** The commitment to the column polynomial f(x, i) = Σ_j (Σ_l a_jl·i^l)·x^j: entry j is Σ_l C[j][l]·i^l. */
export function columnCommitment(matrix: CommitmentMatrix, k: number, i: bigint): Point[] {
  assertCommitmentMatrix(matrix, k);
  assertIndex(i, "column index");
  return columnCommitmentUnchecked(matrix, i);
}

function rowCommitmentUnchecked(matrix: CommitmentMatrix, i: bigint): Point[] {
  // Entry l evaluates (C[0][l], …, C[k−1][l]), the commitment to the coefficients of y^l, at x = i.
  return matrix.map((_, l) =>
    evaluateCommitmentUnchecked(
      matrix.map((entries) => entries[l]!),
      i,
    ),
  );
}

function columnCommitmentUnchecked(matrix: CommitmentMatrix, i: bigint): Point[] {
  return matrix.map((row) => evaluateCommitmentUnchecked(row, i));
}

// ── verifying (verifier side) ───────────────────────────────────────────────────────────────────────────────────

/** g^v·h^b (g^v when there is no blinding, i.e. a Feldman commitment). */
function committedValue(value: bigint, blinding: bigint | undefined): Point {
  const gv = mulGUnblinded(value);
  return blinding === undefined ? gv : gv.add(mulHUnblinded(blinding));
}

function assertOptionalScalar(value: unknown, field: string): asserts value is bigint | undefined {
  if (value !== undefined) assertScalar(value, field);
}

/**
 * Whether (value, blinding) = (f(i), r(i)) for the polynomials committed to by `commitment` (k points, constant term
 * first): g^value·h^blinding = Σ_j C_j·i^j. Omit `blinding` for a Feldman commitment (g^{f(i)} = Σ_j C_j·i^j).
 * Throws on malformed input (wrong size, invalid point, non-canonical scalar, index 0 or ≥ q); returns false when the
 * share does not match.
 */
export function verifyShare(
  commitment: CommitmentVector,
  k: number,
  i: bigint,
  value: bigint,
  blinding?: bigint,
): boolean {
  assertCommitmentVector(commitment, k);
  assertIndex(i, "share index");
  assertScalar(value, "share value");
  assertOptionalScalar(blinding, "share blinding");
  return committedValue(value, blinding).equals(evaluateCommitmentUnchecked(commitment, i));
}

/**
 * Whether `row` (k coefficients of f(i, y), constant term first) and `blindingRow` (those of r(i, y); omit for a
 * Feldman matrix) are node i's row of the committed bivariate polynomial. Checked coefficient by coefficient, as
 * Cachin et al. 2002 (§3, "verify-poly") do: g^{row_l}·h^{blindingRow_l} = Σ_j C[j][l]·i^j for every l.
 */
export function verifyRow(
  matrix: CommitmentMatrix,
  k: number,
  i: bigint,
  row: readonly bigint[],
  blindingRow?: readonly bigint[],
): boolean {
  assertCommitmentMatrix(matrix, k);
  assertIndex(i, "row index");
  assertScalars(row, k, "row");
  if (blindingRow !== undefined) assertScalars(blindingRow, k, "blinding row");
  return coefficientsMatch(rowCommitmentUnchecked(matrix, i), row, blindingRow);
}

/**
 * Whether `column` (k coefficients of f(x, i)) and `blindingColumn` (those of r(x, i); omit for Feldman) are node
 * i's column: g^{column_j}·h^{blindingColumn_j} = Σ_l C[j][l]·i^l for every j.
 */
export function verifyColumn(
  matrix: CommitmentMatrix,
  k: number,
  i: bigint,
  column: readonly bigint[],
  blindingColumn?: readonly bigint[],
): boolean {
  assertCommitmentMatrix(matrix, k);
  assertIndex(i, "column index");
  assertScalars(column, k, "column");
  if (blindingColumn !== undefined) assertScalars(blindingColumn, k, "blinding column");
  return coefficientsMatch(columnCommitmentUnchecked(matrix, i), column, blindingColumn);
}

/**
 * Whether (value, blinding) = (f(x, y), r(x, y)) for the committed bivariate polynomials ("verify-point" of Cachin et
 * al. 2002): g^value·h^blinding = Σ_l (Σ_j C[j][l]·x^j)·y^l. Both x and y are share indexes. Omit `blinding` for a
 * Feldman matrix.
 */
export function verifyPoint(
  matrix: CommitmentMatrix,
  k: number,
  x: bigint,
  y: bigint,
  value: bigint,
  blinding?: bigint,
): boolean {
  assertCommitmentMatrix(matrix, k);
  assertIndex(x, "x");
  assertIndex(y, "y");
  assertScalar(value, "point value");
  assertOptionalScalar(blinding, "point blinding");
  const committed = evaluateCommitmentUnchecked(rowCommitmentUnchecked(matrix, x), y);
  return committedValue(value, blinding).equals(committed);
}

function coefficientsMatch(
  committed: readonly Point[],
  values: readonly bigint[],
  blindings: readonly bigint[] | undefined,
): boolean {
  // Every coefficient is checked even after a mismatch would be known: the answer does not depend on where a bad
  // coefficient sits, and neither does the time it takes.
  let ok = true;
  for (const [l, point] of committed.entries()) {
    if (!committedValue(values[l]!, blindings?.[l]).equals(point)) ok = false;
  }
  return ok;
}
