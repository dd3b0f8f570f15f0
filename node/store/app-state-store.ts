/**
 * The key-mapping app's state in a store (the epoch's chain store, node/store/chain-store.ts, beside its blocks):
 * one row per table row under the prefix "a" (`key("a", table, key)`, JSON values). The runtime opens it with
 * `loadAppState` (the scalars and the tables held whole: nothing that grows with users), loads each block's read set
 * with `loadReads` before the app executes the block, and commits the app's changes with the block (`changeOps`).
 * Queries (a user's key, a public key's owner, the keys in order) read committed rows through `AppStateQueries`.
 *
 * Owns: the rows' layout. Must never: decide anything about the state (the app does), or read a table whole.
 */
import { AppState, publicKeyKey, userKey, type KeyRow, type OpenVoteRow, type StateRead } from "../app/app-state.ts";
import { FREE_HEAD_CAP, FREE_TABLE, type FreeKey } from "../app/free-keys.ts";
import { SCALARS, type StateChange, type TableKey } from "../app/state-table.ts";
import type { MovedKeyEntry, PublicKeyHex } from "../app/transactions.ts";
import type { DealerDecision } from "../dkg/types.ts";
import type { ReshareDecision } from "../pss/types.ts";
import { fromJsonBytes, jsonBytes, key } from "./key-codec.ts";
import { keyAfter, MAX_RANGE_LIMIT, type KvReader, type StoreOp } from "./kv-store.ts";

const APP = "a";

const rowKey = (table: string, k: TableKey) => key(APP, table, k);
const tablePrefix = (table: string) => key(APP, table);

/** The store operations of a block's changes. */
export function changeOps(changes: readonly StateChange[]): StoreOp[] {
  return changes.map(({ table, key: k, value }) =>
    value === undefined
      ? { type: "del", key: rowKey(table, k) }
      : { type: "put", key: rowKey(table, k), value: jsonBytes(value) },
  );
}

/** Every row of a table, in key order, page by page (for the tables held whole, which their caps bound). */
async function* rowsOf<V>(store: KvReader, table: string, from?: TableKey): AsyncGenerator<[Uint8Array, V]> {
  const prefix = tablePrefix(table);
  let start = from === undefined ? undefined : rowKey(table, from);
  for (;;) {
    const page = await store.range({ prefix, start, limit: 1024 });
    for (const { key: k, value } of page) yield [k, fromJsonBytes<V>(value)];
    if (page.length < 1024) return;
    start = keyAfter(page[page.length - 1]!.key);
  }
}

/** The decoded integer at the end of a row key built by `rowKey(table, n)` (8 bytes big-endian). */
function integerKey(k: Uint8Array): number {
  const view = new DataView(k.buffer, k.byteOffset + k.length - 8, 8);
  return view.getUint32(0) * 2 ** 32 + view.getUint32(4);
}

/** The app state as the store holds it: the scalars and the tables held whole (moved chunks, open votes). */
export async function loadAppState(store: KvReader): Promise<AppState> {
  const scalars: Record<string, unknown> = {};
  const decoder = new TextDecoder();
  for await (const [k, value] of rowsOf<unknown>(store, SCALARS)) {
    // The scalar's name is the key's last string element: after the prefix and the table, up to its 0x00 0x00 end.
    const name = decoder.decode(k.subarray(tablePrefix(SCALARS).length + 1, k.length - 2));
    scalars[name] = value;
  }
  const movedChunks: number[] = [];
  for await (const [k] of rowsOf<true>(store, "c")) movedChunks.push(integerKey(k));
  const openVotes: [string, OpenVoteRow][] = [];
  for await (const [k, row] of rowsOf<OpenVoteRow>(store, "v")) {
    openVotes.push([decoder.decode(k.subarray(tablePrefix("v").length + 1, k.length - 2)), row]);
  }
  return AppState.fromStore(scalars, { movedChunks, openVotes });
}

/**
 * Loads every row of `reads` the state does not hold yet (a user's row brings its key's row: an assignment answers
 * the key's public key), and extends the free queue's head to cover the keys the block may assign.
 */
export async function loadReads(state: AppState, store: KvReader, reads: readonly StateRead[]): Promise<void> {
  let freeNeeded = 0;
  const rows: { table: string; key: TableKey }[] = [];
  for (const read of reads) {
    if ("count" in read) freeNeeded += read.count;
    else rows.push(read);
  }
  const tables = {
    k: state.keys,
    u: state.users,
    p: state.publicKeys,
    d: state.dkgDecisions,
    r: state.reshareDecisions,
  } as const;
  const load = async (table: keyof typeof tables, k: TableKey): Promise<unknown> => {
    const target = tables[table];
    if (target.loaded(k)) return target.get(k);
    const bytes = await store.get(rowKey(table, k));
    const value = bytes === undefined ? undefined : fromJsonBytes<never>(bytes);
    target.load(k, value);
    return value;
  };
  for (const { table, key: k } of rows) {
    if (!(table in tables)) continue; // held whole
    const value = await load(table as keyof typeof tables, k);
    if (table === "u" && typeof value === "number") await load("k", value);
  }
  await extendFreeHead(state, store, freeNeeded);
}

async function extendFreeHead(state: AppState, store: KvReader, needed: number): Promise<void> {
  const free = state.free;
  // Either `needed` keys are in memory or every free key the store holds is: a block may assign keys it publishes
  // itself, which join the head only below its bound.
  while (free.loaded < needed && free.bound !== Infinity) {
    const limit = Math.min(MAX_RANGE_LIMIT, Math.max(needed - free.loaded, Math.min(FREE_HEAD_CAP, 1024)));
    const start = free.bound === 0 ? undefined : rowKey(FREE_TABLE, free.bound);
    const page = await store.range({ prefix: tablePrefix(FREE_TABLE), start, limit });
    const keys: FreeKey[] = page.map(({ key: k, value }) => ({
      keyIndex: integerKey(k),
      publicKey: fromJsonBytes<PublicKeyHex>(value),
    }));
    if (keys.length === 0) return free.extend([], true);
    free.extend(keys, page.length < limit);
  }
}

/** Reads of the committed app state, for queries: never more than the rows asked for. */
export class AppStateQueries {
  constructor(private readonly store: KvReader) {}

  async #get<V>(table: string, k: TableKey): Promise<V | undefined> {
    const bytes = await this.store.get(rowKey(table, k));
    return bytes === undefined ? undefined : fromJsonBytes<V>(bytes);
  }

  async lookup(
    verifier: string,
    verifierId: string,
  ): Promise<{ keyIndex: number; publicKey: PublicKeyHex } | undefined> {
    const keyIndex = await this.#get<number>("u", userKey(verifier, verifierId));
    if (keyIndex === undefined) return undefined;
    const row = await this.#get<KeyRow>("k", keyIndex);
    return row && { keyIndex, publicKey: row.publicKey };
  }

  async keyByPublicKey(
    publicKey: PublicKeyHex,
  ): Promise<{ keyIndex: number; owner?: { verifier: string; verifierId: string } } | undefined> {
    const keyIndex = await this.#get<number>("p", publicKeyKey(publicKey));
    if (keyIndex === undefined) return undefined;
    return { keyIndex, owner: (await this.#get<KeyRow>("k", keyIndex))?.owner };
  }

  /** Keys in index order from `fromKeyIndex`, at most `limit` (a page of the handover's snapshot). */
  async keys(fromKeyIndex: number, limit: number): Promise<MovedKeyEntry[]> {
    const page = await this.store.range({ prefix: tablePrefix("k"), start: rowKey("k", fromKeyIndex), limit });
    return page.map(({ key: k, value }) => {
      const { publicKey, owner } = fromJsonBytes<KeyRow>(value);
      const keyIndex = integerKey(k);
      return owner ? { keyIndex, publicKey, owner } : { keyIndex, publicKey };
    });
  }

  /** One past the highest key index (0 without keys). */
  async pastKeys(): Promise<number> {
    const [last] = await this.store.range({ prefix: tablePrefix("k"), limit: 1, reverse: true });
    return last ? integerKey(last.key) + 1 : 0;
  }

  async decisionFor(batch: number): Promise<DealerDecision | undefined> {
    return this.#get<DealerDecision>("d", batch);
  }

  /** Key-generation decisions of batches `fromBatch` on, in order, at most `limit`. */
  async decisions(fromBatch: number, limit: number): Promise<DealerDecision[]> {
    const page = await this.store.range({ prefix: tablePrefix("d"), start: rowKey("d", fromBatch), limit });
    return page.map(({ value }) => fromJsonBytes<DealerDecision>(value));
  }

  /** Every reshare decision of this epoch's handover, in chunk order (bounded by its chunk count). */
  async reshareDecisions(): Promise<ReshareDecision[]> {
    const decisions: ReshareDecision[] = [];
    for await (const [, decision] of rowsOf<ReshareDecision>(this.store, "r")) decisions.push(decision);
    return decisions;
  }
}
