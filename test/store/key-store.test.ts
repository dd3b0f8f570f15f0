import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";
import { pino } from "pino";

import { testKey } from "../support/test-key.ts";
import { EpochStorage } from "../../node/runtime/epoch-storage.ts";
import { fromJsonBytes } from "../../node/store/key-codec.ts";
import { KeyStore, keyStoreRows } from "../../node/store/key-store.ts";
import type { KvReader, KvStore, RangeQuery, StoreEntry, StoreOp } from "../../node/store/kv-store.ts";
import { MemoryStore } from "../../node/store/memory-store.ts";
import { SqliteStore } from "../../node/store/sqlite-store.ts";
import { refusedWith } from "../support/refusal.ts";

const key = (keyIndex: number, share?: string) => testKey(keyIndex, share);

/** A store that counts the reads it is asked for and keeps the batches it commits. */
class CountingStore implements KvStore {
  reads = { get: 0, range: 0, count: 0 };
  readonly commits: StoreOp[][] = [];
  readonly applied: KvReader;

  constructor(private readonly inner: KvStore) {
    this.applied = inner.applied;
  }

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    this.reads.get++;
    return this.inner.get(key);
  }

  range(query: RangeQuery): Promise<StoreEntry[]> {
    this.reads.range++;
    return this.inner.range(query);
  }

  count(query: Omit<RangeQuery, "limit" | "reverse">): Promise<number> {
    this.reads.count++;
    return this.inner.count(query);
  }

  commit(ops: readonly StoreOp[]): Promise<void> {
    this.commits.push([...ops]);
    return this.inner.commit(ops);
  }

  apply(ops: readonly StoreOp[]): Promise<void> {
    return this.inner.apply(ops);
  }

  durable(): Promise<void> {
    return this.inner.durable();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

describe("key store (one row per key in the epoch's keys.sqlite)", function () {
  let dir: string;
  let file: string;
  const opened: KeyStore[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "keys-"));
    file = path.join(dir, "keys.sqlite");
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
    await rm(dir, { recursive: true, force: true });
  });

  const open = async (at = file) => {
    const store = await KeyStore.open(at);
    opened.push(store);
    return store;
  };

  it("finds a generated or a moved key by its index alone, also when indexes start past 0, after a reopen", async function () {
    const store = await open();
    await store.saveBatch(0, [key(100), key(101), key(102)]);
    await store.saveBatch(1, [key(103), key(104), key(105)]);
    await store.saveMoved(3, [key(7), key(42)]); // moved indexes need not be consecutive
    await store.close();

    const reopened = await open();
    expect({ batches: reopened.batches, movedKeys: reopened.movedKeys }).to.deep.equal({ batches: 2, movedKeys: 2 });
    expect(await reopened.findKey(104)).to.deep.equal(key(104));
    expect(await reopened.findKey(42)).to.deep.equal(key(42));
    for (const absent of [0, 8, 99, 106]) expect(await reopened.findKey(absent), `key ${absent}`).to.equal(undefined);
    expect(await reopened.hasBatch(1)).to.equal(true);
    expect(await reopened.hasBatch(2)).to.equal(false);
    expect(await readdir(dir)).to.include("keys.sqlite");
  });

  it("opens by reading one row, whatever the history, and reads a share with one point read", async function () {
    const history = new MemoryStore();
    const writer = await KeyStore.over(history);
    for (let batch = 0; batch < 200; batch++)
      await writer.saveBatch(batch, [key(3 * batch), key(3 * batch + 1), key(3 * batch + 2)]);
    for (let chunk = 0; chunk < 50; chunk++) await writer.saveMoved(chunk, [key(10_000 + chunk)]);

    const counting = new CountingStore(history);
    const store = await KeyStore.over(counting);
    expect(counting.reads).to.deep.equal({ get: 1, range: 0, count: 0 });
    expect({ batches: store.batches, movedKeys: store.movedKeys }).to.deep.equal({ batches: 200, movedKeys: 50 });
    expect((await store.findKey(301))?.share).to.equal(key(301).share);
    expect((await store.findKey(10_049))?.share).to.equal(key(10_049).share);
    expect(counting.reads).to.deep.equal({ get: 3, range: 0, count: 0 });
    await store.close();
  });

  it("writes a batch or a chunk once: a second save, even a concurrent one, changes nothing and tells no listener", async function () {
    const store = await open();
    const stored: number[][] = [];
    store.onStored((keyIndexes) => stored.push(keyIndexes));
    const other = "ff".repeat(32);
    await Promise.all([store.saveBatch(0, [key(0), key(1)]), store.saveBatch(0, [key(0, other), key(1, other)])]);
    await store.saveBatch(0, [key(0, other), key(1, other)]);
    await store.saveMoved(3, [key(7)]);
    await store.saveMoved(3, [key(7, other)]);
    expect((await store.findKey(1))?.share).to.equal(key(1).share);
    expect((await store.findKey(7))?.share).to.equal(key(7).share);
    expect({ batches: store.batches, movedKeys: store.movedKeys }).to.deep.equal({ batches: 1, movedKeys: 1 });
    expect(stored).to.deep.equal([[0, 1], [7]]);
    await store.close();
    const reopened = await open();
    expect({ batches: reopened.batches, movedKeys: reopened.movedKeys }).to.deep.equal({ batches: 1, movedKeys: 1 });
  });

  it("writes a batch's keys, its marker and the counts in one atomic batch: a refused write leaves none of them", async function () {
    const counting = new CountingStore(await SqliteStore.open(file));
    const store = await KeyStore.over(counting);
    opened.push(store);
    const stored: number[][] = [];
    store.onStored((keyIndexes) => stored.push(keyIndexes));

    await store.saveBatch(0, [key(0), key(1), key(2)]);
    expect(counting.commits).to.have.length(1);
    const rows = counting.commits[0]!.map((op) => Buffer.from(op.key).toString("hex"));
    const expected = [keyStoreRows.key(0), keyStoreRows.key(1), keyStoreRows.key(2), keyStoreRows.batch(0)];
    expect(rows).to.have.members([...expected, keyStoreRows.meta].map((k) => Buffer.from(k).toString("hex")));

    // The engine refuses the whole batch (a value over its limit): keys 3 and 4 are not written without key 5.
    const tooLong = key(5, "0".repeat(17 * 1024 * 1024));
    await store.saveBatch(1, [key(3), key(4), tooLong]).then(
      () => expect.fail("the write was accepted"),
      (error: Error) => expect(error.name).to.equal("StoreInputError"),
    );
    for (const keyIndex of [3, 4, 5]) expect(await store.findKey(keyIndex), `key ${keyIndex}`).to.equal(undefined);
    expect(await store.hasBatch(1)).to.equal(false);
    expect(store.batches).to.equal(1);
    expect(stored).to.deep.equal([[0, 1, 2]]);
    const meta = await counting.get(keyStoreRows.meta);
    expect(fromJsonBytes(meta!)).to.deep.equal({ batches: 1, movedKeys: 0 });

    // The store goes on: the batch is written whole once it can be (the key generation's log still holds it).
    await store.saveBatch(1, [key(3), key(4), key(5)]);
    expect((await store.findKey(5))?.share).to.equal(key(5).share);
    expect(store.batches).to.equal(2);
    expect(stored).to.deep.equal([
      [0, 1, 2],
      [3, 4, 5],
    ]);
  });

  it("tells every listener the key indexes of each batch and moved chunk once it is stored", async function () {
    const store = await open();
    const seen: { listener: number; keyIndexes: number[] }[] = [];
    const readAtCall: Promise<unknown>[] = [];
    for (const listener of [1, 2])
      store.onStored((keyIndexes) => {
        seen.push({ listener, keyIndexes });
        readAtCall.push(store.findKey(keyIndexes.at(-1)!));
      });
    await store.saveBatch(0, [key(10), key(11)]);
    await store.saveMoved(0, []); // an empty chunk stores nothing
    await store.saveMoved(1, [key(3), key(5)]);
    expect(seen).to.deep.equal([
      { listener: 1, keyIndexes: [10, 11] },
      { listener: 2, keyIndexes: [10, 11] },
      { listener: 1, keyIndexes: [3, 5] },
      { listener: 2, keyIndexes: [3, 5] },
    ]);
    expect(store.movedKeys).to.equal(2);
    expect(await Promise.all(readAtCall)).to.deep.equal([key(11), key(11), key(5), key(5)]);
  });

  it("refuses an epoch directory that holds an earlier version's key files under keys/, naming it", async function () {
    const deployment = {
      chainId: "31337",
      nodeList: "0x" + "ab".repeat(20),
      deploymentBlock: 1,
      deploymentBlockHash: "0x" + "cd".repeat(32),
      nodeAddress: "0x" + "ef".repeat(20),
    };
    const binding = { epoch: 1, attempt: 0, successor: false, deployment };
    const silent = pino({ level: "silent" });
    await (await EpochStorage.open(dir, binding, silent)).close();
    const oldKeys = path.join(EpochStorage.dirOf(dir, 1), "keys");
    await mkdir(oldKeys);
    await writeFile(path.join(oldKeys, "batch-000000.json"), JSON.stringify({ batch: 0, keys: [key(0)] }));
    const refusal = await refusedWith(EpochStorage.open(dir, binding, silent), Error);
    expect(refusal.message).to.contain(`${oldKeys} holds key shares in an earlier version's files`);
    expect(refusal.message).to.contain("keys.sqlite");
  });
});
