import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";
import { pino } from "pino";

import { EpochState } from "../../node/chain/epoch-state.ts";
import { testKey } from "../support/test-key.ts";
import { blockHash } from "../../node/bft/encoding.ts";
import { CHAIN_FILE, EpochStorage } from "../../node/runtime/epoch-storage.ts";
import { eraseRetiredEpochs } from "../../node/runtime/retired-epochs.ts";
import { writeJsonAtomically } from "../../node/store/atomic-json.ts";
import { DataBindingError } from "../../node/store/binding-error.ts";
import { bindEpochDir } from "../../node/store/epoch-binding.ts";
import { RETIRED_MARKER_FILE } from "../../node/store/retired-epoch.ts";
import { refusedWith } from "../support/refusal.ts";
import { TEST_DEPLOYMENT } from "../support/test-deployment.ts";

const silent = pino({ level: "silent" });

const deployment = TEST_DEPLOYMENT;

const SHARE = "5ec4e7".padEnd(64, "7");
const key = (keyIndex: number) => testKey(keyIndex, SHARE);

/** A chain whose epochs are in the given states; asking for any other epoch fails the test. */
function chainWith(states: Record<number, keyof typeof EpochState>) {
  return {
    call: async <T>(_what: string, action: (contract: never, provider: never) => Promise<T>): Promise<T> => {
      const contract = {
        getEpochStatus: (epoch: number) => {
          const state = states[epoch];
          if (state === undefined) return Promise.reject(new Error(`the chain was asked about epoch ${epoch}`));
          return Promise.resolve({ state: BigInt(EpochState[state]), transitionAttempt: 1n });
        },
      };
      return action(contract as never, undefined as never);
    },
  };
}

/** Every file name under `dir`, recursively, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}

describe("a retired epoch's directory keeps its RETIRED marker and chain store only", function () {
  let dataDir: string;
  beforeEach(async () => (dataDir = await mkdtemp(path.join(tmpdir(), "retire-"))));
  afterEach(async () => rm(dataDir, { recursive: true, force: true }));

  /** A successor epoch's storage with something in every file it keeps: shares, logs, the dealer seed. */
  async function usedStorage(epoch: number): Promise<EpochStorage> {
    const storage = await EpochStorage.open(dataDir, { epoch, attempt: 1, successor: true, deployment }, silent);
    await storage.keyStore.saveBatch(0, [key(0)]);
    await storage.keyStore.saveMoved(0, [key(7)]);
    await storage.keygen.append({ kind: "keys", batch: 0, keys: [key(0)] }, { sync: true });
    await storage.pss!.append({ kind: "keys", chunk: 0, keys: [{ ...key(7), shareKeys: [] }] }, { sync: true });
    const block = { height: 1, prevHash: "", lastAppHash: "", proposer: 0, txs: [], evidence: [] };
    await storage.chain.appendWal({ kind: "timeout", height: 2, round: 0, step: "propose" }, { sync: true });
    await storage.chain.commitBlock(
      { block, round: 0, precommits: [] },
      { height: 1, lastBlockHash: blockHash(block), appHash: "" },
      [],
    );
    const commitment = { commitment: "c", tempPubX: "1", tempPubY: "2", verifier: "dev", data: "d", signature: "s" };
    await storage.commitments.addCommitment({ ...commitment, expiresAt: Date.now() + 60_000 });
    await storage.dealerSeed();
    return storage;
  }

  it("erases the shares, every log but the blocks, and the dealing seed, after writing a 0600 marker with the binding", async function () {
    const storage = await usedStorage(2);
    const before = await filesUnder(storage.dir);
    expect(before).to.include.members(["keys.sqlite", "pss.sqlite", "keygen.sqlite", "pss-dealer.seed"]);
    expect(before, "the open key store's write-ahead log").to.include("keys.sqlite-wal");
    const retiredAfter = Date.now();
    await storage.retire();
    expect(await filesUnder(storage.dir)).to.deep.equal([RETIRED_MARKER_FILE, CHAIN_FILE]);
    for (const name of await filesUnder(storage.dir))
      expect((await readFile(path.join(storage.dir, name))).includes(SHARE), name).to.equal(false);
    const markerFile = path.join(storage.dir, RETIRED_MARKER_FILE);
    expect((await stat(markerFile)).mode & 0o777).to.equal(0o600);
    const marker = JSON.parse(await readFile(markerFile, "utf8")) as Record<string, unknown>;
    expect(marker).to.deep.include({ deployment, epoch: 2, attempt: 1 });
    expect(Date.parse(marker.retiredAt as string)).to.be.within(retiredAfter - 1000, Date.now());
    await storage.close(); // the node's stop closes again: a no-op
  });

  it("refuses to open a retired epoch again, and finishes an erasure a crash cut short between marker and deletion", async function () {
    const storage = await usedStorage(1);
    await storage.close();
    // The crash: the marker is durable, nothing is deleted yet.
    await writeJsonAtomically(path.join(storage.dir, RETIRED_MARKER_FILE), { deployment, epoch: 1, attempt: 1 });
    const refusal = await refusedWith(
      EpochStorage.open(dataDir, { epoch: 1, attempt: 1, successor: true, deployment }, silent),
      DataBindingError,
    );
    expect(refusal.code).to.equal("RETIRED");
    expect(refusal.message).to.contain("which retired: its data is erased (RETIRED marker)");
    expect(await filesUnder(storage.dir)).to.deep.equal([RETIRED_MARKER_FILE, CHAIN_FILE]);
    // Whatever attempt a later start asks for, a retired directory is never bound again.
    expect((await refusedWith(bindEpochDir(storage.dir, { epoch: 1, attempt: 2 }), DataBindingError)).code).to.equal(
      "RETIRED",
    );
  });

  it("at start, erases the epochs the chain says retired, finishes marked ones without asking, and leaves live ones", async function () {
    const down = await usedStorage(1); // retired while this node was down
    await down.close();
    const crashed = await usedStorage(2); // marked, then the crash
    await crashed.close();
    await writeJsonAtomically(path.join(crashed.dir, RETIRED_MARKER_FILE), { deployment, epoch: 2, attempt: 1 });
    const live = await usedStorage(3);
    await live.close();
    const liveFiles = await filesUnder(live.dir);
    await mkdir(path.join(dataDir, "not-an-epoch"));
    await writeFile(path.join(dataDir, "deployment-binding.json"), "{}");

    const retired = await eraseRetiredEpochs(dataDir, deployment, chainWith({ 1: "Retired", 3: "Current" }), silent);

    expect(retired.sort()).to.deep.equal([1, 2]);
    for (const dir of [down.dir, crashed.dir])
      expect(await filesUnder(dir), dir).to.deep.equal([RETIRED_MARKER_FILE, CHAIN_FILE]);
    const marker = JSON.parse(await readFile(path.join(down.dir, RETIRED_MARKER_FILE), "utf8")) as object;
    expect(marker).to.deep.include({ deployment, epoch: 1, attempt: 1 });
    expect(await filesUnder(live.dir)).to.deep.equal(liveFiles);
    expect((await readFile(path.join(live.dir, "keys.sqlite"))).includes(SHARE)).to.equal(true);
  });
});
