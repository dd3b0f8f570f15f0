/**
 * `npm start` as a test runs it: scripts/start.ts as a real process on free ports in a temporary directory, waited
 * for until the network serves, and stopped as a person stops it (Ctrl-C, which stops every node), with the node
 * processes it started killed if it could not.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { freePort } from "../../scripts/lib/chain-process.ts";

export interface NpmStart {
  dir: string;
  child: ChildProcess;
  output(): string;
  /** The network.json it wrote. */
  description(): Promise<NetworkJson>;
  stop(): Promise<void>;
}

export interface NetworkJson {
  chain: { rpcUrl: string; chainId: string; nodeList: string; deploymentBlockHash: string };
  epoch: { id: number; n: number; k: number; t: number };
  nodes: { index: number; endpoint: string; pubX: string; pubY: string; address: string; pid: number }[];
  oidc: { issuer: string; tokenEndpoint: string; authorizationEndpoint: string; clientId: string; verifier: string };
  signerHost: string;
  ui: string;
}

const FREE_PORTS = ["--api-base", "0", "--p2p-base", "0", "--oidc-port", "0", "--signer-port", "0"];

export async function npmStart(args: string[], timeoutMs = 150_000): Promise<NpmStart> {
  const dir = await mkdtemp(path.join(tmpdir(), "npm-start-"));
  const chainPort = String(await freePort());
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "scripts/start.ts",
      "--dir",
      dir,
      "--port",
      chainPort,
      ...FREE_PORTS,
      "--control-port",
      "0",
      "--ui-port",
      "0",
      ...args,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let pids: number[] = [];
  const description = async () => JSON.parse(await readFile(path.join(dir, "network.json"), "utf8")) as NetworkJson;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGINT");
      const stopped = await Promise.race([exited.then(() => true), sleep(30_000).then(() => false)]);
      if (!stopped) child.kill("SIGKILL");
      await exited;
    }
    // Whatever the start script left (it was killed, or a node ignored SIGTERM): its node processes are ours too.
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone, as it should be.
      }
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  while (!output.includes("The network keeps running")) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`npm start did not come up; its output:\n${output}`);
    }
    await sleep(200);
  }
  pids = (await description()).nodes.map((node) => node.pid);
  return { dir, child, output: () => output, description, stop };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
