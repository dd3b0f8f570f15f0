/**
 * Transactions waiting for a block: deduplicated, capped in count and bytes, with a per-sender cap so one client or
 * peer cannot fill it. First in, first out. Deterministic and free of IO, so the consensus core can reap from it.
 */
import { DEFAULT_LIMITS } from "./validate.ts";

export interface MempoolLimits {
  maxTxs: number;
  maxBytes: number;
  maxPerSender: number;
  /** Keep equal to the consensus limit: a larger transaction could never be put in a block. */
  maxTxBytes: number;
}

export const DEFAULT_MEMPOOL_LIMITS: MempoolLimits = {
  maxTxs: 100_000,
  maxBytes: 64 * 1024 * 1024,
  maxPerSender: 10_000,
  maxTxBytes: DEFAULT_LIMITS.maxTxBytes,
};

export type AddTxResult =
  | { ok: true }
  | { ok: false; reason: "duplicate" | "full" | "sender limit" | "too large" | "invalid"; detail?: string };

/** The app's admission check of a transaction against its current state (CometBFT's CheckTx). */
export type CheckTx = (tx: string) => { ok: true } | { ok: false; detail: string };

export class Mempool {
  readonly #txs = new Map<string, string>(); // tx -> sender, in insertion order
  readonly #perSender = new Map<string, number>();
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

  add(tx: string, sender: string): AddTxResult {
    if (tx.length > this.limits.maxTxBytes) return { ok: false, reason: "too large" };
    if (this.#txs.has(tx)) return { ok: false, reason: "duplicate" };
    if (this.#txs.size >= this.limits.maxTxs || this.#bytes + tx.length > this.limits.maxBytes) {
      return { ok: false, reason: "full" };
    }
    if ((this.#perSender.get(sender) ?? 0) >= this.limits.maxPerSender) return { ok: false, reason: "sender limit" };
    const checked = this.checkTx(tx);
    if (!checked.ok) return { ok: false, reason: "invalid", detail: checked.detail };
    this.#txs.set(tx, sender);
    this.#perSender.set(sender, (this.#perSender.get(sender) ?? 0) + 1);
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
    const sender = this.#txs.get(tx);
    if (sender === undefined) return;
    this.#txs.delete(tx);
    this.#bytes -= tx.length;
    const left = (this.#perSender.get(sender) ?? 1) - 1;
    if (left === 0) this.#perSender.delete(sender);
    else this.#perSender.set(sender, left);
  }
}
