/**
 * The BFT chain of one epoch in one KvStore (kv-store.ts; a node's is `data/epoch-<e>/chain.sqlite`, a simulation's a
 * MemoryStore): the decided blocks by height, the committed head, and the consensus core's write-ahead log, which keeps
 * only what restoring the height being decided needs. Nothing is read whole: `open` reads the head row and the last
 * WAL row, a lagging peer is served blocks from here page by page, a restart reads the WAL rows of one height.
 *
 * Key layout (key-codec.ts tuples; values are plain JSON, since nothing here is hashed or signed):
 * - `("b", height)` → the Commit decided at that height (block and precommits), heights 1..head contiguous;
 * - `("h")` → the committed head `{ height, lastBlockHash, appHash }` (absent before the first block: height 0, "", "");
 * - `("w", height, seq)` → a WalRecord, `seq` increasing with every record appended (carried on at open from the last
 *   WAL row), so a height's rows read back in the order they were written.
 * The app's own state shares the store under prefixes of its own (`commitBlock` refuses app operations under these).
 *
 * Writes are serialized here (write-queue.ts) and pipelined (kv-store.ts, "Pipelined writes"): `appendWal` resolves once its
 * row is applied, or with `sync` once it is durable; `syncWal` makes every row appended before it durable (persist
 * before send). `commitBlock` writes the block, the head, the app's operations of that block and the deletion of the
 * WAL rows of the heights it settles in one atomic batch, and resolves once that batch is durable. It refuses, writing
 * nothing, a block that is not head + 1 or whose `prevHash` is not the head's block hash, a new head that is not
 * `{ height of the block, blockHash(block), app hash }`, and app operations under the chain's keys.
 *
 * The WAL holds only heights above the committed head: `commitBlock(h)` deletes every row of heights ≤ h, and a
 * record of a height ≤ head (a timer of a decided height firing late) is not written, since no restart reads it. A
 * record with no height (`walRecordHeight` −1, a sync request) belongs to the height being decided, head + 1. The
 * rows `commitBlock` deletes are thus those of one height, h, which the consensus core bounds by admission: one
 * proposal per round and two votes per validator and round, plus a few timeouts and commits per round, so at most a
 * few times (n + 1) rows a round the height went through. They are read (keys and values: KvStore has no keys-only
 * range) in pages of WAL_DELETE_PAGE and all deleted in the block's batch.
 */
import { blockHash } from "../bft/encoding.ts";
import { walRecordHeight, type WalRecord } from "../bft/consensus.ts";
import type { Commit, Hash } from "../bft/types.ts";
import { fromJsonBytes, integerAt, jsonBytes, key } from "./key-codec.ts";
import { MAX_RANGE_LIMIT, scan, type KvReader, type KvStore, type StoreOp } from "./kv-store.ts";
import { WriteQueue } from "./write-queue.ts";

/** The committed head: the last decided block's height and hash, and the app hash after it. */
export interface ChainHead {
  height: number;
  lastBlockHash: Hash;
  appHash: Hash;
}

export const GENESIS_HEAD: Readonly<ChainHead> = Object.freeze({ height: 0, lastBlockHash: "", appHash: "" });

/** WAL rows read per page when `commitBlock` collects those it deletes (rows can carry a block of megabytes). */
export const WAL_DELETE_PAGE = 1_000;

/** The chain's keys (see the header); the app's keys must start elsewhere. */
export const chainKeys = {
  block: (height: number) => key("b", height),
  blocks: () => key("b"),
  head: () => key("h"),
  wal: (height: number, seq: number) => key("w", height, seq),
  walOf: (height: number) => key("w", height),
  walAll: () => key("w"),
};

const RESERVED = [chainKeys.blocks(), chainKeys.head(), chainKeys.walAll()];

/** `("w", height, seq)`: the "w" string (4 bytes), then two tagged 8-byte integers. */
const WAL_KEY_BYTES = chainKeys.walAll().length + 2 * 9;

/** The height and seq of a WAL row's key. */
function walKeyParts(k: Uint8Array): { height: number; seq: number } {
  const base = chainKeys.walAll().length;
  if (k.length !== WAL_KEY_BYTES) throw new Error(`a WAL key of ${k.length} bytes (expected ${WAL_KEY_BYTES})`);
  return { height: integerAt(k, base), seq: integerAt(k, base + 9) };
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

function checkHead(head: ChainHead): void {
  const ok =
    typeof head === "object" &&
    head !== null &&
    Number.isSafeInteger(head.height) &&
    head.height >= 0 &&
    typeof head.lastBlockHash === "string" &&
    typeof head.appHash === "string";
  if (!ok) throw new TypeError(`not a chain head: ${JSON.stringify(head)}`);
}

export class ChainStore {
  /** The head as applied (what the next `commitBlock` must extend); the durable one is read by `head()`. */
  #head: ChainHead;
  /** The next WAL row's seq. */
  #seq: number;
  /** The highest height that has had a WAL row (see `#place`). */
  #walTop: number;
  readonly #writes = new WriteQueue();

  private constructor(
    private readonly kv: KvStore,
    head: ChainHead,
    last: { height: number; seq: number } | undefined,
  ) {
    this.#head = head;
    this.#seq = last ? last.seq + 1 : 0;
    this.#walTop = last?.height ?? 0;
  }

  /** The chain in `kv`: reads the head row and the last WAL row, nothing else. */
  static async open(kv: KvStore): Promise<ChainStore> {
    const headBytes = await kv.get(chainKeys.head());
    const head = headBytes ? fromJsonBytes<ChainHead>(headBytes) : { ...GENESIS_HEAD };
    checkHead(head);
    const [last] = await kv.range({ prefix: chainKeys.walAll(), reverse: true, limit: 1 });
    return new ChainStore(kv, head, last && walKeyParts(last.key));
  }

  /**
   * Reads of every applied row, the app state's beside the chain's (app-state-store.ts): for the one writer, the
   * driver, which reads what its own last commit applied.
   */
  get applied(): KvReader {
    return this.kv.applied;
  }

  /** The committed head (durable); height 0 before any block. */
  async head(): Promise<ChainHead> {
    const bytes = await this.kv.get(chainKeys.head());
    return bytes ? fromJsonBytes<ChainHead>(bytes) : { ...GENESIS_HEAD };
  }

  /** The commit decided at `height`, if stored. */
  async block(height: number): Promise<Commit | undefined> {
    const bytes = await this.kv.get(chainKeys.block(height));
    return bytes && fromJsonBytes<Commit>(bytes);
  }

  /** The stored commits of heights `fromHeight` on, in order, at most `limit` (1..MAX_RANGE_LIMIT) of them. */
  async blocks(fromHeight: number, limit: number): Promise<Commit[]> {
    const entries = await this.kv.range({
      prefix: chainKeys.blocks(),
      start: chainKeys.block(fromHeight),
      limit,
    });
    return entries.map((e) => fromJsonBytes<Commit>(e.value));
  }

  /**
   * Appends a WAL record at its height (`walRecordHeight`; −1: the height being decided, head + 1); a record of a
   * height already committed is not written. Resolves once the row is applied (visible), or with `sync` durable.
   */
  async appendWal(record: WalRecord, options: { sync?: boolean } = {}): Promise<void> {
    await this.#writes.run(async () => {
      const at = walRecordHeight(record);
      const height = at === -1 ? this.#head.height + 1 : at;
      if (height <= this.#head.height) return;
      const seq = await this.#place(height);
      await this.kv.apply([{ type: "put", key: chainKeys.wal(height, seq), value: jsonBytes(record) }]);
      this.#seq = seq + 1;
      this.#walTop = Math.max(this.#walTop, height);
    });
    if (options.sync) await this.kv.durable();
  }

  /**
   * Resolves once every WAL record whose `appendWal` was called before is durable (and every other write before it):
   * call it before sending a message.
   */
  async syncWal(): Promise<void> {
    await this.#writes.idle();
    await this.kv.durable();
  }

  /** The WAL records of `height`, in the order they were appended. */
  async walAt(height: number): Promise<WalRecord[]> {
    const records: WalRecord[] = [];
    for await (const e of scan(this.kv, { prefix: chainKeys.walOf(height) }, MAX_RANGE_LIMIT))
      records.push(fromJsonBytes<WalRecord>(e.value));
    return records;
  }

  /**
   * Stores the decided `commit` as the new head `head`, with `appOps` (the app state's changes of that block, under
   * keys of its own), and deletes the WAL rows of heights ≤ its height: one atomic batch; resolves once durable.
   * Refuses, writing nothing, a commit that is not the next height, that does not extend the head, or whose `head`
   * does not describe it, and app operations under the chain's keys.
   */
  async commitBlock(commit: Commit, head: ChainHead, appOps: readonly StoreOp[]): Promise<void> {
    await this.#writes.run(async () => {
      checkHead(head);
      const height = commit.block.height;
      const current = this.#head;
      if (height !== current.height + 1)
        throw new Error(
          `refusing the block of height ${height}: the committed head is at height ${current.height}, so the next block is ${current.height + 1}`,
        );
      if (commit.block.prevHash !== current.lastBlockHash)
        throw new Error(
          `refusing the block of height ${height}: its previous hash ${commit.block.prevHash} is not the head's block hash ${current.lastBlockHash}`,
        );
      if (head.height !== height || head.lastBlockHash !== blockHash(commit.block))
        throw new Error(
          `refusing the block of height ${height}: the new head (height ${head.height}, block hash ${head.lastBlockHash}) does not describe it`,
        );
      appOps.forEach((op: StoreOp, i) => {
        if (op?.key instanceof Uint8Array && RESERVED.some((prefix) => startsWith(op.key, prefix)))
          throw new Error(`refusing the block of height ${height}: app operation ${i} writes under the chain's keys`);
      });
      const walDeletes = await this.#walKeysThrough(this.kv.applied, height);
      await this.kv.apply([
        { type: "put", key: chainKeys.block(height), value: jsonBytes(commit) },
        { type: "put", key: chainKeys.head(), value: jsonBytes(head) },
        ...appOps,
        ...walDeletes.map((k): StoreOp => ({ type: "del", key: k })),
      ]);
      this.#head = { height: head.height, lastBlockHash: head.lastBlockHash, appHash: head.appHash };
    });
    await this.kv.durable();
  }

  /** Waits for the writes under way, then closes the KvStore. */
  close(): Promise<void> {
    return this.#writes.close(() => this.kv.close());
  }

  /**
   * The seq of a new row at `height`: the store's next, raised above the height's own last row when rows of a higher
   * height exist (then the last row `open` read was not this height's, and rows of it written before a restart may
   * carry higher seqs). The consensus core writes heights in order, so this read does not happen in practice.
   */
  async #place(height: number): Promise<number> {
    if (height >= this.#walTop) return this.#seq;
    const [last] = await this.kv.applied.range({ prefix: chainKeys.walOf(height), reverse: true, limit: 1 });
    return last ? Math.max(this.#seq, walKeyParts(last.key).seq + 1) : this.#seq;
  }

  /** The keys of every WAL row of heights ≤ `height`, in pages of WAL_DELETE_PAGE. */
  async #walKeysThrough(reader: KvReader, height: number): Promise<Uint8Array[]> {
    const keys: Uint8Array[] = [];
    const query = { prefix: chainKeys.walAll(), end: chainKeys.walOf(height + 1) };
    for await (const e of scan(reader, query, WAL_DELETE_PAGE)) keys.push(e.key);
    return keys;
  }
}
