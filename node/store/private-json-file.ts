/**
 * A lowdb adapter for files only their owner may read: lowdb's own JSONFile writes through a temporary file created
 * with the process's default mode (0644 under the usual umask), which for a key batch would hand everyone on the
 * machine this node's shares. This one writes the same JSON through `writeJsonAtomically` (0600, fsynced, renamed).
 */
import type { Adapter } from "lowdb";

import { readJsonIfPresent, writeJsonAtomically } from "./atomic-json.ts";

export class PrivateJsonFile<T> implements Adapter<T> {
  constructor(readonly file: string) {}

  async read(): Promise<T | null> {
    return ((await readJsonIfPresent(this.file)) as T | undefined) ?? null;
  }

  async write(data: T): Promise<void> {
    await writeJsonAtomically(this.file, data);
  }
}
