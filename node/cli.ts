/**
 * `torus-node`: the node operator's command.
 *
 *   torus-node start  --config node.json   run the node (until SIGINT/SIGTERM)
 *   torus-node status --config node.json   print the running node's status (from its API)
 *   torus-node keystore import --key-file node.key --out node-key.json [--password-file pw]
 *                                          encrypt a node key into a JSON keystore (node/keystore-command.ts)
 *
 * Run it with `npx tsx node/cli.ts …` (or `npm run node -- …`). Exit code 1 and one clear line on stderr for a bad
 * configuration, a node key that cannot be loaded (a wrong password, a key file open to others), a key that is not
 * whitelisted, or a chain that was reset; exit code 0 and one line on stderr when the node's newest epoch retired
 * while it was down (it erased that epoch's data, and has nothing to run).
 */
import { parseArgs } from "node:util";

import { pino } from "pino";

import { startApiServer } from "./api/server.ts";
import { NodeKeyError } from "./chain/node-key-error.ts";
import { ConfigError, loadConfig, loadConfigWithoutKey, type NodeConfig } from "./config.ts";
import { KEYSTORE_USAGE, KeystoreUsageError, runKeystoreCommand } from "./keystore-command.ts";
import { CryptoBackendError, installConfiguredBackend } from "./native/select.ts";
import { CheckPool } from "./runtime/check-pool.ts";
import { TorusNode } from "./node.ts";
import { apiPartsOf } from "./runtime/api-service.ts";
import { EpochRetiredError } from "./runtime/epoch-join.ts";
import { PRIVATE_UMASK } from "./store/file-modes.ts";

// Before anything is written: whatever this process creates, also through libraries that name no mode, is readable
// by its owner only (node/store/file-modes.ts).
process.umask(PRIVATE_UMASK);

function fail(message: string): never {
  process.stderr.write(`torus-node: ${message}\n`);
  process.exit(1);
}

if (process.argv[2] === "keystore") {
  try {
    process.stdout.write((await runKeystoreCommand(process.argv.slice(3))) + "\n");
    process.exit(0);
  } catch (error) {
    if (error instanceof KeystoreUsageError) fail(`${error.message}\n${KEYSTORE_USAGE}`);
    if (error instanceof NodeKeyError) fail(error.message);
    throw error;
  }
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { config: { type: "string", short: "c" } },
});
const command = positionals[0];

if (command !== "start" && command !== "status")
  fail(`usage: torus-node start|status --config <node.json>\n${KEYSTORE_USAGE}`);
if (!values.config) fail("--config <node.json> is required");

/** The configuration; for `status` without the node key, so that it needs no keystore password. */
async function configuration<T>(load: (file: string) => Promise<T>): Promise<T> {
  try {
    return await load(values.config!);
  } catch (error) {
    if (error instanceof ConfigError) fail(`bad configuration: ${error.message}`);
    if (error instanceof NodeKeyError) fail(error.message);
    throw error;
  }
}

if (command === "status") {
  const config = await configuration(loadConfigWithoutKey);
  const response = await fetch(`http://${config.api.host}:${config.api.port}/status`, {
    signal: AbortSignal.timeout(5000),
  }).catch((error: unknown) =>
    fail(`no node answers at ${config.api.host}:${config.api.port}: ${(error as Error).message}`),
  );
  process.stdout.write(JSON.stringify(await response.json(), null, 2) + "\n");
  process.exit(0);
}

const config: NodeConfig = await configuration(loadConfig);
const log = pino({ level: config.logLevel, base: { node: config.api.declaredIp } });

// The curve backend is chosen once, here, before any protocol core exists (node/crypto/backend.ts).
try {
  const selected = installConfiguredBackend(config.crypto);
  const { name } = selected.backend;
  if (selected.fallbackReason === undefined)
    log.info({ cryptoBackend: name, detail: selected.detail }, "curve backend");
  else log.warn({ cryptoBackend: name, reason: selected.fallbackReason }, "curve backend: slow fallback allowed");
} catch (error) {
  if (error instanceof CryptoBackendError) fail(error.message);
  throw error;
}
// The check workers (crypto.workers) live as long as the process: a node that starts again after an aborted
// transition keeps them.
const checks = config.crypto.workers > 0 ? await CheckPool.start(config.crypto.workers, config.crypto, log) : undefined;
log.info({ workers: checks?.workers ?? 0 }, "check workers");
let node: TorusNode | undefined;
let server: Awaited<ReturnType<typeof startApiServer>> | undefined;
let stopping = false;

/**
 * Starts the node and its API. A successor epoch's node whose transition attempt was aborted has stopped and erased
 * what it received; it starts again here and waits for a retry.
 */
async function run(): Promise<void> {
  try {
    node = await TorusNode.start(
      config,
      log,
      {
        onFatal: (error) => {
          process.stderr.write(`torus-node: ${error.message}\n`);
          process.exit(1);
        },
        onAbandoned: () => void restart(),
      },
      { checks },
    );
  } catch (error) {
    if (stopping) return;
    if (error instanceof EpochRetiredError) {
      // Not a failure: the node did what a retired epoch asks of it. Exit code 0, so that a supervisor that restarts
      // failed services does not restart it in a loop.
      process.stderr.write(`torus-node: ${error.message}\n`);
      process.exit(0);
    }
    fail((error as Error).message);
  }
  server = await startApiServer(apiPartsOf(node), config.api.host, config.api.port);
  log.info({ api: `http://${config.api.host}:${config.api.port}`, p2p: node.p2p.peerId }, "node running");
}

async function restart(): Promise<void> {
  await server?.close();
  [server, node] = [undefined, undefined];
  if (!stopping) await run();
}

await run();

const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "stopping");
  await server?.close();
  await node?.stop();
  await checks?.close();
  process.exit(0);
};
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
