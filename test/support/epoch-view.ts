import type { EpochView } from "../../node/chain/registry.ts";
import { G } from "../../node/crypto/point.ts";

/**
 * A Current epoch's view as the registry reads it, for tests that build runtime units without a chain: node i (from 1)
 * has the public key `secretOf(i)`·G and listens on loopback at `portOf(i)`.
 */
export function testEpochView(options: {
  epoch?: number;
  /** The epoch it hands over to (0: none yet). */
  nextEpoch?: number;
  n: number;
  k: number;
  t: number;
  secretOf: (index: number) => bigint;
  portOf: (index: number) => number;
}): EpochView {
  const { epoch = 1, nextEpoch = 0, n, k, t, secretOf, portOf } = options;
  const nodes = Array.from({ length: n }, (_, i) => {
    const key = G.multiply(secretOf(i + 1));
    return {
      index: i + 1,
      address: `0x${String(i + 1).padStart(40, "0")}`,
      pubKx: key.x,
      pubKy: key.y,
      declaredIp: "127.0.0.1",
      p2pListenAddress: `/ip4/127.0.0.1/tcp/${portOf(i + 1)}`,
    };
  });
  return { epoch, n, k, t, state: "Current", prevEpoch: epoch - 1, nextEpoch, nodes };
}
