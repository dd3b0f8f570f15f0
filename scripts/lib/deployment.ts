/**
 * Where a NodeList is deployed. `npm start` and the `nodelist:deploy` task write `.devnet/deployment.json` (in
 * DEVNET_DIR when that is set, as `npm start` does); the tasks read the address from `--contract`, else
 * `NODE_LIST_ADDRESS`, else that file.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

import { getAddress } from "ethers";

import { devnetDir } from "./devnet-dir.ts";

export const DEPLOYMENT_FILE = path.join(devnetDir(), "deployment.json");

export interface Deployment {
  chainId: string;
  nodeList: string;
  governance: string;
  deployedAtBlock: number;
}

export async function writeDeployment(deployment: Deployment, file = DEPLOYMENT_FILE): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(deployment, null, 2) + "\n");
}

export async function readDeployment(file = DEPLOYMENT_FILE): Promise<Deployment> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new Error(`no deployment at ${file}: run \`npm start\` or pass --contract`, { cause: error });
  }
  const value = JSON.parse(text) as Partial<Deployment>;
  if (typeof value.nodeList !== "string") throw new Error(`${file}: "nodeList" is missing`);
  return value as Deployment;
}

/** The NodeList address to use: the explicit one, else NODE_LIST_ADDRESS, else the devnet's deployment file. */
export async function resolveNodeListAddress(explicit?: string): Promise<string> {
  const address = explicit || process.env.NODE_LIST_ADDRESS || (await readDeployment()).nodeList;
  try {
    return getAddress(address);
  } catch (error) {
    throw new Error(`"${address}" is not an address`, { cause: error });
  }
}
