/**
 * One dealer's sharing of one batch, as node i sees it: Cachin–Kursawe–Lysyanskaya–Strobl AVSS (2002), with the
 * Torus node's thresholds. The dealer sent i its row f(i, y) and column f(x, i) of each key (or did not, or lied);
 * i echoes points to every node, and readies once it can rebuild its row and column from what others echoed, even if
 * the dealer never sent them (there is no complaint phase). Pure bookkeeping: no IO, no signing.
 */
import { evaluatePolynomial, interpolatePolynomial } from "../crypto/polynomial.ts";
import { verifyPoint } from "../crypto/commitments.ts";
import type { Point } from "../crypto/point.ts";
import type { Points } from "./wire.ts";

/** Node i's row and column of each key of the batch (coefficients), with their blindings. */
export interface RowsAndColumns {
  hash: string;
  rows: bigint[][];
  rowBlindings: bigint[][];
  cols: bigint[][];
  colBlindings: bigint[][];
}

/** A peer's points stay parked while the commitments they must be checked against are unknown; this many at most. */
const MAX_PARKED = 64;
/** Distinct commitment hashes remembered per sharing: an honest dealer makes one, a lying one gains nothing more. */
export const MAX_HASHES = 4;

export class Sharing {
  readonly commitments = new Map<string, Point[][][]>();
  /** The hash of the dealer's first valid send: the only one this node echoes. */
  sendHash: string | undefined;
  own: RowsAndColumns | undefined;
  readonly echoes = new Map<string, Map<number, Points[]>>();
  readonly readies = new Map<string, Map<number, { points: Points[]; signature: string }>>();
  echoed: string | undefined;
  readied: string | undefined;
  /** This node's signature on its ready (deterministic, made once). */
  readySignature: string | undefined;
  completed: string | undefined;
  readonly parked: { from: number; kind: "echo" | "ready"; hash: string; points: Points[]; signature?: string }[] = [];
  readonly requested = new Set<string>();

  /** `feldman`: the commitments carry no blinding (the handover's resharing); blindings are then all zero. */
  constructor(
    readonly self: number,
    readonly k: number,
    readonly feldman = false,
  ) {}

  /**
   * Whether a peer's points for `hash` are right: compared in the field with this node's own row and column when it
   * holds them for that hash (no curve work), else both halves are checked against the commitments. Undefined when
   * the commitments are not known yet.
   */
  checkPoints(hash: string, from: number, points: readonly Points[]): boolean | undefined {
    const j = BigInt(from);
    const own = this.own;
    if (own?.hash === hash) {
      return points.every(
        (p, key) =>
          evaluatePolynomial(own.rows[key]!, j) === p.row &&
          evaluatePolynomial(own.rowBlindings[key]!, j) === p.rowBlinding &&
          evaluatePolynomial(own.cols[key]!, j) === p.col &&
          evaluatePolynomial(own.colBlindings[key]!, j) === p.colBlinding,
      );
    }
    const commitments = this.commitments.get(hash);
    if (!commitments) return undefined;
    const i = BigInt(this.self);
    // Both halves: f(i, j) on this node's row and f(j, i) on its column (the Torus node checked one half only).
    const blinding = (b: bigint) => (this.feldman ? undefined : b);
    return points.every(
      (p, key) =>
        verifyPoint(commitments[key]!, this.k, i, j, p.row, blinding(p.rowBlinding)) &&
        verifyPoint(commitments[key]!, this.k, j, i, p.col, blinding(p.colBlinding)),
    );
  }

  park(entry: Sharing["parked"][number]): boolean {
    if (this.parked.length >= MAX_PARKED) return false;
    this.parked.push(entry);
    return true;
  }

  /** Points (echoed or readied) collected for `hash`, one entry per sender. */
  pointsFor(hash: string): Map<number, Points[]> {
    const all = new Map<number, Points[]>();
    for (const [from, points] of this.echoes.get(hash) ?? []) all.set(from, points);
    for (const [from, ready] of this.readies.get(hash) ?? []) all.set(from, ready.points);
    return all;
  }

  /** Rebuilds this node's row and column for `hash` from k senders' checked points. */
  interpolate(hash: string, keys: number): RowsAndColumns | undefined {
    const senders = [...this.pointsFor(hash).entries()].sort(([a], [b]) => a - b).slice(0, this.k);
    if (senders.length < this.k) return undefined;
    const poly = (key: number, pick: (p: Points) => bigint) =>
      interpolatePolynomial(senders.map(([from, points]) => ({ x: BigInt(from), y: pick(points[key]!) })));
    const range = Array.from({ length: keys }, (_, key) => key);
    return {
      hash,
      rows: range.map((key) => poly(key, (p) => p.row)),
      rowBlindings: range.map((key) => poly(key, (p) => p.rowBlinding)),
      cols: range.map((key) => poly(key, (p) => p.col)),
      colBlindings: range.map((key) => poly(key, (p) => p.colBlinding)),
    };
  }

  /** The points this node sends node m: f(m, i) from its column and f(i, m) from its row, per key. */
  pointsForPeer(m: number): Points[] {
    const own = this.own!;
    const x = BigInt(m);
    return own.rows.map((_, key) => ({
      row: evaluatePolynomial(own.cols[key]!, x),
      rowBlinding: evaluatePolynomial(own.colBlindings[key]!, x),
      col: evaluatePolynomial(own.rows[key]!, x),
      colBlinding: evaluatePolynomial(own.rowBlindings[key]!, x),
    }));
  }
}
