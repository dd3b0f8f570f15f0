/**
 * Which deployment a node serves, from chain data alone: the chain id, the NodeList address, and the number and hash
 * of the block that deployed the NodeList (the contract records the number; the chain gives its hash). See
 * node/store/deployment-binding.ts for why the hash matters.
 */
import { getAddress } from "ethers";

import type { DeploymentIdentity } from "../store/deployment-binding.ts";
import { ChainResetError, type Registry } from "./registry.ts";

export async function readDeploymentIdentity(registry: Registry): Promise<DeploymentIdentity> {
  const nodeList = getAddress(await registry.contract.getAddress());
  const chainId = await registry.call("eth_chainId", async (_, provider) => (await provider.getNetwork()).chainId);
  let deploymentBlock: bigint;
  try {
    deploymentBlock = await registry.call("deploymentBlock", (c) => c.deploymentBlock());
  } catch (error) {
    if (error instanceof ChainResetError) throw error;
    throw new Error(
      `the NodeList at ${nodeList} does not tell its deployment block (deployed by an older version?): ` +
        `deploy it again (npx hardhat nodelist:deploy)`,
      { cause: error },
    );
  }
  const block = await registry.call("getBlock", (_, provider) => provider.getBlock(deploymentBlock));
  if (!block?.hash) throw new Error(`the chain has no block ${deploymentBlock}, where ${nodeList} was deployed`);
  return {
    chainId: chainId.toString(),
    nodeList,
    deploymentBlock: Number(deploymentBlock),
    deploymentBlockHash: block.hash,
    nodeAddress: registry.address,
  };
}
