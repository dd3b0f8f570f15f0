/** Shared pieces of the BFT tests: key publications signed by the simulated validators, and assignment txs. */
import { encodeTx, publishKeysSignBytes, type PublicKeyHex } from "../../node/app/transactions.ts";
import type { SignatureScheme } from "../../node/bft/types.ts";

export function fakePublicKey(index: number): PublicKeyHex {
  const hex = (salt: string) => (salt + index.toString(16)).padStart(64, "0").slice(-64);
  return { x: hex("a"), y: hex("b") };
}

/** One validator's signed vote to publish keys startIndex .. startIndex + count − 1. */
export function publishTx(
  chainId: string,
  schemes: SignatureScheme[],
  validator: number,
  startIndex: number,
  count: number,
): string {
  const body = { startIndex, publicKeys: Array.from({ length: count }, (_, i) => fakePublicKey(startIndex + i)) };
  const signature = schemes[validator]!.sign(publishKeysSignBytes(chainId, body));
  return encodeTx({ type: "publishKeys", body, validator, signature });
}

export { assignTx } from "../../node/app/transactions.ts";
