import type { DeploymentIdentity } from "../../node/store/deployment-binding.ts";

/** A deployment for tests that bind data (a data directory, a database) without a chain: Hardhat's first NodeList. */
export const TEST_DEPLOYMENT: DeploymentIdentity = {
  chainId: "31337",
  nodeList: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  deploymentBlock: 1,
  deploymentBlockHash: "0x" + "ab".repeat(32),
  nodeAddress: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
};
