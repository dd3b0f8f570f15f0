/**
 * The node key in an encrypted JSON keystore (Web3 Secret Storage version 3: scrypt and AES-128-CTR, the format of
 * ethers, geth and most Ethereum tools), so that a copy of the file alone does not give the key away.
 *
 * Keystores for operators use ethers' default scrypt cost (N = 2^17: about half a second to a second per unlock, once
 * per start). The devnet's throwaway keys use a much lighter N (scripts/lib/devnet-processes.ts) so that its many
 * node starts stay fast; such a keystore is not fit for a real key.
 */
import { decryptKeystoreJson, encryptKeystoreJson, isKeystoreJson, Wallet } from "ethers";

import { NodeKeyError } from "./node-key-error.ts";

/** `{ "version": 3, "crypto": … }`: what tells a keystore from a plain key file before any password is asked for. */
export function looksLikeKeystore(text: string): boolean {
  return text.trimStart().startsWith("{");
}

/** Encrypts a private key (hex) under a password; `scryptN` (a power of 2) only for throwaway keys. */
export async function encryptNodeKey(
  privateKey: string,
  password: string,
  options: { scryptN?: number } = {},
): Promise<string> {
  if (password.length === 0) throw new NodeKeyError("NO_PASSWORD", "a keystore needs a non-empty password");
  const wallet = new Wallet(privateKey);
  return encryptKeystoreJson(
    { address: wallet.address, privateKey: wallet.privateKey },
    password,
    options.scryptN === undefined ? {} : { scrypt: { N: options.scryptN } },
  );
}

/**
 * The private key (0x-hex) in a keystore. `file` and `passwordOrigin` (where the password came from) only name things
 * in errors: a wrong password, a file that is no keystore, a damaged one.
 */
export async function decryptNodeKeystore(
  json: string,
  password: string,
  file: string,
  passwordOrigin: string,
): Promise<string> {
  try {
    JSON.parse(json);
  } catch (error) {
    throw new NodeKeyError("BAD_KEYSTORE", `the node keystore ${file} is not JSON (${(error as Error).message})`);
  }
  if (!isKeystoreJson(json))
    throw new NodeKeyError(
      "BAD_KEYSTORE",
      `the node keystore ${file} is not an encrypted JSON keystore ("version": 3, as ethers and geth write them)`,
    );
  try {
    return (await decryptKeystoreJson(json, password)).privateKey;
  } catch (error) {
    const reason = (error as { shortMessage?: string }).shortMessage ?? (error as Error).message;
    // The keystore's MAC did not match: the password is wrong, unless someone altered the file.
    if (reason === "incorrect password")
      throw new NodeKeyError(
        "WRONG_PASSWORD",
        `wrong password for the node keystore ${file}: the password from ${passwordOrigin} does not open it`,
      );
    throw new NodeKeyError("BAD_KEYSTORE", `the node keystore ${file} is damaged: ${reason}`);
  }
}
