import { expect } from "chai";

import { dealerKeys, type StoredKey } from "../../node/pss/moved-state.ts";

describe("the old node's dealt keys", function () {
  const x = (i: number) => i.toString(16).padStart(64, "0");
  const stored = (i: number): StoredKey => ({
    publicKey: `04${x(i)}${x(i + 1)}`,
    shareKeys: [`04${x(100 + i)}${x(200 + i)}`],
    share: x(300 + i),
  });
  const snapshot = {
    keys: [
      { keyIndex: 0, publicKey: { x: x(0), y: x(1) }, owner: { verifier: "google", verifierId: "alice" } },
      { keyIndex: 4, publicKey: { x: x(4), y: x(5) } },
    ],
    nextKeyIndex: 8,
  };

  it("pairs every snapshot key with this node's share and Y vector, owners included, in index order", async function () {
    const result = await dealerKeys(snapshot, (i) => Promise.resolve(stored(i)));
    expect(result).to.deep.equal({
      keys: [
        {
          moved: {
            keyIndex: 0,
            publicKey: stored(0).publicKey,
            shareKeys: stored(0).shareKeys,
            owner: { verifier: "google", verifierId: "alice" },
          },
          share: 300n,
        },
        { moved: { keyIndex: 4, publicKey: stored(4).publicKey, shareKeys: stored(4).shareKeys }, share: 304n },
      ],
    });
  });

  it("says why it cannot deal when keys are missing (all of them listed) or one is not the published one", async function () {
    expect(await dealerKeys(snapshot, (i) => Promise.resolve(i === 4 ? undefined : stored(i)))).to.deep.equal({
      problem: "this node holds no share of key 4",
      missing: [4],
    });
    expect(await dealerKeys(snapshot, () => Promise.resolve(undefined))).to.deep.equal({
      problem: "this node holds no share of 2 keys (0 first)",
      missing: [0, 4],
    });
    expect(await dealerKeys(snapshot, (i) => Promise.resolve(stored(i + 1)))).to.deep.equal({
      problem: "key 0 in the store is not the published one",
    });
  });
});
