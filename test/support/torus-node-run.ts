import { spawn } from "node:child_process";
import path from "node:path";

const cli = path.join(import.meta.dirname, "..", "..", "node", "cli.ts");

/**
 * Runs `torus-node <args>` to its exit (a refusing node, or one whose key is whitelisted nowhere, exits by itself):
 * its exit code and everything it printed. A process still running after a minute is killed.
 */
export function runTorusNode(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", cli, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  return new Promise((resolve) =>
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    }),
  );
}
