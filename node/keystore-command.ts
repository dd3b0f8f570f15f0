/**
 * `torus-node keystore import --key-file node.key --out node-key.json [--password-file pw]`: encrypts a plain node
 * key into a JSON keystore (ethers' default scrypt cost), which the node then reads through `nodeKeystore`. The
 * password comes from `--password-file` (a file readable by its owner only) or TORUS_NODE_KEY_PASSWORD, never from
 * the command line, where every user of the machine could read it in the process list.
 */
import { open, readFile, rm } from "node:fs/promises";
import { parseArgs } from "node:util";

import { Wallet } from "ethers";

import { plainKeyHex } from "./chain/node-key.ts";
import { NodeKeyError } from "./chain/node-key-error.ts";
import { encryptNodeKey, looksLikeKeystore } from "./chain/node-keystore.ts";
import { readSecretFile } from "./chain/secret-file.ts";
import { PRIVATE_FILE_MODE } from "./store/file-modes.ts";

export const KEYSTORE_USAGE =
  "usage: torus-node keystore import --key-file <node.key> --out <node-key.json> [--password-file <file>]";

/** A usage mistake; the CLI prints it with the usage line. */
export class KeystoreUsageError extends Error {
  override readonly name = "KeystoreUsageError";
}

async function passwordOf(passwordFile: string | undefined, env: NodeJS.ProcessEnv): Promise<string> {
  const password =
    passwordFile !== undefined
      ? (await readSecretFile(passwordFile, "the password file")).split(/\r?\n/, 1)[0]!
      : env.TORUS_NODE_KEY_PASSWORD;
  if (password === undefined)
    throw new KeystoreUsageError("a password is needed: --password-file <file> or TORUS_NODE_KEY_PASSWORD");
  if (password.length === 0) throw new NodeKeyError("NO_PASSWORD", "the password is empty");
  return password;
}

/** Runs the subcommand (`args` after `keystore`); returns what to print. */
export async function runKeystoreCommand(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        "key-file": { type: "string" },
        out: { type: "string" },
        "password-file": { type: "string" },
      },
    });
  } catch (error) {
    throw new KeystoreUsageError((error as Error).message);
  }
  const { positionals, values } = parsed;
  if (positionals.length !== 1 || positionals[0] !== "import")
    throw new KeystoreUsageError(
      positionals.length === 0 ? "keystore needs a subcommand" : `unknown subcommand: ${positionals.join(" ")}`,
    );
  const keyFile = values["key-file"];
  const out = values.out;
  if (keyFile === undefined || out === undefined) throw new KeystoreUsageError("--key-file and --out are required");

  let text: string;
  try {
    text = await readFile(keyFile, "utf8");
  } catch (error) {
    throw new NodeKeyError("UNREADABLE", `cannot read the key file ${keyFile}: ${(error as Error).message}`);
  }
  if (looksLikeKeystore(text)) throw new NodeKeyError("NOT_A_KEY", `${keyFile} is already a keystore`);
  const hex = plainKeyHex(text);
  if (hex === undefined) throw new NodeKeyError("NOT_A_KEY", `${keyFile} holds no 32-byte hex key`);
  const password = await passwordOf(values["password-file"], env);

  let handle;
  try {
    // "wx": a keystore is never overwritten, so that a mistyped --out cannot destroy another key.
    handle = await open(out, "wx", PRIVATE_FILE_MODE);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new NodeKeyError(
      "UNREADABLE",
      code === "EEXIST"
        ? `${out} exists: a keystore is never overwritten (move it away or choose another --out)`
        : `cannot create ${out}: ${(error as Error).message}`,
    );
  }
  try {
    await handle.writeFile((await encryptNodeKey(hex, password)) + "\n");
    await handle.sync();
  } catch (error) {
    await rm(out, { force: true });
    throw error;
  } finally {
    await handle.close();
  }
  return (
    `wrote ${out}, the keystore of node key ${new Wallet(hex).address}. Name it in the node's config as ` +
    `"nodeKeystore", with its password in "nodeKeyPasswordFile" (or TORUS_NODE_KEY_PASSWORD); the node no longer ` +
    `needs ${keyFile} on this machine.`
  );
}
