/**
 * The commit–reveal records of one node: for each token commitment (keccak256 of an ID token) the temporary key this
 * node signed for, and for each revealed token the answer it gave. Both are durable (the caller persists each new
 * record before it answers) and kept at least as long as a token can be accepted, so a replay after a restart finds
 * them; at the storage cap new commitments are refused rather than old ones evicted early.
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
  readonly #commitments = new Map<string, CommitmentRecord>();
  readonly #reveals = new Map<string, RevealRecord>();

  constructor(
    private readonly now: () => number,
    readonly maxRecords = DEFAULT_MAX_RECORDS,
  ) {}

  /** Rebuilds the store from persisted records, dropping the expired ones. */
  load(records: readonly AuthRecord[]): void {
    const now = this.now();
    for (const record of records) {
      if (record.expiresAt <= now) continue;
      const { kind: _, ...rest } = record;
      if (record.kind === "commitment") this.#commitments.set(record.commitment, rest as CommitmentRecord);
      else this.#reveals.set(record.commitment, rest as RevealRecord);
    }
  }

  get size(): number {
    return this.#commitments.size + this.#reveals.size;
  }

  commitment(commitment: string): CommitmentRecord | undefined {
    const record = this.#commitments.get(commitment);
    return record && record.expiresAt > this.now() ? record : undefined;
  }

  reveal(commitment: string): RevealRecord | undefined {
    const record = this.#reveals.get(commitment);
    return record && record.expiresAt > this.now() ? record : undefined;
  }

  /** Adds a commitment record; false at the storage cap (after dropping what has expired). */
  addCommitment(record: CommitmentRecord): boolean {
    if (this.size >= this.maxRecords) this.#sweep();
    if (this.size >= this.maxRecords) return false;
    this.#commitments.set(record.commitment, record);
    return true;
  }

  addReveal(record: RevealRecord): void {
    this.#reveals.set(record.commitment, record);
  }

  #sweep(): void {
    const now = this.now();
    for (const [key, record] of this.#commitments) if (record.expiresAt <= now) this.#commitments.delete(key);
    for (const [key, record] of this.#reveals) if (record.expiresAt <= now) this.#reveals.delete(key);
  }
}
