import { SigningKey, Wallet } from "ethers";

/** The (x, y) coordinates of a node key, as `NodeList.listNode` takes them. */
export interface PublicKeyCoordinates {
  pubKx: bigint;
  pubKy: bigint;
}

export function publicKeyCoordinates(key: SigningKey | Wallet): PublicKeyCoordinates {
  const signingKey = key instanceof Wallet ? key.signingKey : key;
  // Uncompressed SEC1: 0x04 || x (32 bytes) || y (32 bytes).
  const uncompressed = signingKey.publicKey;
  return { pubKx: BigInt("0x" + uncompressed.slice(4, 68)), pubKy: BigInt("0x" + uncompressed.slice(68, 132)) };
}
