/**
 * `npm start`: the local network. Today it starts a Hardhat chain on 127.0.0.1, deploys the NodeList, registers a
 * genesis epoch of five nodes (keys in .devnet/nodes/) and prints it; the chain keeps running until Ctrl-C, so the
 * Hardhat tasks (`npx hardhat --network localhost epoch:status`) work against it.
 *
 * Options: --port <chain port> (default 8545, or DEVNET_CHAIN_PORT), --nodes <n> (default 5), --dir <state dir>
 * (default .devnet), --once (exit after printing, for scripted checks).
 */
import path from "node:path";
import { parseArgs } from "node:util";

import { JsonRpcProvider } from "ethers";

import { startChain } from "./lib/chain-process.ts";
import { writeDeployment } from "./lib/deployment.ts";
import { bootstrapGenesis } from "./lib/devnet.ts";
import { describeEpoch, formatEpoch } from "./lib/operations.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: process.env.DEVNET_CHAIN_PORT ?? "8545" },
    nodes: { type: "string", default: "5" },
    dir: { type: "string", default: ".devnet" },
    once: { type: "boolean", default: false },
  },
});

function positiveInt(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer, got "${raw}"`);
  return value;
}

const port = positiveInt("port", values.port);
const n = positiveInt("nodes", values.nodes);
const dir = values.dir;

const chain = await startChain({ port, logFile: path.join(dir, "chain.log") });
let stopping = false;
const shutdown = async (code: number) => {
  if (stopping) return;
  stopping = true;
  await chain.stop();
  process.exit(code);
};
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

try {
  const provider = new JsonRpcProvider(chain.url, undefined, { pollingInterval: 200 });
  const governance = await provider.getSigner(0);
  const genesis = await bootstrapGenesis({ provider, governance, n, keyDir: path.join(dir, "nodes") });
  const nodeList = await genesis.nodeList.getAddress();
  await writeDeployment(
    {
      chainId: (await provider.getNetwork()).chainId.toString(),
      nodeList,
      governance: await governance.getAddress(),
      deployedAtBlock: genesis.deployedAtBlock,
    },
    path.join(dir, "deployment.json"),
  );
  console.log(`chain      ${chain.url} (log: ${path.join(dir, "chain.log")})`);
  console.log(`NodeList   ${nodeList}`);
  console.log(`node keys  ${path.join(dir, "nodes")}/node-<i>.key`);
  console.log(formatEpoch(await describeEpoch(genesis.nodeList)));
  provider.destroy();
  if (values.once) await shutdown(0);
  else console.log("\nThe chain keeps running; Ctrl-C stops it. Try: npx hardhat --network localhost epoch:status");
} catch (error) {
  console.error(process.env.DEBUG ? error : error instanceof Error ? error.message : error);
  await shutdown(1);
}
