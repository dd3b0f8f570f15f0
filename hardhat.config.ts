import { createRequire } from "node:module";

import hardhatToolboxMochaEthers from "@nomicfoundation/hardhat-toolbox-mocha-ethers";
import { defineConfig } from "hardhat/config";

import { operatorTasks } from "./scripts/tasks/index.ts";

const require = createRequire(import.meta.url);

// Solidity compiles offline with the compiler shipped in the npm package `solc` (Hardhat 3's documented `path`
// option); no compiler download can succeed on the machines this project is built on. Keep the two versions equal.
const SOLC_VERSION = "0.8.30";
const solcPackageVersion = (require("solc/package.json") as { version: string }).version;
if (solcPackageVersion !== SOLC_VERSION) {
  throw new Error(
    `npm package solc is ${solcPackageVersion}, hardhat.config.ts wants ${SOLC_VERSION}: pin "solc": "${SOLC_VERSION}"`,
  );
}

export default defineConfig({
  plugins: [hardhatToolboxMochaEthers],
  tasks: operatorTasks,
  solidity: {
    version: SOLC_VERSION,
    path: require.resolve("solc/soljson.js"),
    settings: { optimizer: { enabled: true, runs: 200 } },
  },
  typechain: { outDir: "typechain-types" },
  paths: { tests: { mocha: "test" } },
  test: {
    mocha: {
      // Suites are independent (each deploys its own contracts or starts its own servers), so they run in parallel.
      // `npm test` runs them by tier (scripts/test-tier.ts): the e2e files, which start processes, one file per run.
      parallel: true,
      jobs: 2,
      timeout: 120_000,
      // Tests run on the native curve backend, as nodes do; test/crypto suites also run on noble (describeOnBackends).
      // On a failure while a devnet's nodes run, the end of each node's log (test/support/failure-logs-hook.ts).
      require: [
        new URL("./test/support/native-backend-hook.ts", import.meta.url).href,
        new URL("./test/support/failure-logs-hook.ts", import.meta.url).href,
      ],
    },
  },
  networks: {
    // The devnet's chain (`npm start` serves it on DEVNET_CHAIN_PORT, default 8545), unless CHAIN_RPC_URL names another.
    localhost: {
      type: "http",
      url: process.env.CHAIN_RPC_URL ?? `http://127.0.0.1:${process.env.DEVNET_CHAIN_PORT ?? "8545"}`,
    },
    // The devnet's chain (`hardhat --network devnet node`): block times follow the wall clock, as on a live chain.
    // By default every block gets a later second than its parent, so a burst of transactions pushes the chain's
    // clock ahead of real time — and nodes compare token issue times with block times at an epoch boundary.
    devnet: { type: "edr-simulated", allowBlocksWithSameTimestamp: true },
  },
});
