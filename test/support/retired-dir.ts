import { readdir } from "node:fs/promises";

/**
 * What a retired epoch's directory holds, sorted, with the chain store's SQLite companions (`chain.sqlite-wal`,
 * `-shm`) left out: they are part of `chain.sqlite` (a node killed before it closed the store leaves them, and the
 * WAL file may hold committed pages), so they stay with it.
 */
export async function retiredDirFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => !/^chain\.sqlite-(wal|shm)$/.test(name)).sort();
}

/** Waits up to `withinMs` for the directory to hold exactly the RETIRED marker and the chain store; returns it. */
export async function waitForRetiredDir(dir: string, withinMs: number): Promise<string[]> {
  let files = await retiredDirFiles(dir);
  for (
    const until = Date.now() + withinMs;
    files.length !== 2 && Date.now() < until;
    files = await retiredDirFiles(dir)
  )
    await new Promise((r) => setTimeout(r, 250));
  return files;
}
