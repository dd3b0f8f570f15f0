/**
 * A data directory written before files were private holds 0644 files in 0755 directories. Closing its top directory
 * to group and others (0700) puts everything under it out of their reach at once, since opening a path needs search
 * permission on every directory along it; the files inside keep their old modes, which then no longer matter.
 */
import { chmod, stat } from "node:fs/promises";

import { PRIVATE_DIR_MODE } from "./file-modes.ts";

/** Makes `dir` 0700 if group or others had any access; returns its previous permission bits then, else undefined. */
export async function closeToOthers(dir: string): Promise<number | undefined> {
  // POSIX permission bits say nothing about access on Windows.
  if (process.platform === "win32") return undefined;
  const previous = (await stat(dir)).mode & 0o777;
  if ((previous & 0o077) === 0) return undefined;
  await chmod(dir, PRIVATE_DIR_MODE);
  return previous;
}
