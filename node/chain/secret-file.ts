/**
 * Reads a file that holds a secret: the node key, its encrypted keystore, or the keystore's password.
 *
 * A file that group or others may read or write is refused, as ssh refuses a private key with open permissions
 * ("UNPROTECTED PRIVATE KEY FILE"), and for the same reasons: a key others could read may already have been copied,
 * and one they could write may have been replaced by theirs. A node that went on with it would keep the key exposed
 * for as long as it runs, where a refusal costs the operator one chmod. An encrypted keystore is held to the same
 * rule: it is only as strong as its password against an offline guessing attack, which nobody else should be able to
 * start. (On Windows, POSIX mode bits say nothing about who may read a file, so the check is skipped there.)
 */
import { open } from "node:fs/promises";

import { NodeKeyError } from "./node-key-error.ts";

/** Bits of a mode that give group or others any access. */
const OPEN_TO_OTHERS = 0o077;

/** The file's text; `what` names it in errors ("the node keystore", "the password file of …"). */
export async function readSecretFile(file: string, what: string): Promise<string> {
  let handle;
  try {
    handle = await open(file, "r");
  } catch (error) {
    throw new NodeKeyError("UNREADABLE", `cannot read ${what} ${file}: ${(error as Error).message}`);
  }
  try {
    // fstat of the opened file, so that the mode checked is that of the bytes read.
    const info = await handle.stat();
    if (!info.isFile()) throw new NodeKeyError("UNREADABLE", `${what} ${file} is not a file`);
    if (process.platform !== "win32" && (info.mode & OPEN_TO_OTHERS) !== 0) {
      const mode = (info.mode & 0o777).toString(8).padStart(4, "0");
      throw new NodeKeyError(
        "OPEN_PERMISSIONS",
        `${what} ${file} is open to other users (mode ${mode}): a secret must be readable by its owner only, ` +
          `as ssh requires of private keys. Run chmod 600 ${file} (and treat the key as exposed if others could ` +
          `read it).`,
      );
    }
    return await handle.readFile("utf8");
  } finally {
    await handle.close();
  }
}
