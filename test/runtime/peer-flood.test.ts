/**
 * One Byzantine peer must not stall the honest ones (issue 20, item 1): a node's libp2p host, its production router
 * and its serial executor, linked over loopback to two honest peers (real hosts) and one Byzantine peer (a raw libp2p
 * node with its node key, writing bytes of its choosing on the protocol). The node is busy with one long task while
 * the Byzantine peer sends a flood of messages for an old height and maximal frames in 1 kB pieces, and then the
 * honest peers send one height's messages; the test looks at the order in which the node works on them.
 */
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { privateKeyFromRaw } from "@libp2p/crypto/keys";
import type { Stream } from "@libp2p/interface";
import { tcp } from "@libp2p/tcp";
import { multiaddr } from "@multiformats/multiaddr";
import { expect } from "chai";
import { createLibp2p, type Libp2p } from "libp2p";
import { pino } from "pino";

import type { EpochView } from "../../node/chain/registry.ts";
import { bigIntToBytes } from "../../node/crypto/field.ts";
import { MAX_IN_PROGRESS, P2PHost, PROTOCOL } from "../../node/p2p/host.ts";
import { encodeFrame } from "../../node/p2p/framing.ts";
import { epochPeers } from "../../node/runtime/handover.ts";
import { nodeIndex } from "../../node/runtime/node-index.ts";
import { PeerRouter } from "../../node/runtime/peer-router.ts";
import { SerialExecutor } from "../../node/runtime/serial-executor.ts";
import { freePort } from "../../scripts/lib/chain-process.ts";
import { testEpochView } from "../support/epoch-view.ts";

const SECRETS = [11n, 12n, 13n, 14n];
const [VICTIM, HONEST_A, HONEST_B, BYZANTINE] = [0, 1, 2, 3];
/** One height of an honest peer: proposal, prevote, precommit. */
const HONEST_MESSAGES = 3;
const OLD_HEIGHT_MESSAGES = 500;
const MAXIMAL_FRAMES = 3;

async function until(condition: () => boolean, what: string, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function epochOf(): Promise<EpochView> {
  const ports = await Promise.all(SECRETS.map(() => freePort()));
  return testEpochView({
    n: SECRETS.length,
    k: 3,
    t: 0,
    secretOf: (i) => SECRETS[i - 1]!,
    portOf: (i) => ports[i - 1]!,
  });
}

/** Writes `bytes` in pieces of `piece` bytes, waiting for the stream to drain when it asks to. */
async function sendInPieces(stream: Stream, bytes: Uint8Array, piece: number): Promise<void> {
  for (let at = 0; at < bytes.length; at += piece) {
    if (!stream.send(bytes.subarray(at, at + piece)))
      await new Promise((resolve) => stream.addEventListener("drain", resolve, { once: true }));
  }
}

/** A frame of exactly `bytes` bytes of valid JSON: a consensus message padded to the node's cap. */
function maximalFrame(bytes: number): Uint8Array {
  const head = JSON.stringify({ ch: "bft", m: { type: "prevote", height: 1, round: 0, pad: "" } });
  const padded = head.replace('"pad":""', `"pad":"${"x".repeat(bytes - head.length)}"`);
  return encodeFrame(new TextEncoder().encode(padded), bytes);
}

interface Run {
  /** Who the node's executor worked for, in order ("A", "B", or "byzantine"). */
  order: string[];
  inboundDropped: number;
  /** The host's warnings about dropped frames. */
  dropWarnings: string[];
}

/** Runs the scenario; `attack` says whether the Byzantine peer floods the node first. */
async function run(attack: boolean): Promise<Run> {
  const epoch = await epochOf();
  const peers = epochPeers(epoch);
  const log = pino({ level: "silent" });
  const executor = new SerialExecutor(log);
  const router = new PeerRouter(epoch, nodeIndex(VICTIM + 1), 1);
  const order: string[] = [];
  const dropWarnings: string[] = [];
  const names = new Map([
    [HONEST_A, "A"],
    [HONEST_B, "B"],
    [BYZANTINE, "byzantine"],
  ]);
  const victim = await P2PHost.start({
    privateKey: bigIntToBytes(SECRETS[VICTIM]!),
    listen: epoch.nodes[VICTIM]!.p2pListenAddress,
    onMessage: (from, message) => router.deliver(from, message),
    log: (line) => void (line.startsWith("dropped") && dropWarnings.push(line)),
  });
  const record = (who: string) =>
    executor.run(() => {
      order.push(who);
      return Promise.resolve();
    });
  router.attach(victim, {
    bft: (from) => record(names.get(from)!),
    dkg: () => undefined,
    tx: () => undefined,
    hello: () => undefined,
    signatureRequest: () => undefined,
    signatureAnswer: () => undefined,
    handover: () => undefined,
  });
  router.setPeers([]);
  const honest = await Promise.all(
    [HONEST_A, HONEST_B].map(async (i) => {
      const host = await P2PHost.start({
        privateKey: bigIntToBytes(SECRETS[i]!),
        listen: epoch.nodes[i]!.p2pListenAddress,
        onMessage: () => undefined,
      });
      host.setPeers([peers[VICTIM]!]);
      return host;
    }),
  );
  let byzantine: Libp2p | undefined;
  try {
    // The node is busy (a long task in its executor) while the messages arrive.
    let release!: () => void;
    void executor.run(() => new Promise<void>((resolve) => (release = resolve)));
    let expected = 0;
    if (attack) {
      byzantine = await createLibp2p({
        privateKey: privateKeyFromRaw(bigIntToBytes(SECRETS[BYZANTINE]!)),
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
      });
      const stream = await byzantine.dialProtocol(
        multiaddr(`${epoch.nodes[VICTIM]!.p2pListenAddress}/p2p/${peers[VICTIM]!.id}`),
        PROTOCOL,
      );
      for (let round = 0; round < OLD_HEIGHT_MESSAGES; round++) {
        const vote = { type: "prevote", height: 1, round, blockHash: null, validator: BYZANTINE, signature: "00" };
        await sendInPieces(
          stream,
          encodeFrame(new TextEncoder().encode(JSON.stringify({ ch: "bft", m: vote })), 1 << 20),
          1024,
        );
      }
      for (let i = 0; i < MAXIMAL_FRAMES; i++) await sendInPieces(stream, maximalFrame(victim.maxFrameBytes), 1024);
      expected += OLD_HEIGHT_MESSAGES + MAXIMAL_FRAMES;
      await until(() => victim.stats.framesReceived === expected, "the flood to arrive");
    }
    for (const [i, host] of honest.entries())
      for (let m = 0; m < HONEST_MESSAGES; m++)
        host.send(peers[VICTIM]!.id, { ch: "bft", m: { type: "prevote", height: 10, round: 0, from: i, m } });
    expected += 2 * HONEST_MESSAGES;
    await until(() => victim.stats.framesReceived === expected, "the honest messages to arrive");
    release();
    await until(
      () => order.filter((who) => who !== "byzantine").length === 2 * HONEST_MESSAGES,
      "the honest messages' turns",
    );
    return { order, inboundDropped: victim.stats.inboundDropped, dropWarnings };
  } finally {
    await executor.stop();
    await byzantine?.stop();
    await Promise.all([victim, ...honest].map((host) => host.stop()));
  }
}

describe("a Byzantine peer's flood does not delay the honest peers (libp2p, router, executor)", function () {
  this.timeout(180_000);

  it("maximal frames in 1 kB pieces and a flood for an old height: one Byzantine message per round of honest ones", async function () {
    const calm = await run(false);
    const attacked = await run(true);
    const honest = (r: Run) => r.order.filter((who) => who !== "byzantine");
    const lastHonest = attacked.order.lastIndexOf(honest(attacked).at(-1)!);
    const byzantineFirst = attacked.order.slice(0, lastHonest).filter((who) => who === "byzantine").length;
    // Without the attacker the honest height's messages are the node's first six. With it, the attacker has the first
    // MAX_IN_PROGRESS (8) messages of its flood in the executor already (handed over while the node was busy) and gets
    // one turn in each of the three rounds of the honest peers' messages: 11, not its whole backlog of 500 and more.
    const count = (r: Run, who: string) => r.order.filter((w) => w === who).length;
    expect([count(calm, "A"), count(calm, "B"), calm.order.length]).to.deep.equal([3, 3, 6]);
    expect(byzantineFirst, "Byzantine messages worked on before the honest height's last").to.be.at.most(
      MAX_IN_PROGRESS + HONEST_MESSAGES,
    );
    expect([count(attacked, "A"), count(attacked, "B")]).to.deep.equal([3, 3]);
    // The flood overflowed the attacker's own queue by bytes (two frame caps: the first maximal frame fits with the
    // small ones, the next two do not), with one warning for both.
    expect(attacked.inboundDropped).to.equal(MAXIMAL_FRAMES - 1);
    expect(attacked.dropWarnings).to.have.length(1);
    expect(attacked.dropWarnings[0]).to.match(/^dropped 1 frames from peer .*: its inbound queue is full/);
    expect([calm.inboundDropped, calm.dropWarnings.length]).to.deep.equal([0, 0]);
  });
});
