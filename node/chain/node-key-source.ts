/**
 * Where the node key comes from, in the order an operator reads it: the environment first (TORUS_NODE_KEY,
 * TORUS_NODE_KEY_FILE or TORUS_NODE_KEYSTORE), else the configuration file (`nodeKey`, `nodeKeyFile` or
 * `nodeKeystore`). Each may name one place only: a configuration that names two (a keystore added beside the old key
 * file) would otherwise run on whichever one won, unnoticed.
 *
 * A keystore's password comes from TORUS_NODE_KEY_PASSWORD, else the file named by TORUS_NODE_KEY_PASSWORD_FILE, else
 * the file named by `nodeKeyPasswordFile`. Key, keystore and password files must be readable by their owner only
 * (secret-file.ts). Relative paths are resolved against the configuration file's directory.
 */
import path from "node:path";

import { NodeKeyError } from "./node-key-error.ts";
import { plainKeyHex } from "./node-key.ts";
import { decryptNodeKeystore, looksLikeKeystore } from "./node-keystore.ts";
import { readSecretFile } from "./secret-file.ts";

type Environment = Record<string, string | undefined>;

type KeyKind = "key" | "file" | "keystore";

const ENV_SOURCES: readonly [string, KeyKind][] = [
  ["TORUS_NODE_KEY", "key"],
  ["TORUS_NODE_KEY_FILE", "file"],
  ["TORUS_NODE_KEYSTORE", "keystore"],
];
const CONFIG_SOURCES: readonly [string, KeyKind][] = [
  ["nodeKey", "key"],
  ["nodeKeyFile", "file"],
  ["nodeKeystore", "keystore"],
];

/** The one place named, with the name that named it (for errors), or undefined when none is. */
function chooseSource(
  config: Record<string, unknown>,
  env: Environment,
): { kind: KeyKind; value: unknown; origin: string } | undefined {
  const fromEnv = ENV_SOURCES.filter(([name]) => (env[name] ?? "") !== "");
  if (fromEnv.length > 1)
    throw new NodeKeyError(
      "CONFLICTING_SOURCES",
      `the environment names the node key ${fromEnv.length} times (${fromEnv.map(([name]) => name).join(", ")}): set one`,
    );
  if (fromEnv.length === 1) {
    const [name, kind] = fromEnv[0]!;
    return { kind, value: env[name], origin: name };
  }
  const fromConfig = CONFIG_SOURCES.filter(([field]) => config[field] !== undefined);
  if (fromConfig.length > 1)
    throw new NodeKeyError(
      "CONFLICTING_SOURCES",
      `the configuration names the node key ${fromConfig.length} times ` +
        `(${fromConfig.map(([field]) => `config.${field}`).join(", ")}): keep one`,
    );
  if (fromConfig.length === 0) return undefined;
  const [field, kind] = fromConfig[0]!;
  return { kind, value: config[field], origin: `config.${field}` };
}

function pathOf(value: unknown, origin: string, baseDir: string): string {
  if (typeof value !== "string" || value.length === 0)
    throw new NodeKeyError("UNREADABLE", `${origin} must name a file, got ${JSON.stringify(value)}`);
  return path.resolve(baseDir, value);
}

/** A password file holds the password on its first line; the line ending is not part of it. */
async function keystorePassword(
  config: Record<string, unknown>,
  env: Environment,
  baseDir: string,
  keystore: string,
): Promise<{ password: string; origin: string }> {
  let password: string;
  let origin: string;
  if ((env.TORUS_NODE_KEY_PASSWORD ?? "") !== "") {
    [password, origin] = [env.TORUS_NODE_KEY_PASSWORD!, "TORUS_NODE_KEY_PASSWORD"];
  } else {
    const [name, value] =
      (env.TORUS_NODE_KEY_PASSWORD_FILE ?? "") !== ""
        ? ["TORUS_NODE_KEY_PASSWORD_FILE", env.TORUS_NODE_KEY_PASSWORD_FILE]
        : ["config.nodeKeyPasswordFile", config.nodeKeyPasswordFile];
    if (value === undefined)
      throw new NodeKeyError(
        "NO_PASSWORD",
        `the node keystore ${keystore} is encrypted and no password was given: name a file that holds it in ` +
          `config.nodeKeyPasswordFile (or TORUS_NODE_KEY_PASSWORD_FILE), or set TORUS_NODE_KEY_PASSWORD`,
      );
    const file = pathOf(value, name, baseDir);
    password = (await readSecretFile(file, `the password file (${name})`)).split(/\r?\n/, 1)[0]!;
    origin = `${name} ${file}`;
  }
  if (password.length === 0)
    throw new NodeKeyError("NO_PASSWORD", `the password from ${origin} for the node keystore ${keystore} is empty`);
  return { password, origin };
}

/**
 * The node key named by the environment or the configuration: the inline hex as given (the configuration's checks
 * judge it), or the key read from a plain key file or unlocked from a keystore (0x-hex). Undefined when none is named.
 */
export async function loadNodeKey(
  config: Record<string, unknown>,
  env: Environment,
  baseDir: string,
): Promise<unknown> {
  const source = chooseSource(config, env);
  if (source === undefined || source.kind === "key") return source?.value;
  const file = pathOf(source.value, source.origin, baseDir);
  if (source.kind === "file") {
    const text = await readSecretFile(file, `the node key file (${source.origin})`);
    if (looksLikeKeystore(text))
      throw new NodeKeyError(
        "NOT_A_KEY",
        `the node key file ${file} (${source.origin}) is an encrypted keystore: name it in nodeKeystore ` +
          `(TORUS_NODE_KEYSTORE) with its password`,
      );
    const hex = plainKeyHex(text);
    // Never echo the file: a key with a typo in it is still most of a key.
    if (hex === undefined)
      throw new NodeKeyError("NOT_A_KEY", `the node key file ${file} (${source.origin}) holds no 32-byte hex key`);
    return hex;
  }
  const json = await readSecretFile(file, `the node keystore (${source.origin})`);
  const { password, origin } = await keystorePassword(config, env, baseDir, file);
  return decryptNodeKeystore(json, password, file, origin);
}
