import { chmod, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";
import { pino } from "pino";

import { testKey } from "../support/test-key.ts";
import { EpochStorage } from "../../node/runtime/epoch-storage.ts";
import { AppendLog } from "../../node/store/append-log.ts";
import { closeToOthers } from "../../node/store/close-to-others.ts";
import { bindDataDir } from "../../node/store/deployment-binding.ts";
import { entriesNotPrivate, entriesUnder, withUmask } from "../support/file-modes.ts";

const key = (keyIndex: number) => testKey(keyIndex);

// Under the usual umask 0022 a file created without a mode is 0644 and a directory 0755: readable by every user of
// the machine. The stores must not depend on `torus-node` having set its umask to 0077.
describe("what a node stores is readable by its owner only, whatever the process umask", function () {
  let root: string;
  beforeEach(async () => (root = await mkdtemp(path.join(tmpdir(), "file-modes-"))));
  afterEach(async () => rm(root, { recursive: true, force: true }));

  it("creates every directory of an epoch 0700 and every file 0600 (logs, key store with batches and moved keys, dealing seed)", async function () {
    const dataDir = path.join(root, "data");
    await withUmask(0o022, async () => {
      const deployment = {
        chainId: "31337",
        nodeList: "0x" + "ab".repeat(20),
        deploymentBlock: 1,
        deploymentBlockHash: "0x" + "cd".repeat(32),
        nodeAddress: "0x" + "ef".repeat(20),
      };
      await bindDataDir(dataDir, deployment);
      const binding = { epoch: 2, attempt: 1, successor: true, deployment };
      const storage = await EpochStorage.open(dataDir, binding, pino({ level: "silent" }));
      await storage.keyStore.saveBatch(0, [key(0), key(1)]);
      await storage.keyStore.saveMoved(3, [key(7)]);
      await storage.dealerSeed();
      await storage.close();
    });
    expect(await entriesUnder(dataDir)).to.include.members([
      "deployment-binding.json",
      "epoch-2",
      path.join("epoch-2", "auth.sqlite"),
      path.join("epoch-2", "bft-wal.log"),
      path.join("epoch-2", "blocks.log"),
      path.join("epoch-2", "keygen.log"),
      path.join("epoch-2", "pss.log"),
      path.join("epoch-2", "pss-dealer.seed"),
      path.join("epoch-2", "keys.sqlite"),
    ]);
    expect(await entriesNotPrivate(dataDir)).to.deep.equal([]);
  });

  it("creates a log's missing directories 0700 and the log 0600", async function () {
    const file = path.join(root, "a", "b", "x.log");
    await withUmask(0o022, async () => {
      const { log } = await AppendLog.open<{ n: number }>(file);
      await log.append({ n: 1 }, { sync: true });
      await log.close();
    });
    expect(await entriesNotPrivate(path.join(root, "a"))).to.deep.equal([]);
  });

  it("closes a data directory an older version left open to others (0755) to 0700, and leaves a private one alone", async function () {
    await chmod(root, 0o755);
    expect(await closeToOthers(root)).to.equal(0o755);
    expect((await stat(root)).mode & 0o777).to.equal(0o700);
    expect(await closeToOthers(root)).to.equal(undefined);
    expect((await stat(root)).mode & 0o777).to.equal(0o700);
  });
});
