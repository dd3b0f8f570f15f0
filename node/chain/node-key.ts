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
  const hex = plainKeyHex(await readFile(file, "utf8"));
  if (hex === undefined) throw new Error(`${file} does not hold a 32-byte hex private key`);
  return new SigningKey(hex);
}

/** The 0x-hex key a plain key file holds (32 bytes in hex, with or without 0x, surrounding whitespace ignored). */
export function plainKeyHex(text: string): string | undefined {
  const trimmed = text.trim();
  const hex = trimmed.startsWith("0x") ? trimmed : `0x${trimmed}`;
  return /^0x[0-9a-fA-F]{64}$/.test(hex) ? hex : undefined;
}
