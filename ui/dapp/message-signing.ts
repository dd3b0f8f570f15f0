/**
 * Signing with the key the login rebuilt: an EIP-191 personal message (`"\x19Ethereum Signed Message:\n" + length +
 * message`, what wallets' `personal_sign` signs), and its check by recovering the signer's address. Both by ethers,
 * a library independent of the SDK that rebuilt the key, so a valid signature shows the key is the address's.
 */
import { Wallet, verifyMessage } from "ethers";

export interface SignedMessage {
  signature: string;
  /** The address the signature recovers to. */
  recovered: string;
  /** Whether that is the signed-in address. */
  valid: boolean;
}

export async function signAndVerify(privateKey: bigint, address: string, message: string): Promise<SignedMessage> {
  const wallet = new Wallet(`0x${privateKey.toString(16).padStart(64, "0")}`);
  const signature = await wallet.signMessage(message);
  const recovered = verifyMessage(message, signature);
  return { signature, recovered, valid: recovered === address };
}
