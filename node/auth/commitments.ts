/**
 * The commit–reveal records of one node: for each token commitment (keccak256 of an ID token) the temporary key this
 * node signed for, and for each revealed token the answer it gave. Both are durable (a record is committed to the
 * store before the answer that depends on it leaves) and kept as long as a token can be accepted, so a replay after a
 * restart finds them. They live in a KvStore (node/store/kv-store.ts; a node's is the epoch's `auth.sqlite`), and
 * memory holds only three counters: a start reads one key, never the records.
 *
 * Commitments cost a client nothing to make up, so the store counts each source's open (unrevealed) commitments (the
 * API refuses a source over its quota) and, at the storage cap, makes room for a source under its fair share by
 * evicting the oldest open commitment of the source holding the most. Expired records are reclaimed through an expiry
 * index (expiresAt, kind, commitment) before each change: the cost is what has expired, never a sweep of every record.
 *
 * An evicted commitment is remembered (its hash, until it would have expired, in the store: across restarts too) so
 * that the node never signs a second temporary key for it: forgetting it outright would let whoever learns the token
 * — a Byzantine node it is revealed to — commit it again with a key of its own here, the front-running that
 * commit–reveal exists to stop. These marks are capped too; at that cap the store refuses instead of evicting.
 *
 * Changes run one at a time (a queue): each reads what it decides on and applies one atomic batch, so two requests
 * racing for one commitment cannot both be recorded (the second is told "taken"), and a source's quota holds under
 * concurrency. The queue is pipelined (kv-store.ts, "Pipelined writes"): a change reads the batches of the changes
 * before it as soon as they are applied and hands the queue on once its own is, so the next change does not wait for
 * an fsync; its caller hears the outcome only once everything the change read or wrote is durable, one fsync shared
 * by every change made meanwhile. No answer — a signature over a commitment, a "taken" — can thus rest on a write
 * that a crash could take back.
 */
import { fromJsonBytes, jsonBytes, key } from "../store/key-codec.ts";
import type { KvReader, KvStore, StoreOp } from "../store/kv-store.ts";

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
   * records without one: those count against no source and are never evicted.
   */
  source?: string;
}

export interface RevealRecord {
  commitment: string;
  /** The answer given, returned as is to an identical retry. */
  response: unknown;
  expiresAt: number;
}

/**
 * What `addCommitment` did: recorded it; found the commitment already recorded, revealed or evicted (a request that
 * raced this one won: decide again from the record); or refused it, the store being full or its source at its quota.
 */
export type AddOutcome = "added" | "taken" | "full" | "quota";

export const DEFAULT_MAX_RECORDS = 200_000;
/** Expired records reclaimed per transaction. */
const RECLAIM_STEP = 512;
/** Sizes index keys sort largest first. */
const SIZE_BASE = Number.MAX_SAFE_INTEGER;

interface Counts {
  /** Commitments and reveals. */
  records: number;
  evicted: number;
  /** Sources holding at least one open commitment. */
  sources: number;
  /** The next commitment's insertion number: a source's open commitments are evicted oldest first. */
  seq: number;
}

/** A commitment as stored: the record and its insertion number. */
type Stored = CommitmentRecord & { seq: number };

/** An expiry index entry's value: what to reclaim without reading the record. */
interface Due {
  kind: "c" | "r" | "e";
  commitment: string;
  expiresAt: number;
  source?: string;
  seq?: number;
}

// The key layout, one letter per table (key-codec.ts orders the tuples).
const K = {
  meta: () => key("m"),
  commitment: (c: string) => key("c", c),
  reveal: (c: string) => key("r", c),
  evicted: (c: string) => key("e", c),
  expiry: (d: Due) => key("x", d.expiresAt, d.kind, d.commitment),
  expiryBefore: (t: number) => key("x", t),
  expiries: () => key("x"),
  /** A source's open commitments, oldest first. */
  open: (source: string, seq: number) => key("o", source, seq),
  opens: (source: string) => key("o", source),
  openCount: (source: string) => key("n", source),
  size: (count: number, source: string) => key("s", SIZE_BASE - count, source),
  sizes: () => key("s"),
};

export class CommitmentStore {
  #counts: Counts = { records: 0, evicted: 0, sources: 0, seq: 0 };
  #queue: Promise<unknown> = Promise.resolve();
  #loaded: Promise<void> | undefined;

  constructor(
    private readonly kv: KvStore,
    private readonly now: () => number,
    readonly maxRecords = DEFAULT_MAX_RECORDS,
    /** Evicted commitments remembered at most (a mark is a hash and a time, far smaller than a record). */
    readonly maxEvicted = maxRecords,
  ) {}

  /** A store over `kv` with its counters read (one key), so that a broken store fails the start, not a request. */
  static async open(
    kv: KvStore,
    now: () => number,
    maxRecords = DEFAULT_MAX_RECORDS,
    maxEvicted = maxRecords,
  ): Promise<CommitmentStore> {
    const store = new CommitmentStore(kv, now, maxRecords, maxEvicted);
    await store.#serial(() => Promise.resolve());
    return store;
  }

  /**
   * Commitments and reveals held (expired ones until the next change reclaims them), counting a change's records once
   * they are applied, before its caller is answered.
   */
  get size(): number {
    return this.#counts.records;
  }

  async commitment(commitment: string): Promise<CommitmentRecord | undefined> {
    const stored = this.#live(await this.#stored(commitment, this.kv));
    if (!stored) return undefined;
    const { seq: _, ...record } = stored;
    return record;
  }

  /** Whether this node signed `commitment` and evicted its record before it expired (never sign another key for it). */
  async evicted(commitment: string): Promise<boolean> {
    const until = await this.kv.get(K.evicted(commitment));
    return until !== undefined && fromJsonBytes<number>(until) > this.now();
  }

  async reveal(commitment: string): Promise<RevealRecord | undefined> {
    return this.#live(await this.#revealed(commitment, this.kv));
  }

  /** How many open (unrevealed, unexpired) commitments `source` holds. */
  openCommitments(source: string): Promise<number> {
    return this.#serial(async () => {
      await this.#reclaim(this.now());
      return new Batch(this.kv.applied, this.#counts).openOf(source);
    });
  }

  /**
   * Records a commitment unless it is taken (recorded, revealed or evicted already), its source holds `openLimit`
   * open commitments, or the store is full and no room can be made fairly. Room is made by evicting the oldest open
   * commitment of the largest source, and only when that source holds more than its fair share (cap ÷ sources) and
   * the asking source would not: many sources that each stay under their quota can still fill the store together,
   * and then the one holding the most gives way rather than a newcomer being refused. A source at or under its fair
   * share never loses a commitment, so a user's login (one commitment per node) is evicted only if its address holds
   * more than the cap ÷ sources, which a store full of sources no larger than it rules out.
   */
  addCommitment(record: CommitmentRecord, openLimit = Infinity): Promise<AddOutcome> {
    return this.#serial(async () => {
      // One time for the whole change: what is left after reclaiming at `now` is live at `now`.
      await this.#reclaim(this.now());
      const c = record.commitment;
      const held = [K.commitment(c), K.reveal(c), K.evicted(c)];
      for (const k of held) if ((await this.kv.applied.get(k)) !== undefined) return "taken";
      const batch = new Batch(this.kv.applied, this.#counts);
      const { source } = record;
      if (source !== undefined && (await batch.openOf(source)) >= openLimit) return "quota";
      if (this.#counts.records >= this.maxRecords && !(await this.#makeRoomFor(batch, source))) return "full";
      const stored: Stored = { ...record, seq: batch.counts.seq++ };
      batch.put(K.commitment(c), jsonBytes(stored));
      batch.put(K.expiry({ kind: "c", commitment: c, expiresAt: record.expiresAt }), dueOf("c", stored));
      if (source !== undefined) {
        batch.put(K.open(source, stored.seq), jsonBytes(c));
        await batch.moveOpen(source, +1);
      }
      batch.counts.records++;
      await this.#apply(batch);
      return "added";
    });
  }

  /** Records the answer to a reveal (replacing an earlier one); the commitment, if recorded, is no longer open. */
  addReveal(record: RevealRecord): Promise<void> {
    return this.#serial(async () => {
      await this.#reclaim(this.now());
      const c = record.commitment;
      const batch = new Batch(this.kv.applied, this.#counts);
      const previous = await this.#revealed(c, this.kv.applied);
      if (previous) batch.del(K.expiry({ kind: "r", commitment: c, expiresAt: previous.expiresAt }));
      else batch.counts.records++;
      batch.put(K.reveal(c), jsonBytes(record));
      batch.put(K.expiry({ kind: "r", commitment: c, expiresAt: record.expiresAt }), dueOf("r", record));
      // A revealed commitment is a login done, no longer open: it leaves its source's quota (and cannot be evicted).
      const committed = await this.#stored(c, this.kv.applied);
      if (committed?.source !== undefined) await this.#close(batch, committed.source, committed.seq);
      await this.#apply(batch);
    });
  }

  /** Reclaims every expired record through the expiry index, a bounded step per transaction. */
  reclaim(): Promise<void> {
    return this.#serial(() => this.#reclaim(this.now()));
  }

  /** Reclaims what expired at `now` (expiresAt ≤ now). */
  async #reclaim(now: number): Promise<void> {
    const end = K.expiryBefore(now + 1);
    for (;;) {
      const due = await this.kv.applied.range({ prefix: K.expiries(), end, limit: RECLAIM_STEP });
      if (due.length === 0) return;
      const batch = new Batch(this.kv.applied, this.#counts);
      for (const entry of due) {
        const d = fromJsonBytes<Due>(entry.value);
        batch.del(entry.key);
        if (d.kind === "e") {
          batch.del(K.evicted(d.commitment));
          batch.counts.evicted--;
          continue;
        }
        batch.del(d.kind === "c" ? K.commitment(d.commitment) : K.reveal(d.commitment));
        batch.counts.records--;
        if (d.kind === "c" && d.source !== undefined) await this.#close(batch, d.source, d.seq!);
      }
      await this.#apply(batch);
      if (due.length < RECLAIM_STEP) return;
    }
  }

  async #makeRoomFor(batch: Batch, source: string | undefined): Promise<boolean> {
    const mine = source === undefined ? 0 : await batch.openOf(source);
    const sources = batch.counts.sources + (source !== undefined && mine === 0 ? 1 : 0);
    const [top] = await this.kv.applied.range({ prefix: K.sizes(), limit: 1 });
    if (!top || sources === 0) return false;
    const largest = fromJsonBytes<string>(top.value);
    const fairShare = Math.floor(this.maxRecords / sources);
    if (mine + 1 > fairShare || (await batch.openOf(largest)) <= fairShare) return false;
    if (batch.counts.evicted >= this.maxEvicted) return false;
    const [oldest] = await this.kv.applied.range({ prefix: K.opens(largest), limit: 1 });
    const record = (await this.#stored(fromJsonBytes<string>(oldest!.value), this.kv.applied))!;
    const c = record.commitment;
    batch.del(K.commitment(c));
    batch.del(K.expiry({ kind: "c", commitment: c, expiresAt: record.expiresAt }));
    await this.#close(batch, largest, record.seq);
    batch.put(K.evicted(c), jsonBytes(record.expiresAt));
    batch.put(K.expiry({ kind: "e", commitment: c, expiresAt: record.expiresAt }), dueOf("e", record));
    batch.counts.records--;
    batch.counts.evicted++;
    return true;
  }

  /** Drops commitment number `seq` from `source`'s open commitments, if it is there. */
  async #close(batch: Batch, source: string, seq: number): Promise<void> {
    const open = K.open(source, seq);
    if ((await this.kv.applied.get(open)) === undefined) return;
    batch.del(open);
    await batch.moveOpen(source, -1);
  }

  /** Applies a change's batch (durable later: #serial's caller waits for that). */
  async #apply(batch: Batch): Promise<void> {
    batch.put(K.meta(), jsonBytes(batch.counts));
    await this.kv.apply(batch.ops);
    this.#counts = batch.counts;
  }

  /**
   * The stored commitment, expired or not (reads for clients go through #live), read from `from`: the store itself
   * (answers once durable) outside the queue, its `applied` view inside.
   */
  async #stored(commitment: string, from: KvReader): Promise<Stored | undefined> {
    const bytes = await from.get(K.commitment(commitment));
    return bytes && fromJsonBytes<Stored>(bytes);
  }

  async #revealed(commitment: string, from: KvReader): Promise<RevealRecord | undefined> {
    const bytes = await from.get(K.reveal(commitment));
    return bytes && fromJsonBytes<RevealRecord>(bytes);
  }

  /** The record if it has not expired (expiry is lazy: a record stays stored until the next change reclaims it). */
  #live<T extends { expiresAt: number }>(record: T | undefined): T | undefined {
    return record && record.expiresAt > this.now() ? record : undefined;
  }

  /**
   * Runs `run` once the changes queued before it have applied their batches, and resolves with its outcome once an
   * fsync that started after its last read and write has returned: the outcome may rest on earlier changes' batches,
   * applied but not yet durable. A failure too waits, so that no caller hears anything of a change before then.
   */
  #serial<T>(run: () => Promise<T>): Promise<T> {
    const section = this.#queue.then(async () => {
      this.#loaded ??= this.#load();
      await this.#loaded;
      return run();
    });
    // Registered before the next section can start, so that durable() is asked for right after this one's last write.
    const answered = section.then(
      async (outcome) => {
        await this.kv.durable();
        return outcome;
      },
      async (error: unknown) => {
        await this.kv.durable().catch(() => undefined);
        throw error;
      },
    );
    this.#queue = section.catch(() => undefined);
    return answered;
  }

  async #load(): Promise<void> {
    const meta = await this.kv.applied.get(K.meta());
    if (meta) this.#counts = fromJsonBytes<Counts>(meta);
  }
}

function dueOf(
  kind: Due["kind"],
  record: { commitment: string; expiresAt: number; source?: string; seq?: number },
): Uint8Array {
  const due: Due = { kind, commitment: record.commitment, expiresAt: record.expiresAt };
  if (kind === "c" && record.source !== undefined) Object.assign(due, { source: record.source, seq: record.seq });
  return jsonBytes(due);
}

/** One change's operations, the counters it leaves, and the open counts it moved (read once, then kept). */
class Batch {
  readonly ops: StoreOp[] = [];
  readonly counts: Counts;
  readonly #open = new Map<string, number>();

  constructor(
    private readonly kv: KvReader,
    counts: Counts,
  ) {
    this.counts = { ...counts };
  }

  put(k: Uint8Array, value: Uint8Array): void {
    this.ops.push({ type: "put", key: k, value });
  }

  del(k: Uint8Array): void {
    this.ops.push({ type: "del", key: k });
  }

  async openOf(source: string): Promise<number> {
    let count = this.#open.get(source);
    if (count === undefined) {
      const stored = await this.kv.get(K.openCount(source));
      count = stored ? fromJsonBytes<number>(stored) : 0;
      this.#open.set(source, count);
    }
    return count;
  }

  /** Moves `source`'s open count by `delta`, keeping the count and the sizes index (largest first) in step. */
  async moveOpen(source: string, delta: number): Promise<void> {
    const from = await this.openOf(source);
    const to = from + delta;
    this.#open.set(source, to);
    if (from > 0) this.del(K.size(from, source));
    if (to > 0) {
      this.put(K.size(to, source), jsonBytes(source));
      this.put(K.openCount(source), jsonBytes(to));
    } else this.del(K.openCount(source));
    this.counts.sources += (to > 0 ? 1 : 0) - (from > 0 ? 1 : 0);
  }
}
