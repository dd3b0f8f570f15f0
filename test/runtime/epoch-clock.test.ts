import { expect } from "chai";

import type { Registry } from "../../node/chain/registry.ts";
import { readEpochClock } from "../../node/runtime/epoch-clock.ts";

/**
 * A chain that completes the handover (epoch 1 Transitioning → Retired) at block 11, one block after the node read
 * "latest": the status and the time must both come from block 10.
 */
function advancingChain() {
  let head = 10;
  const times: Record<number, number> = { 10: 1_000, 11: 1_012 };
  const stateAt = (block: number) => (block >= 11 ? 3n : 2n); // 2 Transitioning, 3 Retired
  const reads: string[] = [];
  const contract = {
    getEpochStatus: (epoch: number, overrides?: { blockTag?: number }) => {
      const block = overrides?.blockTag ?? head;
      reads.push(`status ${epoch} at ${overrides?.blockTag ?? "latest"}`);
      return Promise.resolve({ state: stateAt(block), activatedAt: 900n, transitionAttempt: 1n });
    },
  };
  const provider = {
    getBlock: (tag: string | number) => {
      const number = tag === "latest" ? head : Number(tag);
      reads.push(`block ${tag}`);
      head = 11; // the next block lands while the node is between its reads
      return Promise.resolve({ number, timestamp: times[number]! });
    },
  };
  const registry = {
    call: <T>(_: string, action: (c: unknown, p: unknown) => Promise<T>) => action(contract, provider),
  } as unknown as Pick<Registry, "call">;
  return { registry, reads };
}

describe("epoch clock: the epoch's status and the chain's time from one block", function () {
  it("reads the status at the block whose time it reports, even when a block lands between the reads", async function () {
    const { registry, reads } = advancingChain();
    const clock = await readEpochClock(registry, 1);
    expect(reads).to.deep.equal(["block latest", "status 1 at 10"]);
    // Transitioning at block 10, with block 10's time: the old epoch's token bound stays before the completion.
    expect([clock.blockNumber, clock.blockTime, clock.status.state]).to.deep.equal([10, 1_000, 2n]);
  });
});
