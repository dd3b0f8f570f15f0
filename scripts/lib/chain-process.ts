/**
 * Runs a local Hardhat JSON-RPC chain (`hardhat node`) as a child process, for the devnet and for tests that need a
 * real chain over HTTP. The child is the Node binary running Hardhat's CLI directly (not through npx), so that
 * stopping it stops the chain.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

const require = createRequire(import.meta.url);

export interface ChainProcess {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface ChainOptions {
  port?: number;
  /** Where the chain's output goes; read back to explain a failed start. */
  logFile: string;
  readyTimeoutMs?: number;
  /** Mine a block every this many milliseconds as well as on every transaction (Hardhat automines only). */
  intervalMiningMs?: number;
}

/**
 * Local ports are picked below Linux's ephemeral range (32768–60999 by default): a port the OS hands out for `listen(0)`
 * is also one it hands out as the source port of an outgoing connection, and a devnet dials a lot (libp2p, HTTP), so
 * such a port could be taken between this check and the server binding it seconds later.
 */
const PORT_RANGE = { from: 20_000, to: 32_768 };
/**
 * Ports handed out, one file each, naming the process that took it: processes running side by side (mocha's workers,
 * `npm start` and a test) never hand out the same port. A file whose process is gone is taken over.
 */
const RESERVATIONS = path.join(tmpdir(), "torus-devnet-ports");

/** A TCP port on 127.0.0.1 that was free a moment ago, handed out to no other running process. */
export async function freePort(): Promise<number> {
  await mkdir(RESERVATIONS, { recursive: true });
  for (let tries = 0; tries < 200; tries++) {
    const port = PORT_RANGE.from + Math.floor(Math.random() * (PORT_RANGE.to - PORT_RANGE.from));
    if ((await reserve(port)) && (await canListen(port))) return port;
  }
  throw new Error(`no free port on 127.0.0.1 between ${PORT_RANGE.from} and ${PORT_RANGE.to}`);
}

async function reserve(port: number, retry = true): Promise<boolean> {
  const file = path.join(RESERVATIONS, String(port));
  try {
    await writeFile(file, String(process.pid), { flag: "wx" });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const owner = Number(await readFile(file, "utf8").catch(() => ""));
  if (!retry || owner === process.pid || isRunning(owner)) return false;
  await rm(file, { force: true });
  return reserve(port, false);
}

/** Whether a process with this id runs (one of another user counts). */
export function isRunning(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** Whether a JSON-RPC server answers `eth_chainId` at `url` within a second. */
export async function answersJsonRpc(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(1000),
    });
    return response.ok;
  } catch {
    return false;
  }
}

export async function startChain({
  port = 8545,
  logFile,
  readyTimeoutMs = 60_000,
  intervalMiningMs,
}: ChainOptions): Promise<ChainProcess> {
  const url = `http://127.0.0.1:${port}`;
  if (await answersJsonRpc(url))
    throw new Error(`something already answers JSON-RPC at ${url}; stop it or choose another port`);
  await mkdir(path.dirname(logFile), { recursive: true, mode: 0o700 });
  const log = createWriteStream(logFile, { mode: 0o600 });
  const hardhatCli = path.join(path.dirname(require.resolve("hardhat/package.json")), "dist", "src", "cli.js");
  const args = [hardhatCli, "--network", "devnet", "node", "--hostname", "127.0.0.1", "--port", String(port)];
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  let exited: string | undefined;
  child.once("exit", (code, signal) => (exited = `exited with ${signal ?? `code ${code}`}`));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await gone;
      clearTimeout(timer);
    }
    log.end();
  };

  const deadline = Date.now() + readyTimeoutMs;
  while (!(await answersJsonRpc(url))) {
    if (exited !== undefined || Date.now() > deadline) {
      await stop();
      const tail = (await readFile(logFile, "utf8").catch(() => "")).split("\n").slice(-15).join("\n");
      throw new Error(`the chain at ${url} did not start (${exited ?? "timed out"}); its log ends:\n${tail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  if (intervalMiningMs !== undefined) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "evm_setIntervalMining", params: [intervalMiningMs] }),
    });
    const answer = (await response.json()) as { error?: { message: string } };
    if (answer.error) {
      await stop();
      throw new Error(`the chain at ${url} refused evm_setIntervalMining: ${answer.error.message}`);
    }
  }
  return { url, port, process: child, stop };
}
