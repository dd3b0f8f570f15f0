/**
 * Transactions waiting for a block: deduplicated, capped in count and bytes, with a per-sender cap so one client or
 * peer cannot fill it. All API clients share one sender ("client"), so within a sender each client source has a cap
 * of its own: otherwise one source could take every slot of the clients' cap and stall everyone's assignments. First
 * in, first out. Deterministic and free of IO, so the consensus core can reap from it.
 */
import { DEFAULT_LIMITS } from "./validate.ts";

export interface MempoolLimits {
  maxTxs: number;
  maxBytes: number;
  maxPerSender: number;
  /** Transactions one source (an API client's address) may hold within its sender's cap; default the sender's cap. */
  maxPerSource?: number;
  /** Keep equal to the consensus limit: a larger transaction could never be put in a block. */
  maxTxBytes: number;
}

export const DEFAULT_MEMPOOL_LIMITS: MempoolLimits = {
  maxTxs: 100_000,
  maxBytes: 64 * 1024 * 1024,
  maxPerSender: 10_000,
  maxPerSource: 1_000,
  maxTxBytes: DEFAULT_LIMITS.maxTxBytes,
};

export type AddTxResult =
  | { ok: true }
  | {
      ok: false;
      reason: "duplicate" | "full" | "sender limit" | "source limit" | "too large" | "invalid";
      detail?: string;
    };

/** The app's admission check of a transaction against its current state (CometBFT's CheckTx). */
export type CheckTx = (tx: string) => { ok: true } | { ok: false; detail: string };

export class Mempool {
  readonly #txs = new Map<string, { sender: string; source: string | undefined }>(); // in insertion order
  readonly #perSender = new Map<string, number>();
  /** Per sender and source, keyed `sender source` (a space cannot occur in a sender name we use). */
  readonly #perSource = new Map<string, number>();
  #bytes = 0;

  constructor(
    readonly checkTx: CheckTx,
    readonly limits: MempoolLimits = DEFAULT_MEMPOOL_LIMITS,
  ) {}

  get size(): number {
    return this.#txs.size;
  }

  has(tx: string): boolean {
    return this.#txs.has(tx);
  }

  /** Adds `tx` from `sender`; `source` is the client behind it, when the sender is shared by many clients. */
  add(tx: string, sender: string, source?: string): AddTxResult {
    if (tx.length > this.limits.maxTxBytes) return { ok: false, reason: "too large" };
    if (this.#txs.has(tx)) return { ok: false, reason: "duplicate" };
    if (this.#txs.size >= this.limits.maxTxs || this.#bytes + tx.length > this.limits.maxBytes) {
      return { ok: false, reason: "full" };
    }
    if ((this.#perSender.get(sender) ?? 0) >= this.limits.maxPerSender) return { ok: false, reason: "sender limit" };
    const sourceKey = source === undefined ? undefined : `${sender} ${source}`;
    const maxPerSource = this.limits.maxPerSource ?? this.limits.maxPerSender;
    if (sourceKey !== undefined && (this.#perSource.get(sourceKey) ?? 0) >= maxPerSource)
      return { ok: false, reason: "source limit" };
    const checked = this.checkTx(tx);
    if (!checked.ok) return { ok: false, reason: "invalid", detail: checked.detail };
    this.#txs.set(tx, { sender, source: sourceKey });
    this.#perSender.set(sender, (this.#perSender.get(sender) ?? 0) + 1);
    if (sourceKey !== undefined) this.#perSource.set(sourceKey, (this.#perSource.get(sourceKey) ?? 0) + 1);
    this.#bytes += tx.length;
    return { ok: true };
  }

  /** The oldest transactions, up to the given count and bytes. */
  reap(maxTxs: number, maxBytes: number): string[] {
    const txs: string[] = [];
    let bytes = 0;
    for (const tx of this.#txs.keys()) {
      if (txs.length >= maxTxs || bytes + tx.length > maxBytes) break;
      txs.push(tx);
      bytes += tx.length;
    }
    return txs;
  }

  /** Drops the transactions a decided block contained, then those the new state no longer admits. */
  update(committed: readonly string[]): void {
    for (const tx of committed) this.#remove(tx);
    for (const tx of [...this.#txs.keys()]) if (!this.checkTx(tx).ok) this.#remove(tx);
  }

  #remove(tx: string): void {
    const entry = this.#txs.get(tx);
    if (entry === undefined) return;
    this.#txs.delete(tx);
    this.#bytes -= tx.length;
    decrement(this.#perSender, entry.sender);
    if (entry.source !== undefined) decrement(this.#perSource, entry.source);
  }
}

function decrement(counts: Map<string, number>, key: string): void {
  const left = (counts.get(key) ?? 1) - 1;
  if (left === 0) counts.delete(key);
  else counts.set(key, left);
}
