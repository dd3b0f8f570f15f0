import { expect } from "chai";

import { CommitmentStore } from "../../node/auth/commitments.ts";
import { MemoryStore } from "../../node/store/memory-store.ts";
import type { EpochView } from "../../node/chain/registry.ts";
import { epochPeers } from "../../node/runtime/handover.ts";
import { nodeIndex, validatorIndex, type NodeIndex } from "../../node/runtime/node-index.ts";
import { newNodeMetrics } from "../../node/runtime/node-metrics.ts";
import { PeerRouter, type PeerInbox } from "../../node/runtime/peer-router.ts";
import { PeerSignatures } from "../../node/runtime/peer-signatures.ts";
import { testEpochView } from "../support/epoch-view.ts";

function epochOf(n: number): EpochView {
  return testEpochView({ n, k: Math.floor(n / 2) + 1, t: 1, secretOf: (i) => BigInt(i + 6), portOf: (i) => 8999 + i });
}

/** A router for node `self` of a 5-node epoch, recording what it sends and what its inbox receives. */
function routerFor(self: number) {
  const epoch = epochOf(5);
  const ids = epochPeers(epoch).map((p) => p.id);
  const sent: { to: string[]; message: unknown }[] = [];
  const transport = { peers: [] as string[], maxFrameBytes: 0, calls: [] as string[] };
  const received: unknown[][] = [];
  const record =
    (channel: string) =>
    (...args: unknown[]) =>
      void received.push([channel, ...args]);
  const inbox: PeerInbox = {
    bft: record("bft"),
    dkg: record("dkg"),
    tx: record("tx"),
    hello: record("hello"),
    signatureRequest: record("signatureRequest"),
    signatureAnswer: record("signatureAnswer"),
    handover: record("handover"),
  };
  const router = new PeerRouter(epoch, nodeIndex(self), 4);
  router.attach(
    {
      send: (to, message) => sent.push({ to: [to], message }),
      sendMany: (to, message) => sent.push({ to: [...to], message }),
      setPeers: (peers) => {
        transport.calls.push("setPeers");
        transport.peers = peers.map((p) => p.id);
      },
      setMaxFrameBytes: (bytes) => {
        transport.calls.push("setMaxFrameBytes");
        transport.maxFrameBytes = bytes;
      },
    },
    inbox,
  );
  return { router, ids, sent, received, transport, epoch, inbox };
}

describe("peer router", () => {
  it("hands the BFT core 0-based validator indexes and the other units 1-based node indexes", () => {
    const { router, ids, received } = routerFor(1);
    void router.deliver(ids[2]!, { ch: "bft", m: "vote" });
    void router.deliver(ids[2]!, { ch: "dkg", m: "echo" });
    expect(received).to.deep.equal([
      ["bft", 2, "vote"],
      ["dkg", 3, "echo"],
    ]);
  });

  it("sends to a node index and to a validator index the same peer", () => {
    const { router, ids, sent } = routerFor(1);
    router.send(nodeIndex(4), { ch: "dkg", m: 1 });
    router.sendToValidator(validatorIndex(3), { ch: "bft", m: 2 });
    expect(sent.map((s) => s.to)).to.deep.equal([[ids[3]], [ids[3]]]);
  });

  it("broadcasts to the epoch's other nodes, never to itself", () => {
    const { router, ids, sent } = routerFor(2);
    router.broadcast({ ch: "tx", tx: "t" });
    expect(sent[0]!.to).to.deep.equal([ids[0], ids[2], ids[3], ids[4]]);
  });

  it("drops a peer outside the epoch on its channels, but passes handover messages on by peer id", () => {
    const { router, received } = routerFor(1);
    void router.deliver("stranger", { ch: "bft", m: "vote" });
    void router.deliver("stranger", { ch: "pss", m: "deal" });
    expect(received).to.deep.equal([["handover", "stranger", "deal"]]);
  });

  it("hands the executor's promise of a queued channel back to the host, so that it waits before the next", async () => {
    const { router, ids, epoch, inbox } = routerFor(1);
    let finish!: () => void;
    const work = new Promise<void>((resolve) => (finish = resolve));
    router.attach(
      {
        send: () => undefined,
        sendMany: () => undefined,
        setPeers: () => undefined,
        setMaxFrameBytes: () => undefined,
      },
      {
        ...inbox,
        bft: () => work,
      },
    );
    expect(router.deliver(ids[2]!, { ch: "bft", m: "vote" })).to.equal(work);
    expect(router.deliver(ids[2]!, { ch: "hello", epoch: epoch.epoch, verifiers: "h" })).to.equal(undefined);
    finish();
    await work;
  });

  it("sets the host's frame cap before its peers, and grows it for a handover's other epoch", () => {
    const { router, ids, transport } = routerFor(1);
    router.setPeers([]);
    const alone = transport.maxFrameBytes;
    expect(alone).to.equal(router.frameBudget());
    expect(transport.peers).to.deep.equal(ids.slice(1));
    expect(transport.calls).to.deep.equal(["setMaxFrameBytes", "setPeers"]);
    const successor = { ...epochOf(5), epoch: 2, n: 257, k: 129 };
    router.setPeers([], [successor]);
    expect(transport.maxFrameBytes).to.be.above(alone);
    expect(transport.maxFrameBytes).to.equal(router.frameBudget([successor]));
  });

  it("drops malformed envelopes and fields of the wrong type or size", () => {
    const { router, ids, received } = routerFor(1);
    for (const message of [
      null,
      "bft",
      42,
      { ch: "nope" },
      { ch: "tx", tx: 5 },
      { ch: "hello", epoch: "1", verifiers: "h" },
      { ch: "sigReq", id: 1, verifier: "v" },
      { ch: "sigRes", id: 1, data: "x".repeat(1024), signature: "s" },
    ])
      void router.deliver(ids[1]!, message);
    expect(received).to.deep.equal([]);
  });
});

describe("peer signatures", () => {
  function network() {
    const { router, ids, sent } = routerFor(1);
    const commitments = new CommitmentStore(new MemoryStore(), () => 0);
    const signatures = new PeerSignatures(4, commitments, router, newNodeMetrics());
    const answer = (from: number, id: number, signature: string) =>
      signatures.onAnswer(from as NodeIndex, { id, data: signature ? "data" : "", signature });
    return { signatures, commitments, ids, sent, answer };
  }

  it("resolves as soon as the last peer answered, with the non-empty answers, counting a peer once", async () => {
    const { signatures, answer } = network();
    const pending = signatures.request("v", "c", new AbortController().signal);
    answer(2, 1, "s2");
    answer(2, 1, "again");
    answer(3, 1, "");
    answer(4, 1, "s4");
    let settled = false;
    void pending.then(() => (settled = true));
    await Promise.resolve();
    expect(settled, "one peer has not answered").to.equal(false);
    answer(5, 1, "s5");
    expect(await pending).to.deep.equal([
      { node: 2, data: "data", signature: "s2" },
      { node: 4, data: "data", signature: "s4" },
      { node: 5, data: "data", signature: "s5" },
    ]);
  });

  it("returns what it has when the signal aborts, and ignores answers after that", async () => {
    const { signatures, answer } = network();
    const controller = new AbortController();
    const pending = signatures.request("v", "c", controller.signal);
    answer(2, 1, "s2");
    controller.abort();
    expect(await pending).to.deep.equal([{ node: 2, data: "data", signature: "s2" }]);
    answer(3, 1, "s3");
  });

  it("answers a peer only with a signature this node issued on that verifier's commitment, empty otherwise", async () => {
    const { signatures, commitments, ids, sent } = network();
    await commitments.addCommitment({
      commitment: "c",
      tempPubX: "x",
      tempPubY: "y",
      verifier: "v",
      data: "d",
      signature: "sig",
      expiresAt: 1,
    });
    await signatures.answer(nodeIndex(3), { id: 7, verifier: "v", commitment: "c" });
    await signatures.answer(nodeIndex(3), { id: 8, verifier: "other", commitment: "c" });
    expect(sent).to.deep.equal([
      { to: [ids[2]], message: { ch: "sigRes", id: 7, data: "d", signature: "sig" } },
      { to: [ids[2]], message: { ch: "sigRes", id: 8, data: "", signature: "" } },
    ]);
  });
});
