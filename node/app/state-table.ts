/**
 * The app's state as tables it reads and writes synchronously while it executes a block, so that the app stays a
 * synchronous, sans-IO core while its state lives in an asynchronous store (node/store/app-state-store.ts).
 *
 * A table is either complete (every row is in memory: a miss means the row does not exist) or a cache of the rows
 * the runtime loaded before the block (a miss is a bug of the read set, never an answer: it throws StateNotLoaded,
 * which stops the node rather than letting two replicas diverge). In memory (simulations, tests) every table is
 * complete and nothing is tracked; on a store, each table records which rows a block changed, for the runtime to
 * commit with the block, and the cached rows are dropped after it so that memory does not grow with history.
 */

export type TableKey = string | number;

/** A row a block wrote (`value`) or deleted (`value` undefined), for the store. */
export interface StateChange {
  table: string;
  key: TableKey;
  value: unknown;
}

/** A read of a row the runtime did not load before the block: a bug of the read set (app-state.ts's `readsOf`). */
export class StateNotLoaded extends Error {
  override readonly name = "StateNotLoaded";
  constructor(table: string, key: TableKey) {
    super(`the app read ${table}[${String(key)}], which was not loaded before the block`);
  }
}

export interface TableMode {
  /** Every row is in memory: a miss means absent. */
  complete: boolean;
  /** Record changes for the store. */
  tracked: boolean;
  /**
   * Shared by a state's tables: while set (mempool admission, app-state.ts's `admitting`), a row that is not in memory
   * reads as absent instead of throwing. Every admission check refuses on a row that is present, so this admits what
   * it cannot check, and nothing it would refuse with the row at hand.
   */
  lenient?: { on: boolean };
}

export class StateTable<V> {
  /** Loaded or written rows; null: known to be absent. */
  readonly #rows = new Map<TableKey, V | null>();
  readonly #changed = new Set<TableKey>();

  constructor(
    readonly name: string,
    readonly mode: TableMode,
  ) {}

  get(key: TableKey): V | undefined {
    const row = this.#rows.get(key);
    if (row !== undefined) return row ?? undefined;
    if (this.mode.complete || this.mode.lenient?.on) return undefined;
    throw new StateNotLoaded(this.name, key);
  }

  has(key: TableKey): boolean {
    return this.get(key) !== undefined;
  }

  set(key: TableKey, value: V): void {
    this.#rows.set(key, value);
    if (this.mode.tracked) this.#changed.add(key);
  }

  delete(key: TableKey): void {
    if (this.mode.complete) this.#rows.delete(key);
    else this.#rows.set(key, null);
    if (this.mode.tracked) this.#changed.add(key);
  }

  /** Whether a read of `key` would answer without throwing. */
  loaded(key: TableKey): boolean {
    return this.mode.complete || this.#rows.has(key);
  }

  /** A row the runtime read from the store (undefined: absent there); a row this block changed is kept. */
  load(key: TableKey, value: V | undefined): void {
    if (!this.#changed.has(key)) this.#rows.set(key, value ?? null);
  }

  /** The rows of a complete table, in insertion order. */
  entries(): IterableIterator<[TableKey, V | null]> {
    if (!this.mode.complete) throw new Error(`table ${this.name} is not held whole in memory`);
    return this.#rows.entries();
  }

  /** The changes since the last call. */
  takeChanges(): StateChange[] {
    const changes: StateChange[] = [];
    for (const key of this.#changed) changes.push({ table: this.name, key, value: this.#rows.get(key) ?? undefined });
    this.#changed.clear();
    if (!this.mode.complete) this.#rows.clear(); // the cache lives for one block
    return changes;
  }
}

/** One value of the state (a count, a phase), always in memory. */
export class StateScalar<V> {
  #value: V;
  #changed = false;

  constructor(
    readonly name: string,
    initial: V,
    readonly tracked: boolean,
  ) {
    this.#value = initial;
  }

  get(): V {
    return this.#value;
  }

  set(value: V): void {
    this.#value = value;
    this.#changed = this.tracked;
  }

  takeChanges(): StateChange[] {
    if (!this.#changed) return [];
    this.#changed = false;
    return [{ table: SCALARS, key: this.name, value: this.#value }];
  }
}

/** The table that holds the scalars, one row each. */
export const SCALARS = "s";
