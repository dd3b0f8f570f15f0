/**
 * The epoch's status and the chain's time, read at one block. The token windows come from both: a transitioning
 * epoch serves tokens issued before the newest block time it saw (plus the skew), its successor tokens issued after
 * the completion block's time. Read in two calls, the status could come from a block before the completion and the
 * time from one after it, and a token issued in between would be served by both epochs; at one block tag the old
 * epoch's bound is never past the completion.
 *
 * Must never read anything but that one block and the status at it.
 */
import type { Registry } from "../chain/registry.ts";

export interface EpochClock {
  /** The epoch's status as the contract returns it, at `blockNumber`. */
  status: Awaited<ReturnType<Registry["contract"]["getEpochStatus"]>>;
  blockNumber: number;
  /** That block's timestamp (unix seconds). */
  blockTime: number;
}

export async function readEpochClock(registry: Pick<Registry, "call">, epoch: number): Promise<EpochClock> {
  const block = await registry.call("getBlock", (_, provider) => provider.getBlock("latest"));
  if (!block) throw new Error("the chain has no latest block");
  const status = await registry.call("getEpochStatus", (c) => c.getEpochStatus(epoch, { blockTag: block.number }));
  return { status, blockNumber: block.number, blockTime: block.timestamp };
}
