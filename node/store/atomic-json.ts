/**
 * Small JSON files that must be whole or absent after a crash (the data directory's binding markers): written to a
 * temporary file, fsynced, renamed over the target, and the directory fsynced so that the rename itself is durable.
 * Mode 0600: a marker says whose data a directory holds, which is nobody else's business.
 */
import { open, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";

import { PRIVATE_FILE_MODE } from "./file-modes.ts";

export async function writeJsonAtomically(file: string, value: unknown): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  const handle = await open(temporary, "w", PRIVATE_FILE_MODE);
  try {
    await handle.writeFile(JSON.stringify(value, null, 2) + "\n");
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  const dir = await open(path.dirname(file), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** The parsed file, or undefined when there is none; a file that is not JSON throws (its caller names the file). */
export async function readJsonIfPresent(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  return JSON.parse(text) as unknown;
}
