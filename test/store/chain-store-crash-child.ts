/**
 * The child process of kill-9.e2e.test.ts's chain-store test, and the chain fixtures it and chain-store.test.ts build
 * blocks with. As the child: decides heights one after another on the chain store in `argv[2]` (an SQLite file) as
 * fast as it can — a few WAL records, then the block with one app row — and prints "ack <h>" once height h's
 * `commitBlock` resolved, until it is killed.
 */
import { fileURLToPath } from "node:url";

import type { WalRecord } from "../../node/bft/consensus.ts";
import { blockHash } from "../../node/bft/encoding.ts";
import type { Block, Commit } from "../../node/bft/types.ts";
import { ChainStore, type ChainHead } from "../../node/store/chain-store.ts";
import { key } from "../../node/store/key-codec.ts";
import type { StoreOp } from "../../node/store/kv-store.ts";
import { SqliteStore } from "../../node/store/sqlite-store.ts";

/** The app hash after height h (made up: the chain store does not interpret it). */
export const appHashAt = (height: number) => (height === 0 ? "" : `app-${height}`);

/** The commit of height `previous.height + 1` on top of `previous`, and the head it makes. */
export function nextCommit(
  previous: ChainHead,
  txs = [`tx-${previous.height + 1}`],
): { commit: Commit; head: ChainHead } {
  const height = previous.height + 1;
  const block: Block = {
    height,
    prevHash: previous.lastBlockHash,
    lastAppHash: previous.appHash,
    proposer: height % 4,
    txs,
    evidence: [],
  };
  const hash = blockHash(block);
  const precommits = [0, 1, 2].map((validator) => ({
    type: "precommit" as const,
    height,
    round: 0,
    blockHash: hash,
    validator,
    signature: `sig-${validator}-${height}`,
  }));
  return { commit: { block, round: 0, precommits }, head: { height, lastBlockHash: hash, appHash: appHashAt(height) } };
}

/** A WAL record of `height` (a timeout of round `i`, easy to tell apart). */
export const timeoutRecord = (height: number, i: number): WalRecord => ({
  kind: "timeout",
  height,
  round: i,
  step: "propose",
});

/** The app's own row of a height. */
export const appOp = (height: number): StoreOp => ({ type: "put", key: key("app", height), value: key(height) });

export const WAL_RECORDS_PER_HEIGHT = 3;

// Mocha loads every file under test/: only run when started as the child.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const chain = await ChainStore.open(await SqliteStore.open(process.argv[2]!));
  let head = await chain.head();
  for (;;) {
    const height = head.height + 1;
    for (let i = 0; i < WAL_RECORDS_PER_HEIGHT; i++)
      await chain.appendWal(timeoutRecord(height, i), { sync: i === WAL_RECORDS_PER_HEIGHT - 1 });
    const next = nextCommit(head);
    await chain.commitBlock(next.commit, next.head, [appOp(height)]);
    head = next.head;
    // stdout to a pipe is synchronous on Linux: the line is out before the next height starts.
    process.stdout.write(`ack ${height}\n`);
  }
}
