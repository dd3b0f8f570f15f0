import { expect } from "chai";
import { network } from "hardhat";

import { EpochState } from "../../node/chain/epoch-state.ts";
import { publicKeyCoordinates } from "../../node/chain/node-key.ts";
import {
  createEpoch,
  deployNodeList,
  endpointsOf,
  fundedNodeWallets,
  listNode,
  whitelistAndList,
} from "./fixtures.ts";

const { ethers, networkHelpers } = await network.getOrCreate();

describe("NodeList node registration", function () {
  async function fixture() {
    const deployed = await deployNodeList(ethers);
    const nodes = await fundedNodeWallets(ethers, networkHelpers, 7);
    const epoch = await createEpoch(deployed.nodeList, 5);
    await deployed.nodeList.whitelistNodes(epoch, nodes.map((n) => n.address));
    return { ...deployed, nodes, epoch };
  }

  describe("listNode", function () {
    it("lists whitelisted nodes at 1-based positions in listing order and emits NodeListed", async function () {
      const { nodeList, nodes, epoch } = await networkHelpers.loadFixture(fixture);
      for (const [i, node] of nodes.slice(0, 3).entries()) {
        await expect(listNode(nodeList, epoch, node, i + 1))
          .to.emit(nodeList, "NodeListed")
          .withArgs(node.address, epoch, BigInt(i + 1));
      }
      expect(await nodeList.getNodes(epoch)).to.deep.equal(nodes.slice(0, 3).map((n) => n.address));
      expect(await nodeList.nodeRegistered(epoch, nodes[2]!.address)).to.equal(true);
      expect(await nodeList.nodeRegistered(epoch, nodes[3]!.address)).to.equal(false);
    });

    it("stores the declared details, readable by node and by epoch", async function () {
      const { nodeList, nodes, epoch } = await networkHelpers.loadFixture(fixture);
      const node = nodes[0]!;
      await listNode(nodeList, epoch, node, 1);
      const { pubKx, pubKy } = publicKeyCoordinates(node);
      const { declaredIp, tmP2PListenAddress, p2pListenAddress } = endpointsOf(1);
      const expected = [declaredIp, 1n, pubKx, pubKy, tmP2PListenAddress, p2pListenAddress];
      expect([...(await nodeList.getNodeDetails(node.address))]).to.deep.equal(expected);
      expect([...(await nodeList.getNodeDetailsForEpoch(epoch, node.address))]).to.deep.equal(expected);
    });

    it("marks the epoch Ready and emits EpochReady when the n-th node lists", async function () {
      const { nodeList, nodes, epoch } = await networkHelpers.loadFixture(fixture);
      await whitelistAndList(nodeList, epoch, nodes.slice(0, 4));
      expect((await nodeList.getEpochStatus(epoch)).state).to.equal(EpochState.Registering);
      await expect(listNode(nodeList, epoch, nodes[4]!, 5)).to.emit(nodeList, "EpochReady").withArgs(epoch);
      expect((await nodeList.getEpochStatus(epoch)).state).to.equal(EpochState.Ready);
    });

    it("rejects a node that is not whitelisted with NotWhitelisted", async function () {
      const { nodeList, epoch } = await networkHelpers.loadFixture(fixture);
      const [outsider] = await fundedNodeWallets(ethers, networkHelpers, 1, "outsider");
      await expect(listNode(nodeList, epoch, outsider!, 1))
        .to.be.revertedWithCustomError(nodeList, "NotWhitelisted")
        .withArgs(epoch, outsider!.address);
    });

    it("rejects a public key that is not the sender's own with KeyNotOwned", async function () {
      const { nodeList, nodes, epoch } = await networkHelpers.loadFixture(fixture);
      const [sender, victim] = [nodes[0]!, nodes[1]!];
      const { pubKx, pubKy } = publicKeyCoordinates(victim);
      const { declaredIp, tmP2PListenAddress, p2pListenAddress } = endpointsOf(1);
      await expect(nodeList.connect(sender).listNode(epoch, declaredIp, pubKx, pubKy, tmP2PListenAddress, p2pListenAddress))
        .to.be.revertedWithCustomError(nodeList, "KeyNotOwned")
        .withArgs(sender.address, victim.address);
    });

    it("rejects listing twice in one epoch with NodeAlreadyListed", async function () {
      const { nodeList, nodes, epoch } = await networkHelpers.loadFixture(fixture);
      await listNode(nodeList, epoch, nodes[0]!, 1);
      await expect(listNode(nodeList, epoch, nodes[0]!, 2))
        .to.be.revertedWithCustomError(nodeList, "NodeAlreadyListed")
        .withArgs(epoch, nodes[0]!.address);
    });

    it("rejects listing in an epoch that is not registering with InvalidEpochState", async function () {
      const { nodeList, nodes, epoch } = await networkHelpers.loadFixture(fixture);
      await expect(listNode(nodeList, 0n, nodes[0]!, 1))
        .to.be.revertedWithCustomError(nodeList, "InvalidEpochState")
        .withArgs(0n, EpochState.None, EpochState.Registering);
      await whitelistAndList(nodeList, epoch, nodes.slice(0, 5));
      await expect(listNode(nodeList, epoch, nodes[5]!, 6))
        .to.be.revertedWithCustomError(nodeList, "InvalidEpochState")
        .withArgs(epoch, EpochState.Ready, EpochState.Registering);
      await nodeList.cancelEpoch(epoch);
      await expect(listNode(nodeList, epoch, nodes[5]!, 6))
        .to.be.revertedWithCustomError(nodeList, "InvalidEpochState")
        .withArgs(epoch, EpochState.Cancelled, EpochState.Registering);
    });

    const badEndpoints = [
      { field: "declaredIp", endpoints: { declaredIp: "", tm: "", p2p: "/ip4/127.0.0.1/tcp/1" }, length: 0 },
      { field: "declaredIp", endpoints: { declaredIp: "x".repeat(257), tm: "", p2p: "/ip4/127.0.0.1/tcp/1" }, length: 257 },
      { field: "tmP2PListenAddress", endpoints: { declaredIp: "h:1", tm: "x".repeat(300), p2p: "/ip4/127.0.0.1/tcp/1" }, length: 300 },
      { field: "p2pListenAddress", endpoints: { declaredIp: "h:1", tm: "", p2p: "" }, length: 0 },
    ];
    for (const { field, endpoints, length } of badEndpoints) {
      it(`rejects a ${field} of ${length} bytes with InvalidEndpoint`, async function () {
        const { nodeList, nodes, epoch } = await networkHelpers.loadFixture(fixture);
        const node = nodes[0]!;
        const { pubKx, pubKy } = publicKeyCoordinates(node);
        await expect(nodeList.connect(node).listNode(epoch, endpoints.declaredIp, pubKx, pubKy, endpoints.tm, endpoints.p2p))
          .to.be.revertedWithCustomError(nodeList, "InvalidEndpoint")
          .withArgs(field, length);
      });
    }

    it("keeps a node's details per epoch when it lists again in a successor", async function () {
      const { nodeList, nodes, epoch } = await networkHelpers.loadFixture(fixture);
      await whitelistAndList(nodeList, epoch, nodes.slice(0, 5));
      await nodeList.activateEpoch(epoch);
      const next = await createEpoch(nodeList, 5);
      // The same key lists at another position with other endpoints.
      const reordered = [nodes[6]!, nodes[5]!, nodes[0]!, nodes[1]!, nodes[2]!];
      await nodeList.whitelistNodes(next, reordered.map((n) => n.address));
      for (const [i, node] of reordered.entries()) await listNode(nodeList, next, node, 100 + i);
      const old = await nodeList.getNodeDetailsForEpoch(epoch, nodes[0]!.address);
      const current = await nodeList.getNodeDetailsForEpoch(next, nodes[0]!.address);
      expect([old.position, old.declaredIp]).to.deep.equal([1n, endpointsOf(1).declaredIp]);
      expect([current.position, current.declaredIp]).to.deep.equal([3n, endpointsOf(102).declaredIp]);
      expect((await nodeList.getNodeDetails(nodes[0]!.address)).position).to.equal(3n);
    });
  });

  describe("updateEndpoints", function () {
    it("lets a listed node move its endpoints and emits NodeEndpointsUpdated", async function () {
      const { nodeList, nodes, epoch } = await networkHelpers.loadFixture(fixture);
      const node = nodes[0]!;
      await listNode(nodeList, epoch, node, 1);
      await expect(nodeList.connect(node).updateEndpoints(epoch, "10.0.0.1:443", "", "/ip4/10.0.0.1/tcp/4001"))
        .to.emit(nodeList, "NodeEndpointsUpdated")
        .withArgs(epoch, node.address, "10.0.0.1:443", "", "/ip4/10.0.0.1/tcp/4001");
      const details = await nodeList.getNodeDetails(node.address);
      expect([details.declaredIp, details.position, details.p2pListenAddress]).to.deep.equal([
        "10.0.0.1:443",
        1n,
        "/ip4/10.0.0.1/tcp/4001",
      ]);
    });

    it("rejects a node that is not listed in the epoch with NotListed", async function () {
      const { nodeList, nodes, epoch } = await networkHelpers.loadFixture(fixture);
      await expect(nodeList.connect(nodes[0]).updateEndpoints(epoch, "h:1", "", "/ip4/1.2.3.4/tcp/1"))
        .to.be.revertedWithCustomError(nodeList, "NotListed")
        .withArgs(epoch, nodes[0]!.address);
    });

    it("rejects bad endpoints with InvalidEndpoint", async function () {
      const { nodeList, nodes, epoch } = await networkHelpers.loadFixture(fixture);
      await listNode(nodeList, epoch, nodes[0]!, 1);
      await expect(nodeList.connect(nodes[0]).updateEndpoints(epoch, "", "", "/ip4/1.2.3.4/tcp/1"))
        .to.be.revertedWithCustomError(nodeList, "InvalidEndpoint")
        .withArgs("declaredIp", 0n);
    });

    it("rejects updates in a retired epoch with InvalidEpochState", async function () {
      const { nodeList, nodes, epoch } = await networkHelpers.loadFixture(fixture);
      await whitelistAndList(nodeList, epoch, nodes.slice(0, 5));
      await nodeList.activateEpoch(epoch);
      const next = await createEpoch(nodeList, 1);
      await whitelistAndList(nodeList, next, nodes.slice(5, 6));
      await nodeList.startTransition(next);
      await nodeList.connect(nodes[5]).confirmHandover(next, ethers.ZeroHash, 0, ethers.ZeroHash);
      await expect(nodeList.connect(nodes[0]).updateEndpoints(epoch, "h:1", "", "/ip4/1.2.3.4/tcp/1"))
        .to.be.revertedWithCustomError(nodeList, "InvalidEpochState")
        .withArgs(epoch, EpochState.Retired, EpochState.Current);
    });
  });
});
