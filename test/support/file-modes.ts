import { lstat, readdir } from "node:fs/promises";
import path from "node:path";

/**
 * Every directory under `root` (itself included) whose mode is not 0700 and every file not 0600, as "0644 path". The
 * node may be running: an entry gone between its directory's listing and its own look (a temporary file renamed into
 * place, such as the RETIRED marker's) is skipped, as a file never seen.
 */
export async function entriesNotPrivate(root: string): Promise<string[]> {
  const wrong: string[] = [];
  const visit = async (entry: string): Promise<void> => {
    const info = await lstat(entry).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT" && entry !== root) return undefined;
      throw error;
    });
    if (!info) return;
    const mode = info.mode & 0o777;
    const wanted = info.isDirectory() ? 0o700 : 0o600;
    if (mode !== wanted) wrong.push(`${mode.toString(8).padStart(4, "0")} ${path.relative(root, entry) || "."}`);
    if (info.isDirectory()) for (const name of await readdirIfThere(entry)) await visit(path.join(entry, name));
  };
  await visit(root);
  return wrong;
}

/** A directory's names; none if it went away meanwhile. */
async function readdirIfThere(directory: string): Promise<string[]> {
  return readdir(directory).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [];
    throw error;
  });
}

/** The paths under `root`, relative to it: what a test walked, so that it can tell it walked what it meant to. */
export async function entriesUnder(root: string): Promise<string[]> {
  const names: string[] = [];
  for (const entry of await readdir(root, { recursive: true })) names.push(entry);
  return names.sort();
}

/** Runs `body` with the process umask set to `mask`, as a node embedded in another program might run. */
export async function withUmask<T>(mask: number, body: () => Promise<T>): Promise<T> {
  const previous = process.umask(mask);
  try {
    return await body();
  } finally {
    process.umask(previous);
  }
}
