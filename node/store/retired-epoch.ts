/**
 * A retired epoch's directory keeps no secret. Once the handover out of an epoch completed on-chain, the next epoch's
 * nodes hold fresh shares of every key; if the old epoch's directories kept theirs (the key store, the key-generation
 * records, the handover log's reshared shares, the dealing seed), a thief of k retired disks would rebuild every
 * user's key, which is what proactive secret sharing exists to prevent. So the directory is reduced to a `RETIRED`
 * marker and the public chain store (`chain.sqlite*`: blocks, the app state, the last height's votes; kept for audit
 * and for lagging peers); everything else goes, whatever its name, so that a
 * file added to the epoch directory later is erased too without this list knowing it.
 *
 * Crash safety: the marker is written first (atomically, fsynced), then the rest is deleted, and every start finishes
 * the deletion of a directory that carries the marker; a directory with the marker is never served again
 * (epoch-binding.ts refuses it).
 *
 * The deletion is a plain unlink: what a file system, an SSD's remapped blocks or a backup keep of the bytes is the
 * operator's concern (encrypted disks, backup retention), which no program can reach.
 */
import { lstat, open, readdir, rm } from "node:fs/promises";
import path from "node:path";

import { writeJsonAtomically } from "./atomic-json.ts";
import type { DeploymentIdentity } from "./deployment-binding.ts";

export const RETIRED_MARKER_FILE = "RETIRED";

export interface RetiredMarker {
  /** The data directory's deployment binding (deployment-binding.ts), so that the marker alone says whose it was. */
  deployment: DeploymentIdentity;
  epoch: number;
  /** The transition attempt the directory was bound to (0 for a genesis epoch). */
  attempt: number;
  /** When this node wrote the marker (ISO 8601). */
  retiredAt: string;
}

/** What a retired epoch's directory keeps: its marker and the public block store. */
export function keptAfterRetirement(name: string): boolean {
  return name === RETIRED_MARKER_FILE || name.startsWith("chain.sqlite");
}

/** Whether the directory carries a RETIRED marker (whatever it holds: its presence alone retires the directory). */
export async function isMarkedRetired(dir: string): Promise<boolean> {
  return lstat(path.join(dir, RETIRED_MARKER_FILE)).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT" || error.code === "ENOTDIR") return false;
      throw error;
    },
  );
}

/** Marks the epoch's directory retired (durably, first), then erases everything but the marker and `chain.sqlite*`. */
export async function retireEpochDir(dir: string, marker: RetiredMarker): Promise<string[]> {
  if (!(await isMarkedRetired(dir))) await writeJsonAtomically(path.join(dir, RETIRED_MARKER_FILE), marker);
  return finishRetiredErasure(dir);
}

/**
 * Erases everything but the marker and `chain.sqlite*` from a directory that carries the marker (idempotent: a start after
 * a crash in the middle of the erasure finishes it). Returns the names it removed.
 */
export async function finishRetiredErasure(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir)) {
    if (keptAfterRetirement(name)) continue;
    await rm(path.join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  if (removed.length > 0) {
    // The unlinks themselves must survive a power loss, or the files would come back.
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
  return removed;
}
