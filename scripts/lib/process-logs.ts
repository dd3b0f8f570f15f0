/**
 * The log files of the processes a devnet runs right now (its nodes'), so that a test that fails while they run can
 * show how each one's log ends (test/support/failure-logs-hook.ts): the temporary directory that holds them is gone by
 * the time anyone reads a CI run's output.
 *
 * Must never import anything that starts processes: every mocha worker loads it through the hook.
 */
import { readFile } from "node:fs/promises";

/** Label by log file. */
const running = new Map<string, string>();

/** `file` is the log of a running process (`label` names it) until `forgetLog(file)`. */
export function registerLog(file: string, label: string): void {
  running.set(file, label);
}

export function forgetLog(file: string): void {
  running.delete(file);
}

/** The last `lines` lines of every registered log, each under its label; empty when none is registered. */
export async function logTails(lines: number): Promise<string> {
  const parts: string[] = [];
  for (const [file, label] of running) {
    const text = await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => `(unreadable: ${error.code})`);
    const tail = text.trimEnd().split("\n").slice(-lines).join("\n");
    parts.push(`--- ${label} (${file}), its last ${lines} lines:\n${tail}`);
  }
  return parts.join("\n");
}
