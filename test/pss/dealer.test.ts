import { expect } from "chai";

import { mulG } from "../../node/crypto/generators.ts";
import { pointHex } from "../../node/dkg/wire.ts";
import { ReshareDealer, type DealerConfig, type DealerKey } from "../../node/pss/dealer.ts";
import type { ReshareSendMessage } from "../../node/pss/types.ts";

const config: DealerConfig = {
  transition: 2,
  old: { n: 5, t: 1, k: 3 },
  new: { n: 5, t: 1, k: 3 },
  self: 1,
  chunkSize: 4,
  nextKeyIndex: 10,
  seed: new TextEncoder().encode("one dealer's seed, the same for both dealings"),
};

/** A key this dealer holds: its share s, Y_1 = s·G (the other Y_i do not matter to the dealing). */
function heldKey(keyIndex: number, owner?: string): DealerKey {
  const share = BigInt(1000 + keyIndex);
  const Y = pointHex(mulG(share));
  return {
    moved: {
      keyIndex,
      publicKey: pointHex(mulG(BigInt(keyIndex + 1))),
      shareKeys: [Y, Y, Y, Y, Y],
      ...(owner ? { owner: { verifier: "google", verifierId: owner } } : {}),
    },
    share,
  };
}

/** Every scalar that new nodes 1..n receive of chunk 0 (rows and columns of every key's polynomial). */
function dealtScalars(keys: DealerKey[]): string[] {
  const dealer = new ReshareDealer(config, keys);
  return Array.from({ length: config.new.n }, (_, j) =>
    dealer.chunkFor(0, j + 1).flatMap(({ message }) => {
      const send = message as ReshareSendMessage;
      return send.type === "send" ? [...send.rows.flat(), ...send.cols.flat()] : [];
    }),
  ).flat();
}

describe("handover dealer: randomness bound to what it deals", function () {
  it("deals a chunk with other keys from fresh coefficients: no scalar of one dealing appears in the other", function () {
    // The same chunk before and after a late install shifted its keys by one: without the keys in the derivation,
    // both dealings share every non-constant coefficient, and a new node holding both sees s − s' in the clear.
    const before = dealtScalars([1, 2, 3].map((i) => heldKey(i)));
    const after = dealtScalars([0, 1, 2, 3].map((i) => heldKey(i)));
    const seen = new Set(before);
    expect(after.filter((scalar) => seen.has(scalar))).to.deep.equal([]);
  });

  it("deals the same keys again with the very same polynomials (a restarted dealer), whoever owns them", function () {
    const keys = [1, 2, 3].map((i) => heldKey(i));
    expect(dealtScalars(keys)).to.deep.equal(dealtScalars(keys));
    // Owners are not dealt (a later handover lets them change); the digest leaves them out.
    expect(dealtScalars([1, 2, 3].map((i) => heldKey(i, `user-${i}`)))).to.deep.equal(dealtScalars(keys));
  });
});
