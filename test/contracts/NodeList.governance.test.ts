import { expect } from "chai";
import { network } from "hardhat";

import { EpochState } from "../../node/chain/epoch-state.ts";
import { activeGenesis, createEpoch, deployNodeList, fundedNodeWallets, whitelistAndList } from "./fixtures.ts";
import { deployNodeList as deployContract } from "../../scripts/lib/operations.ts";

const { ethers, networkHelpers } = await network.getOrCreate();

describe("NodeList governance", function () {
  async function fixture() {
    const deployed = await deployNodeList(ethers);
    const nodes = await fundedNodeWallets(ethers, networkHelpers, 9);
    return { ...deployed, nodes };
  }

  it("records the block it was deployed in, which nodes bind their data to", async function () {
    const [governance] = await ethers.getSigners();
    const first = await deployContract(governance!);
    await networkHelpers.mine(3);
    const second = await deployContract(governance!);
    const blockOf = async (c: typeof first) => (await c.deploymentTransaction()!.wait())!.blockNumber;
    expect(await first.deploymentBlock()).to.equal(BigInt(await blockOf(first)));
    expect(await second.deploymentBlock()).to.equal(BigInt(await blockOf(second)));
    expect(await second.deploymentBlock()).to.be.greaterThan(await first.deploymentBlock());
  });

  describe("createEpoch", function () {
    const valid = [
      { n: 1, k: 1, t: 0 },
      { n: 4, k: 3, t: 0 },
      { n: 5, k: 3, t: 1 },
      { n: 7, k: 4, t: 1 },
      { n: 9, k: 5, t: 2 },
      { n: 13, k: 7, t: 3 },
      { n: 256, k: 129, t: 63 },
    ];
    for (const { n, k, t } of valid) {
      it(`accepts n${n}/k${k}/t${t} and emits EpochCreated`, async function () {
        const { nodeList } = await networkHelpers.loadFixture(fixture);
        await expect(nodeList.createEpoch(n, k, t)).to.emit(nodeList, "EpochCreated").withArgs(1n, n, k, t, 0n);
        const [epochId, en, ek, et, list, prev, next] = await nodeList.getEpochInfo(1);
        expect([epochId, en, ek, et, list.length, prev, next]).to.deep.equal([1n, BigInt(n), BigInt(k), BigInt(t), 0, 0n, 0n]);
        expect((await nodeList.getEpochStatus(1)).state).to.equal(EpochState.Registering);
      });
    }

    const invalid = [
      { n: 0, k: 1, t: 0, why: "no nodes" },
      { n: 4, k: 3, t: 1, why: "n < 4t + 1" },
      { n: 8, k: 5, t: 2, why: "n < 4t + 1 at n8/t2" },
      { n: 5, k: 2, t: 1, why: "k below floor(n/2) + 1" },
      { n: 5, k: 4, t: 1, why: "k above floor(n/2) + 1" },
      { n: 257, k: 129, t: 0, why: "n above MAX_NODES" },
      { n: 9, k: 5, t: 3, why: "n < 4t + 1 at n9/t3" },
    ];
    for (const { n, k, t, why } of invalid) {
      it(`rejects n${n}/k${k}/t${t} (${why}) with InvalidThresholds`, async function () {
        const { nodeList } = await networkHelpers.loadFixture(fixture);
        await expect(nodeList.createEpoch(n, k, t))
          .to.be.revertedWithCustomError(nodeList, "InvalidThresholds")
          .withArgs(n, k, t);
      });
    }

    it("rejects a second successor of the same epoch with SuccessorExists", async function () {
      const { nodeList } = await networkHelpers.loadFixture(fixture);
      await createEpoch(nodeList, 5);
      await expect(nodeList.createEpoch(5, 3, 1)).to.be.revertedWithCustomError(nodeList, "SuccessorExists").withArgs(0n, 1n);
    });

    it("links a successor to the current epoch", async function () {
      const { nodeList, nodes } = await networkHelpers.loadFixture(fixture);
      const genesis = await activeGenesis(nodeList, nodes.slice(0, 5));
      await expect(nodeList.createEpoch(7, 4, 1)).to.emit(nodeList, "EpochCreated").withArgs(2n, 7n, 4n, 1n, genesis);
      expect((await nodeList.getEpochInfo(genesis)).nextEpoch).to.equal(2n);
      expect((await nodeList.getEpochInfo(2)).prevEpoch).to.equal(genesis);
    });
  });

  describe("updateWhitelist and whitelistNodes", function () {
    it("whitelists and unwhitelists a key while the epoch registers, emitting only on change", async function () {
      const { nodeList, nodes } = await networkHelpers.loadFixture(fixture);
      const epoch = await createEpoch(nodeList, 5);
      const node = nodes[0]!.address;
      await expect(nodeList.updateWhitelist(epoch, node, true)).to.emit(nodeList, "WhitelistUpdated").withArgs(epoch, node, true);
      expect(await nodeList.isWhitelisted(epoch, node)).to.equal(true);
      await expect(nodeList.updateWhitelist(epoch, node, true)).not.to.emit(nodeList, "WhitelistUpdated");
      await expect(nodeList.updateWhitelist(epoch, node, false)).to.emit(nodeList, "WhitelistUpdated").withArgs(epoch, node, false);
      expect(await nodeList.isWhitelisted(epoch, node)).to.equal(false);
    });

    it("rejects the zero address with ZeroAddress", async function () {
      const { nodeList } = await networkHelpers.loadFixture(fixture);
      const epoch = await createEpoch(nodeList, 5);
      await expect(nodeList.updateWhitelist(epoch, ethers.ZeroAddress, true)).to.be.revertedWithCustomError(nodeList, "ZeroAddress");
    });

    it("rejects removing a key that already listed with NodeAlreadyListed", async function () {
      const { nodeList, nodes } = await networkHelpers.loadFixture(fixture);
      const epoch = await createEpoch(nodeList, 5);
      await whitelistAndList(nodeList, epoch, nodes.slice(0, 1));
      await expect(nodeList.updateWhitelist(epoch, nodes[0]!.address, false))
        .to.be.revertedWithCustomError(nodeList, "NodeAlreadyListed")
        .withArgs(epoch, nodes[0]!.address);
    });

    it("rejects whitelisting in an epoch that does not exist or is full, with InvalidEpochState", async function () {
      const { nodeList, nodes } = await networkHelpers.loadFixture(fixture);
      await expect(nodeList.updateWhitelist(7, nodes[0]!.address, true))
        .to.be.revertedWithCustomError(nodeList, "InvalidEpochState")
        .withArgs(7n, EpochState.None, EpochState.Registering);
      const epoch = await createEpoch(nodeList, 1);
      await whitelistAndList(nodeList, epoch, nodes.slice(0, 1));
      await expect(nodeList.whitelistNodes(epoch, [nodes[1]!.address]))
        .to.be.revertedWithCustomError(nodeList, "InvalidEpochState")
        .withArgs(epoch, EpochState.Ready, EpochState.Registering);
    });
  });

  describe("activateEpoch", function () {
    it("makes a full genesis epoch current and emits EpochActivated and EpochChanged", async function () {
      const { nodeList, nodes } = await networkHelpers.loadFixture(fixture);
      const epoch = await createEpoch(nodeList, 5);
      await whitelistAndList(nodeList, epoch, nodes.slice(0, 5));
      const tx = nodeList.activateEpoch(epoch);
      await expect(tx).to.emit(nodeList, "EpochActivated").withArgs(epoch);
      await expect(tx).to.emit(nodeList, "EpochChanged").withArgs(0n, epoch);
      expect(await nodeList.currentEpoch()).to.equal(epoch);
      const status = await nodeList.getEpochStatus(epoch);
      expect(status.state).to.equal(EpochState.Current);
      expect(status.activatedAt).to.equal(BigInt(await networkHelpers.time.latest()));
    });

    it("rejects an epoch whose list is not full with InvalidEpochState", async function () {
      const { nodeList, nodes } = await networkHelpers.loadFixture(fixture);
      const epoch = await createEpoch(nodeList, 5);
      await whitelistAndList(nodeList, epoch, nodes.slice(0, 4));
      await expect(nodeList.activateEpoch(epoch))
        .to.be.revertedWithCustomError(nodeList, "InvalidEpochState")
        .withArgs(epoch, EpochState.Registering, EpochState.Ready);
    });

    it("rejects activating twice, and activating a successor, which only a handover makes current", async function () {
      const { nodeList, nodes } = await networkHelpers.loadFixture(fixture);
      const genesis = await activeGenesis(nodeList, nodes.slice(0, 1));
      await expect(nodeList.activateEpoch(genesis))
        .to.be.revertedWithCustomError(nodeList, "InvalidEpochState")
        .withArgs(genesis, EpochState.Current, EpochState.Ready);
      const next = await createEpoch(nodeList, 1);
      await whitelistAndList(nodeList, next, nodes.slice(1, 2));
      await expect(nodeList.activateEpoch(next)).to.be.revertedWithCustomError(nodeList, "NotGenesis").withArgs(next, genesis);
    });
  });

  describe("cancelEpoch", function () {
    it("cancels a registering genesis so that another one can be created", async function () {
      const { nodeList } = await networkHelpers.loadFixture(fixture);
      const first = await createEpoch(nodeList, 5);
      await expect(nodeList.cancelEpoch(first)).to.emit(nodeList, "EpochCancelled").withArgs(first);
      expect((await nodeList.getEpochStatus(first)).state).to.equal(EpochState.Cancelled);
      const second = await createEpoch(nodeList, 5);
      expect(second).to.equal(first + 1n);
      expect((await nodeList.getEpochInfo(0)).nextEpoch).to.equal(second);
    });

    it("cancels a ready successor and unlinks it from the current epoch", async function () {
      const { nodeList, nodes } = await networkHelpers.loadFixture(fixture);
      const genesis = await activeGenesis(nodeList, nodes.slice(0, 1));
      const next = await createEpoch(nodeList, 1);
      await whitelistAndList(nodeList, next, nodes.slice(1, 2));
      await nodeList.cancelEpoch(next);
      expect((await nodeList.getEpochInfo(genesis)).nextEpoch).to.equal(0n);
    });

    it("rejects cancelling a current, cancelled or unknown epoch with InvalidEpochState", async function () {
      const { nodeList, nodes } = await networkHelpers.loadFixture(fixture);
      const genesis = await activeGenesis(nodeList, nodes.slice(0, 1));
      await expect(nodeList.cancelEpoch(genesis))
        .to.be.revertedWithCustomError(nodeList, "InvalidEpochState")
        .withArgs(genesis, EpochState.Current, EpochState.Ready);
      await expect(nodeList.cancelEpoch(9))
        .to.be.revertedWithCustomError(nodeList, "InvalidEpochState")
        .withArgs(9n, EpochState.None, EpochState.Ready);
      const next = await createEpoch(nodeList, 1);
      await nodeList.cancelEpoch(next);
      await expect(nodeList.cancelEpoch(next))
        .to.be.revertedWithCustomError(nodeList, "InvalidEpochState")
        .withArgs(next, EpochState.Cancelled, EpochState.Ready);
    });

    it("rejects cancelling the target of a running transition with TransitionRunning", async function () {
      const { nodeList, nodes } = await networkHelpers.loadFixture(fixture);
      const genesis = await activeGenesis(nodeList, nodes.slice(0, 1));
      const next = await createEpoch(nodeList, 1);
      await whitelistAndList(nodeList, next, nodes.slice(1, 2));
      await nodeList.startTransition(next);
      await expect(nodeList.cancelEpoch(next)).to.be.revertedWithCustomError(nodeList, "TransitionRunning").withArgs(genesis, next);
    });
  });

  describe("access control", function () {
    it("refuses every governance call from another account with OwnableUnauthorizedAccount", async function () {
      const { nodeList, nodes, stranger } = await networkHelpers.loadFixture(fixture);
      const epoch = await createEpoch(nodeList, 1);
      const asStranger = nodeList.connect(stranger);
      const calls = [
        () => asStranger.createEpoch(5, 3, 1),
        () => asStranger.updateWhitelist(epoch, nodes[0]!.address, true),
        () => asStranger.whitelistNodes(epoch, [nodes[0]!.address]),
        () => asStranger.activateEpoch(epoch),
        () => asStranger.startTransition(epoch),
        () => asStranger.abortTransition(epoch),
        () => asStranger.cancelEpoch(epoch),
        () => asStranger.renounceOwnership(),
        () => asStranger.transferOwnership(stranger.address),
      ];
      for (const call of calls) {
        await expect(call()).to.be.revertedWithCustomError(nodeList, "OwnableUnauthorizedAccount").withArgs(stranger.address);
      }
    });

    it("transfers governance in two steps", async function () {
      const { nodeList, newGovernance, governance } = await networkHelpers.loadFixture(fixture);
      await expect(nodeList.transferOwnership(newGovernance.address))
        .to.emit(nodeList, "OwnershipTransferStarted")
        .withArgs(governance.address, newGovernance.address);
      expect(await nodeList.owner()).to.equal(governance.address);
      await expect(nodeList.connect(newGovernance).acceptOwnership())
        .to.emit(nodeList, "OwnershipTransferred")
        .withArgs(governance.address, newGovernance.address);
      await expect(nodeList.createEpoch(5, 3, 1))
        .to.be.revertedWithCustomError(nodeList, "OwnableUnauthorizedAccount")
        .withArgs(governance.address);
      await expect(nodeList.connect(newGovernance).createEpoch(5, 3, 1)).to.emit(nodeList, "EpochCreated");
    });

    it("refuses to renounce governance with RenounceDisabled", async function () {
      const { nodeList, governance } = await networkHelpers.loadFixture(fixture);
      await expect(nodeList.renounceOwnership()).to.be.revertedWithCustomError(nodeList, "RenounceDisabled");
      expect(await nodeList.owner()).to.equal(governance.address);
    });
  });
});
