import { expect } from "chai";
import { AbiCoder, id, keccak256 } from "ethers";
import { network } from "hardhat";

import { EpochState, PssStatus } from "../../node/chain/epoch-state.ts";
import { HANDOVER, activeGenesis, createEpoch, deployNodeList, fundedNodeWallets, whitelistAndList } from "./fixtures.ts";

const { ethers, networkHelpers } = await network.getOrCreate();

describe("NodeList epoch transition", function () {
  /** A current genesis epoch of 5 nodes and a full successor of 7 nodes (t = 1, so n - t = 6 confirmations). */
  async function fixture() {
    const deployed = await deployNodeList(ethers);
    const oldNodes = await fundedNodeWallets(ethers, networkHelpers, 5, "old");
    // The successor keeps two of the old operators' keys and adds five new ones.
    const newNodes = [oldNodes[3]!, oldNodes[4]!, ...(await fundedNodeWallets(ethers, networkHelpers, 5, "new"))];
    const oldEpoch = await activeGenesis(deployed.nodeList, oldNodes);
    const newEpoch = await createEpoch(deployed.nodeList, 7);
    await whitelistAndList(deployed.nodeList, newEpoch, newNodes);
    return { ...deployed, oldNodes, newNodes, oldEpoch, newEpoch };
  }

  async function runningFixture() {
    const f = await fixture();
    await f.nodeList.startTransition(f.newEpoch);
    return f;
  }

  const { mappingRoot, keyCount, commitmentsRoot } = HANDOVER;
  const digest = keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32", "uint256", "bytes32"], [mappingRoot, keyCount, commitmentsRoot]));

  it("computes the handover digest as keccak256(abi.encode(mappingRoot, keyCount, commitmentsRoot))", async function () {
    const { nodeList } = await networkHelpers.loadFixture(fixture);
    expect(await nodeList.handoverDigestOf(mappingRoot, keyCount, commitmentsRoot)).to.equal(digest);
  });

  describe("startTransition", function () {
    it("moves the current epoch to Transitioning and marks the PSS status running", async function () {
      const { nodeList, oldEpoch, newEpoch } = await networkHelpers.loadFixture(fixture);
      await expect(nodeList.startTransition(newEpoch)).to.emit(nodeList, "TransitionStarted").withArgs(oldEpoch, newEpoch, 1n);
      expect((await nodeList.getEpochStatus(oldEpoch)).state).to.equal(EpochState.Transitioning);
      expect((await nodeList.getEpochStatus(newEpoch)).state).to.equal(EpochState.Ready);
      expect(await nodeList.getPssStatus(oldEpoch, newEpoch)).to.equal(PssStatus.Running);
      expect(await nodeList.currentEpoch()).to.equal(oldEpoch);
    });

    it("rejects an epoch that is not the current epoch's successor with NotSuccessor", async function () {
      const { nodeList, oldEpoch } = await networkHelpers.loadFixture(fixture);
      await expect(nodeList.startTransition(oldEpoch)).to.be.revertedWithCustomError(nodeList, "NotSuccessor").withArgs(oldEpoch, oldEpoch);
      await expect(nodeList.startTransition(99)).to.be.revertedWithCustomError(nodeList, "NotSuccessor").withArgs(99n, oldEpoch);
    });

    it("rejects a transition before any epoch is current with NotSuccessor", async function () {
      const { nodeList } = await deployNodeList(ethers);
      const genesis = await createEpoch(nodeList, 1);
      await expect(nodeList.startTransition(genesis)).to.be.revertedWithCustomError(nodeList, "NotSuccessor").withArgs(genesis, 0n);
    });

    it("rejects a successor whose list is not full with InvalidEpochState", async function () {
      const { nodeList, newEpoch } = await networkHelpers.loadFixture(fixture);
      await nodeList.cancelEpoch(newEpoch);
      const partial = await createEpoch(nodeList, 5);
      await expect(nodeList.startTransition(partial))
        .to.be.revertedWithCustomError(nodeList, "InvalidEpochState")
        .withArgs(partial, EpochState.Registering, EpochState.Ready);
    });

    it("rejects starting a transition that is already running with InvalidEpochState", async function () {
      const { nodeList, oldEpoch, newEpoch } = await networkHelpers.loadFixture(runningFixture);
      await expect(nodeList.startTransition(newEpoch))
        .to.be.revertedWithCustomError(nodeList, "InvalidEpochState")
        .withArgs(oldEpoch, EpochState.Transitioning, EpochState.Current);
    });
  });

  describe("confirmHandover", function () {
    it("counts confirmations per digest and emits HandoverConfirmed", async function () {
      const { nodeList, newNodes, newEpoch } = await networkHelpers.loadFixture(runningFixture);
      for (const [i, node] of newNodes.slice(0, 3).entries()) {
        await expect(nodeList.connect(node).confirmHandover(newEpoch, mappingRoot, keyCount, commitmentsRoot))
          .to.emit(nodeList, "HandoverConfirmed")
          .withArgs(newEpoch, node.address, digest, BigInt(i + 1));
      }
      expect(await nodeList.getHandoverConfirmations(newEpoch, digest)).to.equal(3n);
      expect(await nodeList.getHandoverConfirmation(newEpoch, newNodes[0]!.address)).to.equal(digest);
      expect(await nodeList.getHandoverConfirmation(newEpoch, newNodes[4]!.address)).to.equal(ethers.ZeroHash);
    });

    it("completes the handover on the (n - t)-th identical digest, without governance", async function () {
      const { nodeList, newNodes, oldEpoch, newEpoch } = await networkHelpers.loadFixture(runningFixture);
      for (const node of newNodes.slice(0, 5)) {
        await nodeList.connect(node).confirmHandover(newEpoch, mappingRoot, keyCount, commitmentsRoot);
      }
      expect(await nodeList.currentEpoch()).to.equal(oldEpoch);
      const tx = nodeList.connect(newNodes[5]).confirmHandover(newEpoch, mappingRoot, keyCount, commitmentsRoot);
      await expect(tx).to.emit(nodeList, "TransitionCompleted").withArgs(oldEpoch, newEpoch, digest);
      await expect(tx).to.emit(nodeList, "EpochChanged").withArgs(oldEpoch, newEpoch);
      expect(await nodeList.currentEpoch()).to.equal(newEpoch);
      expect((await nodeList.getEpochStatus(oldEpoch)).state).to.equal(EpochState.Retired);
      const status = await nodeList.getEpochStatus(newEpoch);
      expect([status.state, status.handoverDigest]).to.deep.equal([BigInt(EpochState.Current), digest]);
      expect(status.activatedAt).to.equal(BigInt(await networkHelpers.time.latest()));
      expect(await nodeList.getPssStatus(oldEpoch, newEpoch)).to.equal(PssStatus.Completed);
      // The last node may not confirm any more: the transition is over.
      await expect(nodeList.connect(newNodes[6]).confirmHandover(newEpoch, mappingRoot, keyCount, commitmentsRoot))
        .to.be.revertedWithCustomError(nodeList, "NoRunningTransition")
        .withArgs(newEpoch, newEpoch);
    });

    it("does not complete while the new nodes disagree on the digest", async function () {
      const { nodeList, newNodes, oldEpoch, newEpoch } = await networkHelpers.loadFixture(runningFixture);
      // 5 honest confirmations and 2 of another digest: n - t = 6 identical ones never arrive.
      for (const node of newNodes.slice(0, 5)) {
        await nodeList.connect(node).confirmHandover(newEpoch, mappingRoot, keyCount, commitmentsRoot);
      }
      for (const node of newNodes.slice(5)) {
        await nodeList.connect(node).confirmHandover(newEpoch, mappingRoot, keyCount + 1n, commitmentsRoot);
      }
      expect(await nodeList.currentEpoch()).to.equal(oldEpoch);
      expect(await nodeList.getHandoverConfirmations(newEpoch, digest)).to.equal(5n);
      expect((await nodeList.getEpochStatus(oldEpoch)).state).to.equal(EpochState.Transitioning);
    });

    it("rejects a second confirmation by the same node with AlreadyConfirmed", async function () {
      const { nodeList, newNodes, newEpoch } = await networkHelpers.loadFixture(runningFixture);
      const node = newNodes[0]!;
      await nodeList.connect(node).confirmHandover(newEpoch, mappingRoot, keyCount, commitmentsRoot);
      await expect(nodeList.connect(node).confirmHandover(newEpoch, id("other"), keyCount, commitmentsRoot))
        .to.be.revertedWithCustomError(nodeList, "AlreadyConfirmed")
        .withArgs(newEpoch, node.address, digest);
    });

    it("rejects a node that is not listed in the new epoch with NotListed", async function () {
      const { nodeList, oldNodes, newEpoch } = await networkHelpers.loadFixture(runningFixture);
      // oldNodes[0] serves the old epoch only.
      await expect(nodeList.connect(oldNodes[0]).confirmHandover(newEpoch, mappingRoot, keyCount, commitmentsRoot))
        .to.be.revertedWithCustomError(nodeList, "NotListed")
        .withArgs(newEpoch, oldNodes[0]!.address);
    });

    it("rejects a confirmation when no transition runs with NoRunningTransition", async function () {
      const { nodeList, newNodes, oldEpoch, newEpoch } = await networkHelpers.loadFixture(fixture);
      await expect(nodeList.connect(newNodes[0]).confirmHandover(newEpoch, mappingRoot, keyCount, commitmentsRoot))
        .to.be.revertedWithCustomError(nodeList, "NoRunningTransition")
        .withArgs(oldEpoch, newEpoch);
    });
  });

  describe("abortTransition and retry", function () {
    it("returns the old epoch to Current and marks the PSS status aborted", async function () {
      const { nodeList, oldEpoch, newEpoch } = await networkHelpers.loadFixture(runningFixture);
      await expect(nodeList.abortTransition(newEpoch)).to.emit(nodeList, "TransitionAborted").withArgs(oldEpoch, newEpoch, 1n);
      expect((await nodeList.getEpochStatus(oldEpoch)).state).to.equal(EpochState.Current);
      expect(await nodeList.getPssStatus(oldEpoch, newEpoch)).to.equal(PssStatus.Aborted);
    });

    it("rejects an abort when no transition runs with NoRunningTransition", async function () {
      const { nodeList, oldEpoch, newEpoch } = await networkHelpers.loadFixture(fixture);
      await expect(nodeList.abortTransition(newEpoch))
        .to.be.revertedWithCustomError(nodeList, "NoRunningTransition")
        .withArgs(oldEpoch, newEpoch);
    });

    it("does not count an aborted attempt's confirmations towards the retry", async function () {
      const { nodeList, newNodes, oldEpoch, newEpoch } = await networkHelpers.loadFixture(runningFixture);
      for (const node of newNodes.slice(0, 5)) {
        await nodeList.connect(node).confirmHandover(newEpoch, mappingRoot, keyCount, commitmentsRoot);
      }
      await nodeList.abortTransition(newEpoch);
      await expect(nodeList.startTransition(newEpoch)).to.emit(nodeList, "TransitionStarted").withArgs(oldEpoch, newEpoch, 2n);
      expect(await nodeList.getHandoverConfirmations(newEpoch, digest)).to.equal(0n);
      // The sixth node alone cannot complete the retry, and the first five may confirm again.
      await nodeList.connect(newNodes[5]).confirmHandover(newEpoch, mappingRoot, keyCount, commitmentsRoot);
      expect(await nodeList.currentEpoch()).to.equal(oldEpoch);
      for (const node of newNodes.slice(0, 5)) {
        await nodeList.connect(node).confirmHandover(newEpoch, mappingRoot, keyCount, commitmentsRoot);
      }
      expect(await nodeList.currentEpoch()).to.equal(newEpoch);
      expect((await nodeList.getEpochStatus(newEpoch)).transitionAttempt).to.equal(2n);
    });
  });

  it("chains epochs whose node count and thresholds change (5 -> 7 -> 5)", async function () {
    const { nodeList, newNodes, oldNodes, newEpoch } = await networkHelpers.loadFixture(runningFixture);
    for (const node of newNodes.slice(0, 6)) {
      await nodeList.connect(node).confirmHandover(newEpoch, mappingRoot, keyCount, commitmentsRoot);
    }
    const third = await createEpoch(nodeList, 5);
    expect((await nodeList.getEpochInfo(third)).prevEpoch).to.equal(newEpoch);
    expect((await nodeList.getEpochInfo(newEpoch)).nextEpoch).to.equal(third);
    await whitelistAndList(nodeList, third, oldNodes);
    await nodeList.startTransition(third);
    for (const node of oldNodes.slice(0, 4)) {
      await nodeList.connect(node).confirmHandover(third, mappingRoot, keyCount + 5n, commitmentsRoot);
    }
    expect(await nodeList.currentEpoch()).to.equal(third);
    const [, n, k, t] = await nodeList.getEpochInfo(third);
    expect([n, k, t]).to.deep.equal([5n, 3n, 1n]);
  });
});
