/**
 * The commit–reveal records of one node: for each token commitment (keccak256 of an ID token) the temporary key this
 * node signed for, and for each revealed token the answer it gave. Both are durable (the caller persists each new
 * record before it answers) and kept as long as a token can be accepted, so a replay after a restart finds them.
 *
 * Commitments cost a client nothing to make up, so the store counts each source's open (unrevealed) commitments (the
 * API refuses a source over its quota) and, at the storage cap, makes room for a source under its fair share by
 * evicting the oldest open commitment of the source holding the most. Every record has the same lifetime, so the
 * order of insertion is the order of expiry: each map, in insertion order, is its own expiry queue, and reclaiming
 * costs only what has expired.
 *
 * An evicted commitment is remembered (its hash, until it would have expired) so that the node never signs a second
 * temporary key for it: forgetting it outright would let whoever learns the token — a Byzantine node it is revealed to
 * — commit it again with a key of its own here, the front-running that commit–reveal exists to stop. These marks are
 * capped too; at that cap the store refuses instead of evicting.
 */
export interface CommitmentRecord {
  commitment: string;
  tempPubX: string;
  tempPubY: string;
  verifier: string;
  /** The signed data and this node's signature over it, returned again for an identical request. */
  data: string;
  signature: string;
  expiresAt: number;
  /**
   * The client source that asked (node/api/rate-limit.ts `sourceOf`), so that its quota survives a restart. Absent in
   * records written before sources were kept: those count against no source and are never evicted.
   */
  source?: string;
}

export interface RevealRecord {
  commitment: string;
  /** The answer given, returned as is to an identical retry. */
  response: unknown;
  expiresAt: number;
}

export type AuthRecord = ({ kind: "commitment" } & CommitmentRecord) | ({ kind: "reveal" } & RevealRecord);

export const DEFAULT_MAX_RECORDS = 200_000;

export class CommitmentStore {
  /** Insertion order is expiry order (one lifetime): the front is the next to expire. */
  readonly #commitments = new Map<string, CommitmentRecord>();
  readonly #reveals = new Map<string, RevealRecord>();
  /** Each source's open commitments, oldest first. */
  readonly #open = new Map<string, Set<string>>();
  /** Sources by how many open commitments they hold, and the largest such count: the largest source in O(1). */
  readonly #bySize = new Map<number, Set<string>>();
  #largest = 0;
  /** Evicted commitments → when they would have expired (roughly oldest first: each was its source's oldest). */
  readonly #evicted = new Map<string, number>();

  constructor(
    private readonly now: () => number,
    readonly maxRecords = DEFAULT_MAX_RECORDS,
    /** Evicted commitments remembered at most (a mark is a hash and a time, far smaller than a record). */
    readonly maxEvicted = maxRecords,
  ) {}

  /** Rebuilds the store from persisted records (in the order they were written), dropping the expired ones. */
  load(records: readonly AuthRecord[]): void {
    const now = this.now();
    for (const record of records) {
      if (record.expiresAt <= now) continue;
      const { kind: _, ...rest } = record;
      if (record.kind === "commitment") this.#setCommitment(rest as CommitmentRecord);
      else this.#setReveal(rest as RevealRecord);
    }
  }

  get size(): number {
    return this.#commitments.size + this.#reveals.size;
  }

  commitment(commitment: string): CommitmentRecord | undefined {
    const record = this.#commitments.get(commitment);
    return record && record.expiresAt > this.now() ? record : undefined;
  }

  /** Whether this node signed `commitment` and evicted its record before it expired (never sign another key for it). */
  evicted(commitment: string): boolean {
    const until = this.#evicted.get(commitment);
    return until !== undefined && until > this.now();
  }

  reveal(commitment: string): RevealRecord | undefined {
    const record = this.#reveals.get(commitment);
    return record && record.expiresAt > this.now() ? record : undefined;
  }

  /** How many open (unrevealed, unexpired) commitments `source` holds. */
  openCommitments(source: string): number {
    this.#expire();
    return this.#open.get(source)?.size ?? 0;
  }

  /**
   * Adds a commitment record; false at the storage cap when no room can be made fairly. Room is made by evicting the
   * oldest open commitment of the largest source, and only when that source holds more than its fair share
   * (cap ÷ sources) and the asking source would not: many sources that each stay under their quota can still fill the
   * store together, and then the one holding the most gives way rather than a newcomer being refused. A source at or
   * under its fair share never loses a commitment, so a user's login (one commitment per node) is evicted only if its
   * address holds more than the cap ÷ sources, which a store full of sources no larger than it rules out.
   */
  addCommitment(record: CommitmentRecord): boolean {
    this.#expire();
    if (this.size >= this.maxRecords && !this.#makeRoomFor(record.source)) return false;
    this.#setCommitment(record);
    return true;
  }

  addReveal(record: RevealRecord): void {
    this.#expire();
    this.#setReveal(record);
  }

  #makeRoomFor(source: string | undefined): boolean {
    if (this.#largest === 0) return false;
    const sources = this.#open.size + (source !== undefined && !this.#open.has(source) ? 1 : 0);
    const fairShare = Math.floor(this.maxRecords / sources);
    const mine = source === undefined ? 0 : (this.#open.get(source)?.size ?? 0);
    if (mine + 1 > fairShare || this.#largest <= fairShare || this.#evicted.size >= this.maxEvicted) return false;
    const largest = this.#bySize.get(this.#largest)!.values().next().value!;
    const oldest = this.#open.get(largest)!.values().next().value!;
    this.#evicted.set(oldest, this.#commitments.get(oldest)!.expiresAt);
    this.#commitments.delete(oldest);
    this.#close(largest, oldest);
    return true;
  }

  #setCommitment(record: CommitmentRecord): void {
    const previous = this.#commitments.get(record.commitment);
    if (previous) {
      // Re-recorded after it expired (expiry is lazy): it moves to the back of the queue and to its new source.
      this.#commitments.delete(record.commitment);
      if (previous.source !== undefined) this.#close(previous.source, record.commitment);
    }
    this.#commitments.set(record.commitment, record);
    if (record.source !== undefined && !this.#reveals.has(record.commitment)) {
      let open = this.#open.get(record.source);
      if (!open) this.#open.set(record.source, (open = new Set()));
      open.add(record.commitment);
      this.#resize(record.source, open.size - 1, open.size);
    }
  }

  #setReveal(record: RevealRecord): void {
    this.#reveals.delete(record.commitment);
    this.#reveals.set(record.commitment, record);
    // A revealed commitment is a login done, no longer open: it leaves its source's quota (and cannot be evicted).
    const source = this.#commitments.get(record.commitment)?.source;
    if (source !== undefined) this.#close(source, record.commitment);
  }

  /** Drops `commitment` from `source`'s open set, if it is there. */
  #close(source: string, commitment: string): void {
    const open = this.#open.get(source);
    if (!open?.delete(commitment)) return;
    if (open.size === 0) this.#open.delete(source);
    this.#resize(source, open.size + 1, open.size);
  }

  #resize(source: string, from: number, to: number): void {
    if (from > 0) {
      const bucket = this.#bySize.get(from)!;
      bucket.delete(source);
      if (bucket.size === 0) this.#bySize.delete(from);
    }
    if (to > 0) {
      let bucket = this.#bySize.get(to);
      if (!bucket) this.#bySize.set(to, (bucket = new Set()));
      bucket.add(source);
    }
    // Counts move by one, so the largest moves by at most one.
    if (to > this.#largest) this.#largest = to;
    else if (from === this.#largest && !this.#bySize.has(from)) this.#largest = to;
  }

  /** Reclaims expired records from the front of each queue; costs only what has expired. */
  #expire(): void {
    const now = this.now();
    for (const [key, record] of this.#commitments) {
      if (record.expiresAt > now) break;
      this.#commitments.delete(key);
      if (record.source !== undefined) this.#close(record.source, key);
    }
    for (const [key, record] of this.#reveals) {
      if (record.expiresAt > now) break;
      this.#reveals.delete(key);
    }
    // Eviction order is only roughly expiry order: a mark may wait behind a later one, at most one lifetime.
    for (const [key, until] of this.#evicted) {
      if (until > now) break;
      this.#evicted.delete(key);
    }
  }
}
