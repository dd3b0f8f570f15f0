import { SigningKey } from "ethers";

/** The (x, y) coordinates of a node key, as `NodeList.listNode` takes them. */
export interface PublicKeyCoordinates {
  pubKx: bigint;
  pubKy: bigint;
}

/** Coordinates of a key; takes a SigningKey or anything that holds one (Wallet, HDNodeWallet). */
export function publicKeyCoordinates(key: SigningKey | { readonly signingKey: SigningKey }): PublicKeyCoordinates {
  const signingKey = key instanceof SigningKey ? key : key.signingKey;
  // Uncompressed SEC1: 0x04 || x (32 bytes) || y (32 bytes).
  const uncompressed = signingKey.publicKey;
  return { pubKx: BigInt("0x" + uncompressed.slice(4, 68)), pubKy: BigInt("0x" + uncompressed.slice(68, 132)) };
}

/**
 * Reads a node's private key: a file holding the 32-byte key in hex (with or without 0x), as `npm start` writes them.
 * Refuses anything else with a message that names the file, and never echoes the key.
 */
export async function readNodeKeyFile(file: string): Promise<SigningKey> {
  const { readFile } = await import("node:fs/promises");
  const text = (await readFile(file, "utf8")).trim();
  const hex = text.startsWith("0x") ? text : `0x${text}`;
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) throw new Error(`${file} does not hold a 32-byte hex private key`);
  return new SigningKey(hex);
}
