import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";
import type { Logger } from "pino";

import type { EpochView } from "../../node/chain/registry.ts";
import type { GeneratedKey } from "../../node/dkg/types.ts";
import { HandoverDriver, type HandoverDriverParts } from "../../node/runtime/handover-driver.ts";
import { nodeIndex } from "../../node/runtime/node-index.ts";
import { SerialExecutor } from "../../node/runtime/serial-executor.ts";
import { KeyStore } from "../../node/store/key-store.ts";
import { testEpochView } from "../support/epoch-view.ts";

// Old epoch n5/t1/k3 with batches of one sharing per dealer: 3 keys per batch, two published batches (keys 0..5).
const KEYS_PER_BATCH = 3;
const hex = (value: number) => value.toString(16).padStart(64, "0");
const key = (keyIndex: number): GeneratedKey => ({
  keyIndex,
  publicKey: `04${hex(keyIndex + 1)}${hex(keyIndex + 2)}`,
  shareKeys: [1, 2, 3, 4, 5].map((j) => `04${hex(100 * j + keyIndex)}${hex(100 * j + keyIndex + 1)}`),
  share: hex(1000 + keyIndex),
  blinding: hex(0),
});
const batch = (b: number) => [0, 1, 2].map((i) => key(b * KEYS_PER_BATCH + i));
const snapshot = {
  keys: [0, 1, 2, 3, 4, 5].map((keyIndex) => ({
    keyIndex,
    publicKey: { x: hex(keyIndex + 1), y: hex(keyIndex + 2) },
    ...(keyIndex === 1 ? { owner: { verifier: "google", verifierId: "alice" } } : {}),
  })),
  nextKeyIndex: 6,
};

function epochView(epoch: number, n: number, k: number, t: number): EpochView {
  const secretOf = (i: number) => BigInt(epoch * 100 + i);
  return testEpochView({ epoch, nextEpoch: epoch + 1, n, k, t, secretOf, portOf: (i) => 3999 + i });
}

/** The key stores the test opened, closed after it. */
const opened: KeyStore[] = [];

/** Old node 2, its state frozen for attempt 1 of the handover to epoch 2; records what it sends and logs. */
async function oldNode(dir: string, resendWindowSeconds = 3600) {
  const keyStore = await KeyStore.open(path.join(dir, "keys.sqlite"));
  opened.push(keyStore);
  const sent: { peerId: string; message: unknown }[] = [];
  const logs: { level: string; message: string; problem?: string }[] = [];
  const logAt = (level: string) => (fields: { problem?: string }, message: string) =>
    logs.push({ level, message, ...(fields.problem ? { problem: fields.problem } : {}) });
  const log = { info: logAt("info"), warn: logAt("warn"), error: logAt("error"), debug: () => {} };
  const executor = new SerialExecutor(log as unknown as Logger);
  let reads = 0;
  const next = epochView(2, 5, 3, 1);
  const parts = {
    epoch: epochView(1, 5, 3, 1),
    self: nodeIndex(2),
    successor: undefined,
    signingDomain: "test",
    registry: { readEpoch: () => Promise.resolve(next) },
    storage: { keyStore, dealerSeed: () => Promise.resolve(new Uint8Array(32).fill(7)) },
    bft: { app: { frozen: { nextEpoch: 2, attempt: 1, height: 40 }, snapshot: () => snapshot } },
    keygen: { retire: () => {} },
    router: {
      sendToPeer: (peerId: string, message: unknown) => sent.push({ peerId, message }),
      setPeers: () => {},
    },
    executor,
    findKey: (keyIndex: number) => {
      reads++;
      return keyStore.findKey(keyIndex);
    },
    resendWindowSeconds,
    log,
  } as unknown as HandoverDriverParts;
  const driver = new HandoverDriver(parts);
  /** One chain-follower poll while frozen ("deal"), and whatever it queued. */
  const poll = async () => {
    await executor.run(() => driver.startDealing());
    await executor.run(() => Promise.resolve());
  };
  return { keyStore, driver, executor, sent, logs, poll, reads: () => reads };
}

describe("a dealer that lacks shares at the handover's freeze", function () {
  let dir: string;

  beforeEach(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "late-dealer-"));
  });

  afterEach(async function () {
    await Promise.all(opened.splice(0).map((store) => store.close()));
    await rm(dir, { recursive: true, force: true });
  });

  it("deals once the batch it lacked is stored, the very dealing it would have sent on time, and says so once", async function () {
    const late = await oldNode(path.join(dir, "late"));
    await late.keyStore.saveBatch(0, batch(0)); // batch 1 still being finished by its key generation
    await late.poll();
    expect(late.sent).to.deep.equal([]);
    expect(late.logs).to.have.length(1);
    expect(late.logs[0]!.problem).to.match(/holds no share of .*3/);

    // Polls while it waits read no key again: only a stored batch or moved chunk can change the answer.
    const reads = late.reads();
    await late.poll();
    await late.poll();
    expect(late.reads()).to.equal(reads);
    expect(late.sent).to.deep.equal([]);

    // The key generation stores batch 1: the node deals at once, without waiting for a poll.
    await late.keyStore.saveBatch(1, batch(1));
    await late.executor.run(() => Promise.resolve());
    expect(late.sent).to.have.length(2 * 5); // records and resharing of one chunk to each of the 5 new nodes
    expect(late.logs.filter((l) => l.message.includes("late"))).to.have.length(1);
    await late.poll();
    expect(late.sent).to.have.length(2 * 5);

    // The same node, had it held both batches at the freeze, would have sent exactly this: same records, same
    // polynomials (from its seed, the transition, the chunk and the keys dealt).
    const onTime = await oldNode(path.join(dir, "on-time"));
    await onTime.keyStore.saveBatch(0, batch(0));
    await onTime.keyStore.saveBatch(1, batch(1));
    await onTime.poll();
    expect(onTime.sent).to.have.length(2 * 5);
    expect(late.sent).to.deep.equal(onTime.sent);
    await Promise.all([late.executor.stop(), onTime.executor.stop()]);
  });

  it("sits out, saying why, once the resend window passed without the shares (its peers erased what it needs)", async function () {
    const node = await oldNode(dir, 0);
    await node.keyStore.saveBatch(0, batch(0));
    await node.poll();
    // The wait's timer (0 s here) fires before this one, and its task is queued before the poll's.
    await new Promise((resolve) => setTimeout(resolve, 0));
    await node.poll();
    const sitsOut = node.logs.filter((l) => l.message === "this node sits the handover out as a dealer");
    expect(sitsOut).to.have.length(1);
    expect(sitsOut[0]!.problem).to.match(/holds no share of 3 key\(s\) \(3 first\).*resend window.*erased/);
    await node.keyStore.saveBatch(1, batch(1));
    await node.poll();
    expect(node.sent).to.deep.equal([]);
    await node.executor.stop();
  });

  it("sits out at once when a stored key is not the published one (its store is damaged)", async function () {
    const node = await oldNode(dir);
    await node.keyStore.saveBatch(0, batch(0));
    await node.keyStore.saveBatch(1, [key(3), { ...key(4), publicKey: key(5).publicKey }, key(5)]);
    await node.poll();
    await node.poll();
    expect(node.sent).to.deep.equal([]);
    expect(node.logs).to.deep.equal([
      {
        level: "error",
        message: "this node sits the handover out as a dealer",
        problem: "key 4 in the store is not the published one",
      },
    ]);
    await node.executor.stop();
  });
});
