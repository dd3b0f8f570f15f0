import { Wallet, getAddress, parseEther } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";

import { resolveNodeListAddress, writeDeployment } from "../lib/deployment.ts";
import { readNodeKeyFile } from "../../node/chain/node-key.ts";
import * as ops from "../lib/operations.ts";
import { thresholdsFor } from "../../node/chain/thresholds.ts";

async function connect(hre: HardhatRuntimeEnvironment, contract: string | undefined) {
  const { ethers } = await hre.network.getOrCreate();
  const [governance] = await ethers.getSigners();
  if (governance === undefined) throw new Error("the network has no account to send from; configure one");
  const nodeList = ops.connectNodeList(await resolveNodeListAddress(contract), governance);
  return { ethers, nodeList };
}

function parseAddresses(list: string): string[] {
  const items = list
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (items.length === 0) throw new Error("--nodes is required (comma-separated addresses)");
  return items.map((item) => {
    try {
      return getAddress(item); // also refuses a mixed-case address whose EIP-55 checksum is wrong
    } catch {
      throw new Error(`"${item}" is not an address`);
    }
  });
}

function requireEpoch(epoch: bigint): bigint {
  if (epoch <= 0n) throw new Error("--epoch is required (a positive epoch id)");
  return epoch;
}

export async function deploy(args: { governance: string | undefined; out: string }, hre: HardhatRuntimeEnvironment) {
  const { ethers } = await hre.network.getOrCreate();
  const [deployer] = await ethers.getSigners();
  if (deployer === undefined) throw new Error("the network has no account to deploy from; configure one");
  const nodeList = await ops.deployNodeList(deployer, args.governance);
  const address = await nodeList.getAddress();
  const receipt = await nodeList.deploymentTransaction()?.wait();
  await writeDeployment(
    {
      chainId: (await ethers.provider.getNetwork()).chainId.toString(),
      nodeList: address,
      governance: await nodeList.owner(),
      deployedAtBlock: receipt?.blockNumber ?? 0,
    },
    args.out,
  );
  console.log(`NodeList deployed at ${address} (recorded in ${args.out})`);
}

export async function createEpoch(
  args: { n: number; t: number; contract: string | undefined },
  hre: HardhatRuntimeEnvironment,
) {
  const { nodeList } = await connect(hre, args.contract);
  const thresholds = args.t < 0 ? thresholdsFor(args.n) : thresholdsFor(args.n, args.t);
  const epoch = await ops.createEpoch(nodeList, thresholds);
  console.log(`created epoch ${epoch}: n=${thresholds.n} k=${thresholds.k} t=${thresholds.t}`);
}

export async function whitelist(
  args: { epoch: bigint; nodes: string; contract: string | undefined },
  hre: HardhatRuntimeEnvironment,
) {
  const { nodeList } = await connect(hre, args.contract);
  const addresses = parseAddresses(args.nodes);
  await ops.whitelistNodes(nodeList, requireEpoch(args.epoch), addresses);
  console.log(`whitelisted ${addresses.length} node key(s) in epoch ${args.epoch}`);
}

export async function activate(args: { epoch: bigint; contract: string | undefined }, hre: HardhatRuntimeEnvironment) {
  const { nodeList } = await connect(hre, args.contract);
  await ops.activateEpoch(nodeList, requireEpoch(args.epoch));
  console.log(`epoch ${args.epoch} is current`);
}

export async function transition(
  args: { epoch: bigint; abort: boolean; contract: string | undefined },
  hre: HardhatRuntimeEnvironment,
) {
  const { nodeList } = await connect(hre, args.contract);
  const epoch = requireEpoch(args.epoch);
  if (args.abort) await ops.abortTransition(nodeList, epoch);
  else await ops.startTransition(nodeList, epoch);
  console.log(`${args.abort ? "aborted" : "started"} the transition to epoch ${epoch}`);
}

export async function status(args: { epoch: bigint; contract: string | undefined }, hre: HardhatRuntimeEnvironment) {
  const { nodeList } = await connect(hre, args.contract);
  console.log(ops.formatEpoch(await ops.describeEpoch(nodeList, args.epoch > 0n ? args.epoch : undefined)));
}

export async function register(
  args: { epoch: bigint; keyFile: string; api: string; p2p: string; contract: string | undefined },
  hre: HardhatRuntimeEnvironment,
) {
  if (args.keyFile === "") throw new Error("--key-file is required");
  if (args.api === "" || args.p2p === "") throw new Error("--api host:port and --p2p multiaddr are required");
  const { nodeList, ethers } = await connect(hre, args.contract);
  const nodeKey = new Wallet(await readNodeKeyFile(args.keyFile), ethers.provider);
  if ((await ethers.provider.getBalance(nodeKey.address)) === 0n) {
    throw new Error(`node key ${nodeKey.address} has no ether: it pays for its own registration, so fund it first`);
  }
  const position = await ops.registerNode(nodeList, requireEpoch(args.epoch), nodeKey, {
    declaredIp: args.api,
    p2pListenAddress: args.p2p,
  });
  console.log(`node ${nodeKey.address} listed in epoch ${args.epoch} at position ${position}`);
}

export async function fund(args: { nodes: string; ether: string }, hre: HardhatRuntimeEnvironment) {
  const addresses = parseAddresses(args.nodes);
  const value = parseEther(args.ether);
  const { ethers } = await hre.network.getOrCreate();
  const [funder] = await ethers.getSigners();
  if (funder === undefined) throw new Error("the network has no account to send from; configure one");
  for (const to of addresses) await (await funder.sendTransaction({ to, value })).wait();
  console.log(`sent ${args.ether} ether to each of ${addresses.length} node key(s)`);
}
