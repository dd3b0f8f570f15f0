/**
 * Hardhat tasks for governance and node operators. Run them against a chain with `--network`, e.g.
 * `npx hardhat --network localhost epoch:status`. The NodeList address comes from `--contract`, else the
 * NODE_LIST_ADDRESS environment variable, else `.devnet/deployment.json` (written by `npm start`; DEVNET_DIR moves it).
 */
import path from "node:path";

import { HardhatPluginError } from "@nomicfoundation/hardhat-errors";
import { task } from "hardhat/config";
import { ArgumentType } from "hardhat/types/arguments";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";

import { devnetDir } from "../lib/devnet-dir.ts";
import type * as ActionsModule from "./actions.ts";

const deploymentFile = path.join(devnetDir(), "deployment.json");

const contractOption = {
  name: "contract",
  description: `NodeList address (default: NODE_LIST_ADDRESS, then ${deploymentFile})`,
  type: ArgumentType.STRING_WITHOUT_DEFAULT,
  defaultValue: undefined,
} as const;

const epochOption = { name: "epoch", description: "Epoch id", type: ArgumentType.BIGINT, defaultValue: 0n } as const;

type Actions = typeof ActionsModule;

/**
 * Runs an action (loaded on first use, so that the config stays light) and reports its failure as a message for the
 * operator rather than as a Hardhat bug report.
 */
function action<K extends keyof Actions>(name: K) {
  return async (args: Parameters<Actions[K]>[0], hre: HardhatRuntimeEnvironment): Promise<void> => {
    const actions = await import("./actions.ts");
    try {
      await (actions[name] as (a: typeof args, h: HardhatRuntimeEnvironment) => Promise<void>)(args, hre);
    } catch (error) {
      if (!(error instanceof Error)) throw error;
      throw new HardhatPluginError("torus-network", error.message, error);
    }
  };
}

export const operatorTasks = [
  task("nodelist:deploy", `Deploys a NodeList and records it in ${deploymentFile}`)
    .addOption({
      name: "governance",
      description: "Governance address (default: the deploying account)",
      type: ArgumentType.STRING_WITHOUT_DEFAULT,
      defaultValue: undefined,
    })
    .addOption({
      name: "out",
      description: "Deployment file to write",
      type: ArgumentType.STRING,
      defaultValue: deploymentFile,
    })
    .setInlineAction(action("deploy"))
    .build(),

  task("epoch:create", "Creates the successor of the current epoch (governance)")
    .addOption({ name: "n", description: "Number of nodes", type: ArgumentType.INT, defaultValue: 5 })
    .addOption({
      name: "t",
      description: "Faults tolerated (default: the largest with n >= 4t + 1)",
      type: ArgumentType.INT,
      defaultValue: -1,
    })
    .addOption(contractOption)
    .setInlineAction(action("createEpoch"))
    .build(),

  task("epoch:whitelist", "Whitelists node-key addresses in a registering epoch (governance)")
    .addOption(epochOption)
    .addOption({
      name: "nodes",
      description: "Comma-separated node-key addresses",
      type: ArgumentType.STRING,
      defaultValue: "",
    })
    .addOption(contractOption)
    .setInlineAction(action("whitelist"))
    .build(),

  task("epoch:activate", "Makes a full genesis epoch current (governance)")
    .addOption(epochOption)
    .addOption(contractOption)
    .setInlineAction(action("activate"))
    .build(),

  task("epoch:transition", "Starts (or with --abort, aborts) the handover to a full successor epoch (governance)")
    .addOption(epochOption)
    .addFlag({ name: "abort", description: "Abort the running transition instead of starting one" })
    .addOption(contractOption)
    .setInlineAction(action("transition"))
    .build(),

  task("epoch:status", "Prints an epoch (default: the current one), its state and its nodes")
    .addOption(epochOption)
    .addOption(contractOption)
    .setInlineAction(action("status"))
    .build(),

  task("node:fund", "Sends ether from the first account to node keys, which pay for their own transactions (devnets)")
    .addOption({
      name: "nodes",
      description: "Comma-separated node-key addresses",
      type: ArgumentType.STRING,
      defaultValue: "",
    })
    .addOption({ name: "ether", description: "Ether per node key", type: ArgumentType.STRING, defaultValue: "1" })
    .setInlineAction(action("fund"))
    .build(),

  task("node:register", "Lists a node in an epoch, sent by the node's own key (operator)")
    .addOption(epochOption)
    .addOption({
      name: "keyFile",
      description: "File holding the node's private key in hex",
      type: ArgumentType.STRING,
      defaultValue: "",
    })
    .addOption({
      name: "api",
      description: "host:port of the node's JSON-RPC API",
      type: ArgumentType.STRING,
      defaultValue: "",
    })
    .addOption({
      name: "p2p",
      description: "libp2p multiaddr of the node",
      type: ArgumentType.STRING,
      defaultValue: "",
    })
    .addOption(contractOption)
    .setInlineAction(action("register"))
    .build(),
];
