/**
 * The queue of free keys, handed out in key-index order. In memory every free key is here; on a store only its head
 * is: every free key below `bound`, in order, which the runtime extends from the store before a block that assigns
 * more keys than the head holds (node/store/app-state-store.ts), so that memory holds a bounded head however many keys
 * are free.
 *
 * Owns: the head, the count of free keys and the rows of the free table ("f": key index → public key).
 * Must never: hand out a key out of index order (every replica must assign the same key), or answer "none free" while
 * the count says otherwise: a head that runs dry before the count does throws StateNotLoaded.
 */
import { StateNotLoaded, type StateChange, type StateScalar, type TableMode } from "./state-table.ts";
import type { PublicKeyHex } from "./transactions.ts";

export interface FreeKey {
  keyIndex: number;
  publicKey: PublicKeyHex;
}

export const FREE_TABLE = "f";

/** How many free keys a store-backed head keeps at most once it has been extended or added to. */
export const FREE_HEAD_CAP = 4096;

export class FreeKeys {
  /** Free keys in ascending index order from `#pos`: every free key whose index is below `#bound`. */
  #head: FreeKey[] = [];
  #pos = 0;
  #bound: number;
  readonly #count: StateScalar<number>;
  readonly #mode: TableMode;
  readonly #changes: StateChange[] = [];

  constructor(mode: TableMode, count: StateScalar<number>) {
    this.#mode = mode;
    this.#count = count;
    this.#bound = mode.complete ? Infinity : 0;
  }

  get count(): number {
    return this.#count.get();
  }

  /** Free keys in memory. */
  get loaded(): number {
    return this.#head.length - this.#pos;
  }

  /** Every free key below this index is in memory (Infinity: all of them). */
  get bound(): number {
    return this.#bound;
  }

  /** The lowest free key, taken out of the queue; undefined when none is free. */
  take(): FreeKey | undefined {
    if (this.count === 0) return undefined;
    if (this.#pos === this.#head.length) throw new StateNotLoaded(FREE_TABLE, "head");
    const key = this.#head[this.#pos++]!;
    // The consumed part is dropped once it is most of the array, so that months of assignments do not keep it.
    if (this.#pos > 1024 && this.#pos * 2 > this.#head.length)
      [this.#head, this.#pos] = [this.#head.slice(this.#pos), 0];
    this.#count.set(this.count - 1);
    if (this.#mode.tracked) this.#changes.push({ table: FREE_TABLE, key: key.keyIndex, value: undefined });
    return key;
  }

  /** Keys that became free (published, or moved without an owner). */
  add(keys: readonly FreeKey[]): void {
    if (keys.length === 0) return;
    this.#count.set(this.count + keys.length);
    if (this.#mode.tracked)
      for (const key of keys) this.#changes.push({ table: FREE_TABLE, key: key.keyIndex, value: key.publicKey });
    const below = keys.filter((k) => k.keyIndex < this.#bound);
    if (below.length > 0) this.#merge(below);
    this.#cap();
  }

  /**
   * Free keys the runtime read from the store, the lowest from `bound` on, in order; `exhausted` when the store holds
   * no more.
   */
  extend(keys: readonly FreeKey[], exhausted: boolean): void {
    const fresh = keys.filter((k) => k.keyIndex >= this.#bound);
    if (fresh.length > 0) this.#merge(fresh);
    this.#bound = exhausted ? Infinity : Math.max(this.#bound, keys[keys.length - 1]!.keyIndex + 1);
  }

  takeChanges(): StateChange[] {
    return this.#changes.splice(0);
  }

  #merge(keys: readonly FreeKey[]): void {
    const live = this.#head.slice(this.#pos);
    const last = live[live.length - 1];
    // Batches usually publish in order; an out-of-order batch needs a sort to keep allocation in index order.
    this.#head =
      last === undefined || keys[0]!.keyIndex > last.keyIndex
        ? [...live, ...keys]
        : [...live, ...keys].sort((a, b) => a.keyIndex - b.keyIndex);
    this.#pos = 0;
  }

  /** A store-backed head keeps at most FREE_HEAD_CAP keys: the rest stay in the store, read again when needed. */
  #cap(): void {
    if (this.#mode.complete || this.loaded <= FREE_HEAD_CAP) return;
    this.#head = this.#head.slice(this.#pos, this.#pos + FREE_HEAD_CAP);
    this.#pos = 0;
    this.#bound = this.#head[this.#head.length - 1]!.keyIndex + 1;
  }
}
