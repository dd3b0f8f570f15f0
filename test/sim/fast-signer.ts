/**
 * A keyed-hash stand-in for node signatures in simulations: signing is HMAC-SHA256 with the validator's secret, and
 * the simulation's verifier knows every secret. Unforgeable by the other simulated nodes (they never see a secret),
 * and about 1,000 times cheaper than ECDSA in noble, so that hundreds of seeds run in CI.
 */
import { createHmac } from "node:crypto";

import type { SignatureScheme } from "../../node/bft/types.ts";

export function fastSchemes(n: number, salt = "sim"): SignatureScheme[] {
  const secrets = Array.from({ length: n }, (_, i) => `${salt}-secret-${i}`);
  const mac = (secret: string, message: Uint8Array) => createHmac("sha256", secret).update(message).digest("hex");
  const verify = (validator: number, message: Uint8Array, signature: string) => {
    const secret = secrets[validator];
    return secret !== undefined && mac(secret, message) === signature;
  };
  return secrets.map((secret) => ({ sign: (message: Uint8Array) => mac(secret, message), verify }));
}
