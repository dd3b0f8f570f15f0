import { spawn } from "node:child_process";

import { expect } from "chai";

/**
 * Runs a crash child (a script that prints `ack <n>` each time it was told a write is durable, and keeps writing) and
 * kills it with SIGKILL the moment it has acknowledged `killAt`, while it is already writing the next one. Resolves
 * with the last number it acknowledged: everything up to it must be found after a reopen.
 */
export async function killAfterAcks(script: string, args: string[], killAt: number): Promise<number> {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  let acked = -1;
  let buffered = "";
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once("exit", (_code, signal) => resolve(signal)),
  );
  await new Promise<void>((resolve) =>
    child.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) acked = Number(line.split(" ")[1]);
      if (acked >= killAt && child.kill("SIGKILL")) resolve();
    }),
  );
  expect(await exited).to.equal("SIGKILL");
  return acked;
}
