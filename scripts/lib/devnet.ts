/**
 * Bootstraps a genesis epoch on a chain: deploys the NodeList, makes node keys, funds them, whitelists them, lets each
 * node list itself with its own key, and activates the epoch. Used by `npm start` and by tests that need a registered
 * network on a real chain.
 */
import { chmod, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";

import { Wallet, parseEther } from "ethers";
import type { JsonRpcProvider, Signer } from "ethers";

import type { NodeList } from "../../typechain-types/index.ts";
import * as ops from "./operations.ts";
import { thresholdsFor } from "../../node/chain/thresholds.ts";

export interface DevnetNode {
  key: Wallet;
  endpoints: ops.NodeEndpoints;
}

export interface GenesisOptions {
  provider: JsonRpcProvider;
  governance: Signer;
  n: number;
  /** First port of the nodes' JSON-RPC APIs (node i gets apiBasePort + i) and of their libp2p listeners. */
  apiBasePort?: number;
  p2pBasePort?: number;
  /** When set, each node's private key is written to `<keyDir>/node-<i>.key` (mode 0600). */
  keyDir?: string;
}

export interface Genesis {
  nodeList: NodeList;
  epoch: bigint;
  nodes: DevnetNode[];
  deployedAtBlock: number;
}

export async function bootstrapGenesis(options: GenesisOptions): Promise<Genesis> {
  const { provider, governance, n, apiBasePort = 7000, p2pBasePort = 9000, keyDir } = options;
  const nodeList = await ops.deployNodeList(governance);
  const deployedAtBlock = (await nodeList.deploymentTransaction()?.wait())?.blockNumber ?? 0;

  const nodes: DevnetNode[] = [];
  for (let i = 1; i <= n; i++) {
    const key = new Wallet(Wallet.createRandom().privateKey, provider);
    // Node keys pay for their own registration (and later their handover confirmations).
    await (await governance.sendTransaction({ to: key.address, value: parseEther("10") })).wait();
    nodes.push({
      key,
      endpoints: {
        declaredIp: `127.0.0.1:${apiBasePort + i}`,
        p2pListenAddress: `/ip4/127.0.0.1/tcp/${p2pBasePort + i}`,
      },
    });
    if (keyDir !== undefined) {
      await mkdir(keyDir, { recursive: true, mode: 0o700 });
      const file = path.join(keyDir, `node-${i}.key`);
      await writeFile(file, key.privateKey + "\n", { mode: 0o600 });
      await chmod(file, 0o600);
    }
  }

  const epoch = await ops.createEpoch(nodeList, thresholdsFor(n));
  await ops.whitelistNodes(
    nodeList,
    epoch,
    nodes.map((node) => node.key.address),
  );
  for (const node of nodes) await ops.registerNode(nodeList, epoch, node.key, node.endpoints);
  await ops.activateEpoch(nodeList, epoch);
  return { nodeList, epoch, nodes, deployedAtBlock };
}
