import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { privateKeyFromRaw } from "@libp2p/crypto/keys";
import { tcp } from "@libp2p/tcp";
import { multiaddr } from "@multiformats/multiaddr";
import { expect } from "chai";
import { createLibp2p } from "libp2p";

import { G } from "../../node/crypto/point.ts";
import { bigIntToBytes } from "../../node/crypto/field.ts";
import { MAX_IN_PROGRESS, P2PHost, PROTOCOL, peerIdOf } from "../../node/p2p/host.ts";
import { freePort } from "../../scripts/lib/chain-process.ts";

async function until(condition: () => boolean, what: string, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface TestNode {
  host: P2PHost;
  key: Uint8Array;
  id: string;
  address: string;
  inbox: { from: string; message: unknown }[];
}

async function startNode(seed: number): Promise<TestNode> {
  const key = bigIntToBytes(BigInt(1000 + seed));
  const address = `/ip4/127.0.0.1/tcp/${await freePort()}`;
  const inbox: TestNode["inbox"] = [];
  const host = await P2PHost.start({
    privateKey: key,
    listen: address,
    onMessage: (from, message) => void inbox.push({ from, message }),
  });
  return { host, key, id: peerIdOf(G.multiply(BigInt(1000 + seed)).toBytes(false)), address, inbox };
}

describe("p2p host (libp2p over TCP on loopback)", function () {
  this.timeout(30_000);
  let nodes: TestNode[] = [];

  beforeEach(async () => {
    nodes = await Promise.all([1, 2, 3].map(startNode));
    for (const node of nodes)
      node.host.setPeers(nodes.filter((n) => n !== node).map(({ id, address }) => ({ id, address })));
  });
  afterEach(async () => Promise.all(nodes.map((n) => n.host.stop())));

  it("derives the peer id from the node key", function () {
    expect(nodes.map((n) => n.host.peerId)).to.deep.equal(nodes.map((n) => n.id));
  });

  it("delivers messages in order between allowed peers, naming the sender", async function () {
    for (let i = 0; i < 50; i++) nodes[0]!.host.send(nodes[1]!.id, { i });
    nodes[2]!.host.sendMany([nodes[0]!.id, nodes[1]!.id], { hello: "all" });
    await until(() => nodes[1]!.inbox.length === 51 && nodes[0]!.inbox.length === 1, "delivery");
    const fromZero = nodes[1]!.inbox.filter((m) => m.from === nodes[0]!.id).map((m) => (m.message as { i: number }).i);
    expect(fromZero).to.deep.equal([...Array(50).keys()]);
    expect(nodes[0]!.inbox).to.deep.equal([{ from: nodes[2]!.id, message: { hello: "all" } }]);
  });

  it("refuses a peer that is not on the allow-list", async function () {
    const outsider = await startNode(9);
    try {
      outsider.host.setPeers([{ id: nodes[0]!.id, address: nodes[0]!.address }]);
      outsider.host.send(nodes[0]!.id, { sneaky: true });
      await until(() => nodes[0]!.host.stats.rejectedPeers > 0, "rejection");
      await new Promise((r) => setTimeout(r, 300));
      expect(nodes[0]!.inbox).to.deep.equal([]);
    } finally {
      await outsider.host.stop();
    }
  });

  it("hands over at most MAX_IN_PROGRESS messages while the node works on them, then the peers in turn", async function () {
    const pending: { from: string; i: number; done: () => void }[] = [];
    const key = bigIntToBytes(2000n);
    const address = `/ip4/127.0.0.1/tcp/${await freePort()}`;
    const busy = await P2PHost.start({
      privateKey: key,
      listen: address,
      onMessage: (from, message) =>
        new Promise<void>((done) => pending.push({ from, i: (message as { i: number }).i, done })),
    });
    try {
      const id = peerIdOf(G.multiply(2000n).toBytes(false));
      busy.setPeers(nodes.slice(0, 2).map(({ id, address }) => ({ id, address })));
      const perPeer = MAX_IN_PROGRESS + 4;
      for (const node of nodes.slice(0, 2)) {
        node.host.setPeers([{ id, address }]);
        for (let i = 0; i < perPeer; i++) node.host.send(id, { i });
      }
      await until(() => busy.stats.framesReceived === 2 * perPeer, "every frame");
      expect(pending).to.have.length(MAX_IN_PROGRESS);
      const taken: { from: string; i: number }[] = [];
      while (taken.length < 2 * perPeer) {
        const { from, i, done } = pending.shift()!;
        taken.push({ from, i });
        done();
        await until(() => pending.length === Math.min(MAX_IN_PROGRESS, 2 * perPeer - taken.length), "the next");
      }
      for (const node of nodes.slice(0, 2))
        expect(taken.filter((t) => t.from === node.id).map((t) => t.i)).to.deep.equal([...Array(perPeer).keys()]);
      // After those handed over as they came, the peers alternate while both have frames waiting.
      const senders = taken.slice(MAX_IN_PROGRESS, MAX_IN_PROGRESS + 6).map((t) => t.from);
      expect(senders.every((from, j) => j === 0 || from !== senders[j - 1])).to.equal(true);
    } finally {
      await busy.stop();
    }
  });

  it("keeps a down peer's send queue within two frame caps of bytes, dropping the oldest frames", async function () {
    const cap = 64 * 1024;
    const sender = await P2PHost.start({
      privateKey: bigIntToBytes(3000n),
      listen: `/ip4/127.0.0.1/tcp/${await freePort()}`,
      onMessage: () => undefined,
      maxFrameBytes: cap,
    });
    try {
      // Nothing listens there: every frame waits in the queue.
      const down = { id: nodes[0]!.id, address: `/ip4/127.0.0.1/tcp/${await freePort()}` };
      sender.setPeers([down]);
      const message = { pad: "x".repeat(Math.floor(cap * 0.7)) }; // a frame of 0.7 caps
      for (let i = 0; i < 100; i++) sender.send(down.id, message);
      // Two such frames fit in two caps, three do not: two stay queued. The count alone (4096) would have kept all 100.
      expect(sender.stats.dropped).to.equal(98);
    } finally {
      await sender.stop();
    }
  });

  for (const [what, bytes] of [
    ["an oversized frame", Uint8Array.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3])],
    ["a frame that is not JSON", Uint8Array.from([0, 0, 0, 3, 0x7b, 0x7b, 0x7b])],
  ] as const) {
    it(`drops a peer that sends ${what}, and keeps serving the others`, async function () {
      // Node 3's key, but a raw libp2p node that writes garbage on the protocol.
      const raw = await createLibp2p({
        privateKey: privateKeyFromRaw(nodes[2]!.key),
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
      });
      await nodes[2]!.host.stop();
      try {
        const stream = await raw.dialProtocol(multiaddr(`${nodes[0]!.address}/p2p/${nodes[0]!.id}`), PROTOCOL);
        stream.send(bytes);
        await until(() => nodes[0]!.host.stats.malformedFrames === 1, "the drop");
        nodes[1]!.host.send(nodes[0]!.id, { still: "fine" });
        await until(() => nodes[0]!.inbox.length === 1, "a good message");
      } finally {
        await raw.stop();
      }
      nodes = nodes.slice(0, 2);
    });
  }
});
