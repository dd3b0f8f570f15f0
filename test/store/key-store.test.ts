import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import { testKey } from "../support/test-key.ts";
import { KeyStore } from "../../node/store/key-store.ts";

describe("key store", function () {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(path.join(tmpdir(), "keys-"))));
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  const key = (keyIndex: number) => testKey(keyIndex);

  it("finds a key in its batch file, also when indexes start past 0, and survives a reopen", async function () {
    const store = await KeyStore.open(dir);
    await store.saveBatch(0, [key(100), key(101), key(102)]);
    await store.saveBatch(1, [key(103), key(104), key(105)]);
    const reopened = await KeyStore.open(dir);
    expect(reopened.batches).to.equal(2);
    expect((await reopened.findKey(104, 3, 100))?.share).to.equal(key(104).share);
    expect(await reopened.findKey(99, 3, 100)).to.equal(undefined);
    expect(await reopened.findKey(106, 3, 100)).to.equal(undefined);
  });
});
