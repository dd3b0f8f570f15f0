/**
 * One dealer's sharing of one batch, as node i sees it: Cachin–Kursawe–Lysyanskaya–Strobl AVSS (2002), with the
 * Torus node's thresholds. The dealer sent i its row f(i, y) and column f(x, i) of each key (or did not, or lied);
 * i echoes points to every node, and readies once it can rebuild its row and column from what others echoed, even if
 * the dealer never sent them (there is no complaint phase). Key generation (keygen.ts) and the handover's receiving
 * side (node/pss/receiver.ts) run it alike; they check sends and signatures, and carry out what it asks of its
 * `SharingHost` (messages, records). No IO, no signing.
 *
 * The polynomials are symmetric, f(x, y) = f(y, x) (crypto/bivariate.ts), so node i's column is its row and every
 * check of the column is the check of the row. Why the protocol stays secure:
 * - Secrecy: the rows of any k − 1 nodes of a symmetric polynomial are independent of f(0, 0) (Ben-Or, Goldwasser,
 *   Wigderson 1988; Asharov and Lindell 2017, §3.2), and a node's column adds nothing to its row.
 * - Agreement: the commitments bind the dealer to one polynomial, and every node refuses a matrix that is not
 *   symmetric (C[j][l] = C[l][j]) and a send, echo or ready whose two halves differ. So the committed polynomial is
 *   symmetric, f(i, m) = f(m, i), the point i echoes to m lies on m's row and on m's column exactly as Cachin et al.'s
 *   echoes do, and their proofs of agreement and completeness hold unchanged with one polynomial per node in place
 *   of two.
 */
import { evaluatePolynomial, interpolatePolynomial } from "../crypto/polynomial.ts";
import { isSymmetricMatrix, verifyPoint } from "../crypto/commitments.ts";
import { Point } from "../crypto/point.ts";
import type { ReadyProof } from "./types.ts";
import { matricesToWire, parseScalar, scalarHex, type Points } from "./wire.ts";

/**
 * Node i's row of each key of the batch (coefficients), with its blindings: also its column, the polynomials being
 * symmetric.
 */
export interface OwnRows {
  hash: string;
  rows: bigint[][];
  rowBlindings: bigint[][];
}

/** What a sharing asks of the protocol that runs it, for the receiving nodes' thresholds n, k, t. */
export interface SharingHost {
  readonly n: number;
  readonly t: number;
  /** Echoes of one hash that make this node ready: Cachin et al.'s ⌈(n + t + 1)/2⌉, and at least k. */
  readonly echoThreshold: number;
  /** Sharings per dealer: the keys of a batch or of a chunk. */
  readonly keys: number;
  /** Sends node m this node's echo or ready: `pointsForPeer(m)` for the hash it echoed or readied. */
  sendPoints(m: number, type: "echo" | "ready"): void;
  /** Asks a peer for the commitments of `hash`, which the points it sent must be checked against. */
  askCommitments(from: number, hash: string): void;
  reject(from: number, reason: string): void;
  /** Why commitments a peer sent cannot be this sharing's (the handover's must commit to the moved share keys). */
  refuses?(commitments: readonly Point[][][]): string | undefined;
  /** This node's signature on its ready for `hash` (deterministic): asked once, when a ready is first sent. */
  signReady(hash: string): string;
  /** Writes `record()`: called before the messages that depend on the change. */
  persist(): void;
  /** The sharing completed here: k + t readies for the hash this node holds its row and column of. */
  completed(): void;
}

/** A sharing as persisted: enough to answer peers and to compute shares after a restart. */
export interface SharingRecord {
  own: { hash: string; rows: string[][]; rowBlindings?: string[][] };
  commitments: string[][][];
  echoed?: string;
  readied?: string;
  completed?: { hash: string; readies: ReadyProof[] };
}

/*
 * Per peer bounds, so that a Byzantine peer cannot crowd out an honest one: an honest peer echoes and readies at most
 * two hashes (two only if the dealer lied), so it has at most four sets of points waiting for commitments, and this
 * node learns at most two hashes' commitments from its answers.
 */
const MAX_PARKED_PER_PEER = 4;
const MAX_LEARNED_PER_PEER = 2;

/** A dealer's send to node i: its rows and columns of each key (blindings absent for a Feldman sharing). */
export interface SendToNode {
  readonly commitments: readonly (readonly (readonly Point[])[])[];
  readonly rows: readonly (readonly bigint[])[];
  readonly cols: readonly (readonly bigint[])[];
  readonly rowBlindings?: readonly (readonly bigint[])[];
  readonly colBlindings?: readonly (readonly bigint[])[];
}

/**
 * Why a dealer's send to node i is not a symmetric sharing (a matrix that is not symmetric, a column that is not the
 * row), found before any curve work; undefined when it is one, and its rows are then checked against the commitments
 * (a `rows` check, checks.ts).
 */
export function symmetricSendProblem(send: SendToNode): string | undefined {
  const same = (a: readonly bigint[], b: readonly bigint[]) => a.length === b.length && a.every((c, n) => c === b[n]);
  for (const [key, matrix] of send.commitments.entries()) {
    if (!isSymmetricMatrix(matrix)) return "commitments of a polynomial that is not symmetric";
    const [row, col] = [send.rows[key]!, send.cols[key]!];
    const [rowBlinding, colBlinding] = [send.rowBlindings?.[key], send.colBlindings?.[key]];
    if (!same(row, col) || !same(rowBlinding ?? [], colBlinding ?? [])) return "a column that is not the row";
  }
  return undefined;
}

/** The dealers whose sharings completed here, by index, each with the proof; undefined while fewer than `atLeast`. */
export function completedDealers(
  sessions: ReadonlyMap<number, Sharing>,
  atLeast: number,
): { dealer: number; hash: string; readies: ReadyProof[] }[] | undefined {
  const completed = [...sessions].filter(([, s]) => s.completed !== undefined).sort(([a], [b]) => a - b);
  if (completed.length < atLeast) return undefined;
  return completed.map(([dealer, s]) => ({ dealer, hash: s.completed!, readies: s.readyProofs() }));
}

/** A peer's echo or ready whose commitments are not known yet. */
interface Parked {
  from: number;
  kind: "echo" | "ready";
  hash: string;
  points: Points[];
  signature?: string;
}

export class Sharing {
  readonly #commitments = new Map<string, Point[][][]>();
  #sendHash: string | undefined;
  #own: OwnRows | undefined;
  readonly #echoes = new Map<string, Map<number, Points[]>>();
  readonly #readies = new Map<string, Map<number, { points: Points[]; signature: string }>>();
  #echoed: string | undefined;
  #readied: string | undefined;
  #readySignature: string | undefined;
  #completed: string | undefined;
  readonly #parked: Parked[] = [];
  readonly #requested = new Set<string>();
  /** Commitment hashes learned from each peer's answers. */
  readonly #learned = new Map<number, number>();
  /**
   * While the host checks the dealer's send (on a worker, checks.ts), points that arrive for commitments not known
   * yet wait without asking their senders for the commitments: the send most likely brings them.
   */
  #sendChecking = false;

  /** `feldman`: the commitments carry no blinding (the handover's resharing); blindings are then all zero. */
  constructor(
    readonly self: number,
    readonly k: number,
    readonly host: SharingHost,
    readonly feldman = false,
  ) {}

  /** Commitments known by hash: the dealer's send's, and those peers sent for points that waited for them. */
  get commitments(): ReadonlyMap<string, Point[][][]> {
    return this.#commitments;
  }

  /** The hash of the dealer's first valid send: the only one this node echoes. */
  get sendHash(): string | undefined {
    return this.#sendHash;
  }

  /** This node's row (and column) of each key, and the hash they are of: sent by the dealer, or interpolated. */
  get own(): OwnRows | undefined {
    return this.#own;
  }

  get echoed(): string | undefined {
    return this.#echoed;
  }

  get readied(): string | undefined {
    return this.#readied;
  }

  /** This node's signature on its ready, made once (the host signs). */
  get readySignature(): string {
    return (this.#readySignature ??= this.host.signReady(this.#readied!));
  }

  /** The hash this sharing completed for here, once it did. */
  get completed(): string | undefined {
    return this.#completed;
  }

  /** Points waiting for their commitments, at most a few per peer. */
  get parked(): readonly Parked[] {
    return this.#parked;
  }

  /**
   * The dealer's first valid send (the host checked its rows and columns against `commitments`, of hash `hash`): this
   * node echoes it, unless it already rebuilt its row and column for another hash from its peers' points.
   */
  onSend(hash: string, commitments: Point[][][], own: OwnRows): void {
    this.#sendChecking = false;
    this.#commitments.set(hash, commitments);
    this.#sendHash = hash;
    this.#own ??= own;
    if (this.#own.hash === hash) {
      this.#echoed = hash;
      this.host.persist();
      for (let m = 1; m <= this.host.n; m++) this.host.sendPoints(m, "echo");
    }
    this.#unpark(hash);
    this.#askForParked();
    this.#progress();
  }

  /** The host started checking the dealer's send: see `#sendChecking`. */
  sendChecking(): void {
    this.#sendChecking = true;
  }

  /** The dealer's send failed its check: points that wait ask their senders for the commitments now. */
  sendRefused(): void {
    this.#sendChecking = false;
    this.#askForParked();
  }

  /** Whether `from`'s echo or ready for `hash` was taken already. */
  has(kind: "echo" | "ready", hash: string, from: number): boolean {
    return (kind === "echo" ? this.#echoes : this.#readies).get(hash)?.has(from) ?? false;
  }

  /** A peer's echo or ready (a ready's signature checked by the host), parked while its commitments are unknown. */
  onPoints(from: number, kind: "echo" | "ready", hash: string, points: Points[], signature?: string): void {
    const ok = this.#checkPoints(hash, from, points);
    if (ok === undefined) {
      if (this.#park({ from, kind, hash, points, signature }) && !this.#sendChecking) this.#askFor(from, hash);
      return;
    }
    if (!ok) return this.host.reject(from, `${kind} points do not match the commitments`);
    this.#accept(from, kind, hash, points, signature);
    this.#progress();
  }

  /** Commitments a peer sent for `hash` (the host hashed them), taken only when parked points wait for them. */
  onCommitments(from: number, hash: string, commitments: Point[][][]): void {
    if (this.#commitments.has(hash)) return; // another peer answered the same request first
    if (!this.#parked.some((p) => p.hash === hash)) return this.host.reject(from, "commitments nobody asked for");
    // Commitments this sharing refuses are never remembered: no point can be checked against them.
    if (!commitments.every(isSymmetricMatrix))
      return this.host.reject(from, "commitments of a polynomial that is not symmetric");
    const refused = this.host.refuses?.(commitments);
    if (refused) return this.host.reject(from, refused);
    const learned = this.#learned.get(from) ?? 0;
    if (learned >= MAX_LEARNED_PER_PEER) return this.host.reject(from, "commitments of too many hashes");
    this.#learned.set(from, learned + 1);
    this.#commitments.set(hash, commitments);
    this.#unpark(hash);
    this.#progress();
  }

  /**
   * Once the shares are computed, keeps only what answering a lagging peer's resend needs: this node's row and column
   * and their commitments.
   */
  release(): void {
    this.#echoes.clear();
    this.#readies.clear();
    this.#parked.length = 0;
    for (const hash of [...this.#commitments.keys()]) if (hash !== this.#own?.hash) this.#commitments.delete(hash);
  }

  /** Sends a peer that lags this node's echo and ready again. */
  resendTo(peer: number): void {
    if (this.#own && this.#echoed === this.#own.hash) this.host.sendPoints(peer, "echo");
    if (this.#own && this.#readied === this.#own.hash) this.host.sendPoints(peer, "ready");
  }

  /** The first k + t signed readies of the completed hash, by node index: the proof that the sharing completed. */
  readyProofs(): ReadyProof[] {
    return [...(this.#readies.get(this.#completed ?? "") ?? [])]
      .sort(([a], [b]) => a - b)
      .slice(0, this.k + this.host.t)
      .map(([node, r]) => ({ node, signature: r.signature }));
  }

  /** The state to persist; `restore` reads it back. */
  record(): SharingRecord {
    const own = this.#own!;
    const hex = (p: bigint[][]) => p.map((c) => c.map(scalarHex));
    return {
      own: {
        hash: own.hash,
        rows: hex(own.rows),
        // A Feldman sharing's blindings are all zero: not worth a byte.
        ...(this.feldman ? {} : { rowBlindings: hex(own.rowBlindings) }),
      },
      commitments: matricesToWire(this.#commitments.get(own.hash) ?? []),
      echoed: this.#echoed,
      readied: this.#readied,
      ...(this.#completed ? { completed: { hash: this.#completed, readies: this.readyProofs() } } : {}),
    };
  }

  restore(record: SharingRecord): void {
    const parse = (p: string[][]) => p.map((c) => c.map((x) => parseScalar(x, "own")));
    const rows = parse(record.own.rows);
    this.#own = {
      hash: record.own.hash,
      rows,
      rowBlindings: record.own.rowBlindings ? parse(record.own.rowBlindings) : rows.map((p) => p.map(() => 0n)),
    };
    if (record.commitments.length > 0)
      this.#commitments.set(
        record.own.hash,
        record.commitments.map((m) => m.map((row) => row.map((p) => Point.fromHex(p)))),
      );
    this.#sendHash ??= record.echoed;
    this.#echoed = record.echoed;
    this.#readied = record.readied;
    if (record.completed) {
      this.#completed = record.completed.hash;
      // The points are not kept: a completed sharing only proves its readies, and answers with its own points.
      const readies = new Map<number, { points: Points[]; signature: string }>(
        record.completed.readies.map((r) => [r.node, { points: [], signature: r.signature }]),
      );
      this.#readies.set(record.completed.hash, readies);
    }
  }

  /**
   * Whether a peer's points for `hash` are right: compared in the field with this node's own row and column when it
   * holds them for that hash (no curve work), else both halves are checked against the commitments. Undefined when
   * the commitments are not known yet.
   */
  #checkPoints(hash: string, from: number, points: readonly Points[]): boolean | undefined {
    // The halves are f(i, j), on this node's row, and f(j, i), on its column: one value of a symmetric polynomial.
    if (!points.every((p) => p.row === p.col && p.rowBlinding === p.colBlinding)) return false;
    const j = BigInt(from);
    const own = this.#own;
    if (own?.hash === hash) {
      return points.every(
        (p, key) =>
          evaluatePolynomial(own.rows[key]!, j) === p.row &&
          evaluatePolynomial(own.rowBlindings[key]!, j) === p.rowBlinding,
      );
    }
    const commitments = this.#commitments.get(hash);
    if (!commitments) return undefined;
    const i = BigInt(this.self);
    const blinding = (b: bigint) => (this.feldman ? undefined : b);
    return points.every((p, key) => verifyPoint(commitments[key]!, this.k, i, j, p.row, blinding(p.rowBlinding)));
  }

  #askFor(from: number, hash: string): void {
    if (this.#requested.has(`${from}:${hash}`)) return;
    this.#requested.add(`${from}:${hash}`);
    this.host.askCommitments(from, hash);
  }

  /** Asks for the commitments each parked set of points waits for (once per sender and hash). */
  #askForParked(): void {
    for (const { from, hash } of this.#parked) this.#askFor(from, hash);
  }

  /** Whether the points wait (a resent copy of points already waiting counts as waiting). */
  #park(entry: Parked): boolean {
    const theirs = this.#parked.filter((p) => p.from === entry.from);
    if (theirs.some((p) => p.kind === entry.kind && p.hash === entry.hash)) return true;
    if (theirs.length >= MAX_PARKED_PER_PEER) return false;
    this.#parked.push(entry);
    return true;
  }

  #accept(from: number, kind: "echo" | "ready", hash: string, points: Points[], signature?: string): void {
    if (kind === "echo") {
      let byHash = this.#echoes.get(hash);
      if (!byHash) this.#echoes.set(hash, (byHash = new Map<number, Points[]>()));
      byHash.set(from, points);
    } else {
      let byHash = this.#readies.get(hash);
      if (!byHash) this.#readies.set(hash, (byHash = new Map<number, { points: Points[]; signature: string }>()));
      byHash.set(from, { points, signature: signature! });
    }
  }

  /** Checks the points that waited for the commitments of `hash`, now known. */
  #unpark(hash: string): void {
    const waiting = this.#parked.filter((p) => p.hash === hash);
    if (waiting.length === 0 || !this.#commitments.has(hash)) return;
    this.#parked.splice(0, this.#parked.length, ...this.#parked.filter((p) => p.hash !== hash));
    for (const p of waiting) {
      if (this.#checkPoints(hash, p.from, p.points)) this.#accept(p.from, p.kind, hash, p.points, p.signature);
      else this.host.reject(p.from, `${p.kind} points do not match the commitments`);
    }
  }

  /** An echo quorum or k readies make this node ready; k + t readies for its own hash complete the sharing. */
  #progress(): void {
    const { k } = this;
    const { t, echoThreshold } = this.host;
    for (const hash of new Set([...this.#echoes.keys(), ...this.#readies.keys()])) {
      const echoes = this.#echoes.get(hash)?.size ?? 0;
      const readies = this.#readies.get(hash)?.size ?? 0;
      if (this.#readied === undefined && (echoes >= echoThreshold || readies >= k)) {
        if (!this.#ensureOwn(hash)) continue;
        this.#readied = hash;
        this.host.persist();
        for (let m = 1; m <= this.host.n; m++) this.host.sendPoints(m, "ready");
      }
      if (this.#completed === undefined && readies >= k + t && this.#readied === hash && this.#own?.hash === hash) {
        this.#completed = hash;
        this.host.persist();
        this.host.completed();
      }
    }
  }

  /** Makes sure this node holds its row and column for `hash`, interpolating them from peers' points if needed. */
  #ensureOwn(hash: string): boolean {
    if (this.#own?.hash === hash) return true;
    const own = this.#interpolate(hash);
    if (!own) return false;
    this.#own = own;
    return true;
  }

  /** Points (echoed or readied) collected for `hash`, one entry per sender. */
  #pointsFor(hash: string): Map<number, Points[]> {
    const all = new Map<number, Points[]>();
    for (const [from, points] of this.#echoes.get(hash) ?? []) all.set(from, points);
    for (const [from, ready] of this.#readies.get(hash) ?? []) all.set(from, ready.points);
    return all;
  }

  /** Rebuilds this node's row and column for `hash` from k senders' checked points. */
  #interpolate(hash: string): OwnRows | undefined {
    const senders = [...this.#pointsFor(hash).entries()].sort(([a], [b]) => a - b).slice(0, this.k);
    if (senders.length < this.k) return undefined;
    const poly = (key: number, pick: (p: Points) => bigint) =>
      interpolatePolynomial(senders.map(([from, points]) => ({ x: BigInt(from), y: pick(points[key]!) })));
    const range = Array.from({ length: this.host.keys }, (_, key) => key);
    return {
      hash,
      rows: range.map((key) => poly(key, (p) => p.row)),
      rowBlindings: range.map((key) => poly(key, (p) => p.rowBlinding)),
    };
  }

  /** The points this node sends node m: f(m, i) for its column and f(i, m) for its row, one value, per key. */
  pointsForPeer(m: number): Points[] {
    const own = this.#own!;
    const x = BigInt(m);
    return own.rows.map((_, key) => {
      const value = evaluatePolynomial(own.rows[key]!, x);
      const blinding = evaluatePolynomial(own.rowBlindings[key]!, x);
      return { row: value, rowBlinding: blinding, col: value, colBlinding: blinding };
    });
  }
}
