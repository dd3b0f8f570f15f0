/**
 * The devnet's state directory (`.devnet`, or DEVNET_DIR, or `npm start -- --dir`): `npm start` starts every devnet
 * from a clean one, because a new devnet is a new chain with new node keys, and a node must not find an old run's
 * data there. It deletes only a directory it made itself, which carries its marker file; anything else that is not
 * empty is refused, so that a mistyped `--dir` never deletes an operator's files.
 */
import { lstat, mkdir, readdir, rm } from "node:fs/promises";
import path from "node:path";

import { readJsonIfPresent, writeJsonAtomically } from "../../node/store/atomic-json.ts";
import { isRunning } from "./chain-process.ts";

/** The default state directory; the Hardhat tasks find the devnet's deployment file in it too. */
export function devnetDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DEVNET_DIR || ".devnet";
}

export const DEVNET_MARKER_FILE = "devnet-marker.json";

interface Marker {
  createdBy: "npm start";
  /** The `npm start` process that runs this devnet: a running one's directory is never removed. */
  pid: number;
}

/**
 * Makes `dir` an empty devnet directory marked as this process's: creates it, or empties one a previous devnet
 * left (returning `removed: true`). Refuses a directory of a devnet that still runs, and a non-empty directory
 * without the marker.
 */
export async function prepareDevnetDir(dir: string): Promise<{ removed: boolean }> {
  const marker = path.join(dir, DEVNET_MARKER_FILE);
  const kind = await lstat(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  let removed = false;
  if (kind !== undefined) {
    if (!kind.isDirectory()) throw new Error(`--dir ${dir} is not a directory`);
    const previous = (await readJsonIfPresent(marker).catch(() => undefined)) as Partial<Marker> | undefined;
    if (previous !== undefined) {
      if (typeof previous.pid === "number" && previous.pid !== process.pid && isRunning(previous.pid))
        throw new Error(
          `a devnet (npm start, pid ${previous.pid}) still runs from ${dir}: stop it first (Ctrl-C in its terminal)`,
        );
      await rm(dir, { recursive: true, force: true });
      removed = true;
    } else if ((await readdir(dir)).length > 0) {
      throw new Error(
        `--dir ${dir} is not empty and holds no ${DEVNET_MARKER_FILE}, so it is not a devnet's directory: npm start ` +
          `deletes only its own state. Choose another --dir, or remove ${dir} yourself if it is an old devnet's.`,
      );
    }
  }
  // Node keys live in here: readable by the owner only.
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeJsonAtomically(marker, { createdBy: "npm start", pid: process.pid } satisfies Marker);
  return { removed };
}
