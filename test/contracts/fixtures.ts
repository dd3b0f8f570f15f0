import { Wallet, id, parseEther } from "ethers";
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import type { NetworkHelpers } from "@nomicfoundation/hardhat-network-helpers/types";

import { publicKeyCoordinates } from "../../node/chain/node-key.ts";
import { thresholdsFor, type Thresholds } from "../../node/chain/thresholds.ts";
import { deployNodeList as deployContract } from "../../scripts/lib/operations.ts";
import type { NodeList } from "../../typechain-types/index.ts";

/** Endpoints a test node declares: JSON-RPC API host:port, an (unused) Tendermint address, a libp2p multiaddr. */
export function endpointsOf(index: number) {
  return {
    declaredIp: `127.0.0.1:${7000 + index}`,
    tmP2PListenAddress: "",
    p2pListenAddress: `/ip4/127.0.0.1/tcp/${9000 + index}`,
  };
}

/** Deterministic node keys (so failures reproduce), funded on the test chain. */
export async function fundedNodeWallets(ethers: HardhatEthers, helpers: NetworkHelpers, count: number, salt = "node") {
  const wallets: Wallet[] = [];
  for (let i = 0; i < count; i++) {
    const wallet = new Wallet(id(`${salt}-${i}`), ethers.provider);
    await helpers.setBalance(wallet.address, parseEther("100"));
    wallets.push(wallet);
  }
  return wallets;
}

export async function deployNodeList(ethers: HardhatEthers) {
  const [governance, stranger, newGovernance] = await ethers.getSigners();
  if (!governance || !stranger || !newGovernance) throw new Error("the test chain has too few accounts");
  const nodeList = await deployContract(governance);
  return { nodeList, governance, stranger, newGovernance };
}

/** Creates the next epoch with `thresholdsFor(n)` (or the given thresholds) and returns its id. */
export async function createEpoch(nodeList: NodeList, thresholds: Thresholds | number): Promise<bigint> {
  const { n, k, t } = typeof thresholds === "number" ? thresholdsFor(thresholds) : thresholds;
  await (await nodeList.createEpoch(n, k, t)).wait();
  return nodeList.epochCount();
}

/** Lists one node in an epoch, sent by the node's own key. */
export async function listNode(nodeList: NodeList, epoch: bigint, wallet: Wallet, endpointIndex: number) {
  const { pubKx, pubKy } = publicKeyCoordinates(wallet);
  const { declaredIp, tmP2PListenAddress, p2pListenAddress } = endpointsOf(endpointIndex);
  return nodeList.connect(wallet).listNode(epoch, declaredIp, pubKx, pubKy, tmP2PListenAddress, p2pListenAddress);
}

/** Whitelists every wallet and lists them in order, which fills the epoch when there are n of them. */
export async function whitelistAndList(nodeList: NodeList, epoch: bigint, wallets: Wallet[]) {
  await (await nodeList.whitelistNodes(epoch, wallets.map((w) => w.address))).wait();
  for (const [i, wallet] of wallets.entries()) await (await listNode(nodeList, epoch, wallet, i + 1)).wait();
}

/** A current genesis epoch of `nodes.length` nodes. */
export async function activeGenesis(nodeList: NodeList, nodes: Wallet[]) {
  const epoch = await createEpoch(nodeList, nodes.length);
  await whitelistAndList(nodeList, epoch, nodes);
  await (await nodeList.activateEpoch(epoch)).wait();
  return epoch;
}

export const HANDOVER = {
  mappingRoot: id("mapping-root"),
  keyCount: 1000n,
  commitmentsRoot: id("commitments-root"),
} as const;
