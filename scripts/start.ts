/**
 * `npm start`: the local network. Starts a Hardhat chain on 127.0.0.1, deploys the NodeList, whitelists and funds
 * fresh node keys, starts each node as its own process (each lists itself on-chain), activates epoch 1, starts a
 * development OIDC issuer, shows the key buffer filling, writes `.devnet/network.json`, and stays up until Ctrl-C,
 * which stops every process.
 *
 * Options: --nodes <n> (default 5), --port <chain port> (8545, or DEVNET_CHAIN_PORT), --api-base <port> (7000: node i
 * serves on base + i), --p2p-base <port> (9000), --oidc-port <port> (5555), --signer-port <port> (5558), --keys <buffer to wait for> (50),
 * --control-port <port> (5556), --ui-port <port> (5557), --dir <state dir> (.devnet, or DEVNET_DIR), --once (exit once
 * ready, for scripted checks), --storage embedded|postgres (embedded: SQLite files in each node's data directory;
 * postgres: a PostgreSQL server of the devnet's own, under the temporary directory, with a database per node). A port
 * of 0 picks a free one.
 *
 * The web UI (scripts/lib/ui-server.ts) serves the demo DApp at `/` and the network status page at `/status`; its
 * URL is printed and recorded in network.json as `ui`.
 *
 * Every run starts from a clean state directory (a new chain and new node keys must not meet an old run's node data):
 * it removes the previous devnet's directory, and refuses a non-empty one that is not a devnet's (see devnet-dir.ts).
 * It writes `deployment.json` there, which the Hardhat tasks read, so that `npx hardhat --network localhost …` works
 * against it as the README prints (`localhost` follows DEVNET_CHAIN_PORT, as `--port` does).
 *
 * While it runs, `npm run devnet:transition -- --nodes <n>` hands the network over to a new epoch of n nodes through
 * the control endpoint on 127.0.0.1 (recorded in network.json as `control`).
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";

import { getOrAssignKey, login, networkFromDescription } from "../client/index.ts";
import { writeDeployment } from "./lib/deployment.ts";
import { startControl } from "./lib/devnet-control.ts";
import { startUiServer, type UiServer } from "./lib/ui-server.ts";
import { devnetDir, prepareDevnetDir } from "./lib/devnet-dir.ts";
import { Devnet } from "./lib/devnet-processes.ts";
import { PostgresServer } from "./lib/postgres-server.ts";
import { describeEpoch, formatEpoch } from "./lib/operations.ts";
import { PRIVATE_UMASK } from "../node/store/file-modes.ts";

// The devnet writes node keystores, their passwords and the nodes' logs, and its node processes inherit this: all of
// it readable by the owner only, as on an operator's machine.
process.umask(PRIVATE_UMASK);

const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "5" },
    port: { type: "string", default: process.env.DEVNET_CHAIN_PORT ?? "8545" },
    "api-base": { type: "string", default: "7000" },
    "p2p-base": { type: "string", default: "9000" },
    "oidc-port": { type: "string", default: "5555" },
    "signer-port": { type: "string", default: "5558" },
    "control-port": { type: "string", default: "5556" },
    "ui-port": { type: "string", default: "5557" },
    keys: { type: "string", default: "50" },
    dir: { type: "string", default: devnetDir() },
    once: { type: "boolean", default: false },
    storage: { type: "string", default: "embedded" },
  },
});
if (values.storage !== "embedded" && values.storage !== "postgres")
  throw new Error(`--storage must be "embedded" or "postgres", got "${values.storage}"`);

function count(name: string, raw: string, min: number): number {
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min)
    throw new Error(`--${name} must be an integer ≥ ${min}, got "${raw}"`);
  return value;
}

const n = count("nodes", values.nodes, 1);
const wantedKeys = count("keys", values.keys, 0);
const dir = values.dir;
/** The nodes' key buffer when --keys asks for fewer: enough for the demo and a few DApp sign-ups. */
const DEFAULT_KEY_BUFFER = 60;
/** The devnet's nodes allow this clock skew at an epoch boundary (see `api.epochClockSkewSeconds`). */
const EPOCH_SKEW_SECONDS = 10;
let devnet: Devnet | undefined;
let ui: UiServer | undefined;
let postgres: PostgresServer | undefined;
let stopping = false;
const shutdown = async (code: number) => {
  if (stopping) return;
  stopping = true;
  await ui?.stop();
  await devnet?.stop();
  await postgres?.stop();
  process.exit(code);
};
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

try {
  if ((await prepareDevnetDir(dir)).removed) console.log(`removed the previous devnet's state in ${dir}`);
  // Started first, so that a taken port stops the start at once; until network.json is written, its pages say the
  // network is starting.
  ui = await startUiServer({
    port: count("ui-port", values["ui-port"], 0),
    networkFile: path.join(dir, "network.json"),
  });
  if (values.storage === "postgres") {
    postgres = await PostgresServer.start({ fsync: true });
    console.log(`PostgreSQL ${postgres.url()} (data in ${postgres.dir}), a database per node`);
  }
  devnet = await Devnet.start({
    dir,
    n,
    postgres,
    chainPort: count("port", values.port, 1),
    apiBasePort: count("api-base", values["api-base"], 0),
    p2pBasePort: count("p2p-base", values["p2p-base"], 0),
    oidcPort: count("oidc-port", values["oidc-port"], 0),
    signerPort: count("signer-port", values["signer-port"], 0),
    epochClockSkewSeconds: EPOCH_SKEW_SECONDS,
    // The nodes keep at least the buffer asked for (--keys), so that the wait below can end.
    keyBuffer: Math.max(DEFAULT_KEY_BUFFER, wantedKeys),
    log: (line) => console.log(line),
  });
  await recordDeployment(devnet);
  const started = Date.now();
  let publishedAtStart: number | undefined;
  const bar = (published: number) => {
    publishedAtStart ??= published;
    const width = 30;
    const filled = Math.min(width, Math.round((published / Math.max(1, wantedKeys)) * width));
    process.stdout.write(
      `\rkey buffer [${"#".repeat(filled)}${".".repeat(width - filled)}] ${published}/${wantedKeys} keys`,
    );
  };
  await devnet.waitForKeys(wantedKeys, 600_000, bar);
  const seconds = (Date.now() - started) / 1000;
  // The rate of generation: keys published while this start waited (the nodes may have begun before it looked).
  const rate = (wantedKeys - (publishedAtStart ?? 0)) / Math.max(seconds, 0.001);
  console.log(`\nkey buffer filled in ${seconds.toFixed(1)} s (${rate.toFixed(1)} keys/s)`);
  const control = await startControl(count("control-port", values["control-port"], 0), (nodes, say) =>
    transition(devnet!, nodes, control.url, ui!.url, say),
  );
  process.on("exit", () => control.server.close());
  const network = await writeDescription(devnet, control.url, ui.url);
  console.log(`chain      ${network.chain.rpcUrl}   NodeList ${network.chain.nodeList}`);
  await printEpoch(devnet, network, (line) => console.log(line));
  console.log(
    `OIDC issuer ${network.oidc.issuer}  (POST ${network.oidc.tokenEndpoint} {"email": …}, verifier "${network.oidc.verifier}")`,
  );
  console.log(
    `KeyAssign signer ${network.signerHost}  (torus.js's signerHost; a development faucet: it signs for anyone)`,
  );
  console.log(`network    ${path.join(dir, "network.json")}`);
  console.log(`control    ${control.url}  (npm run devnet:transition -- --nodes <n>)`);
  console.log(`UI         ${ui.url}  (the demo DApp; the network status at ${ui.url}status)`);
  await demoLogin(devnet, network, (line) => console.log(line));
  if (values.once) await shutdown(0);
  else console.log("\nThe network keeps running; Ctrl-C stops it.");
} catch (error) {
  console.error(`\n${process.env.DEBUG ? String((error as Error).stack) : (error as Error).message}`);
  await shutdown(1);
}

/** Writes `deployment.json`, where the Hardhat tasks find the NodeList (README, "Operating with Hardhat tasks"). */
async function recordDeployment(devnet: Devnet): Promise<void> {
  await writeDeployment(
    {
      chainId: (await devnet.provider.getNetwork()).chainId.toString(),
      nodeList: await devnet.nodeList.getAddress(),
      governance: await devnet.nodeList.owner(),
      deployedAtBlock: Number(await devnet.nodeList.deploymentBlock()),
    },
    path.join(dir, "deployment.json"),
  );
}

type Description = Awaited<ReturnType<Devnet["describe"]>> & { control: string; ui: string };

/** Writes `network.json` for the current epoch, with the control endpoint and the web UI. */
async function writeDescription(devnet: Devnet, control: string, ui: string): Promise<Description> {
  const network = { ...(await devnet.describe(true)), control, ui };
  await writeFile(path.join(dir, "network.json"), JSON.stringify(network, null, 2) + "\n");
  return network;
}

async function printEpoch(devnet: Devnet, network: Description, say: (line: string) => void): Promise<void> {
  say(formatEpoch(await describeEpoch(devnet.nodeList)));
  for (const node of network.nodes) say(`  node ${node.index}: ${node.endpoint} (pid ${node.pid})`);
}

/**
 * Hands the network over to a new epoch of `nodes` processes, describes it in network.json, and logs the demo user
 * in there once the new epoch serves fresh tokens (issued after its start plus the skew).
 */
async function transition(
  devnet: Devnet,
  nodes: number,
  control: string,
  ui: string,
  say: (line: string) => void,
): Promise<void> {
  const started = Date.now();
  const { epoch } = await devnet.transition(nodes, 600_000, say);
  say(`the handover took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const network = await writeDescription(devnet, control, ui);
  await printEpoch(devnet, network, say);
  await devnet.waitUntilTokensServed(epoch, (ms) =>
    say(`waiting ${Math.ceil(ms / 1000)} s: epoch ${epoch} serves tokens issued after its start plus the skew`),
  );
  await demoLogin(devnet, network, say);
}

/** A demo login with the SDK: a token from the dev issuer, the key of that user, and the same address both ways. */
async function demoLogin(devnet: Devnet, network: Description, say: (line: string) => void): Promise<void> {
  const sdkNetwork = networkFromDescription(network);
  const user = { verifier: network.oidc.verifier, verifierId: "demo@example.com" };
  const key = await getOrAssignKey(sdkNetwork, user, { signer: network.signerHost });
  const idToken = await devnet.oidc.mint({ email: user.verifierId });
  const started = Date.now();
  const result = await login(sdkNetwork, { ...user, idToken });
  const ok = result.address === key.address;
  say(
    `demo login ${user.verifierId}: looked-up address ${key.address}, logged-in address ${result.address}` +
      ` (${ok ? "match" : "MISMATCH"}, ${Date.now() - started} ms)`,
  );
  if (!ok) throw new Error("the demo login reconstructed another key than the one looked up");
}
