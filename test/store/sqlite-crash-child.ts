/**
 * The child process of kill-9.e2e.test.ts's sqlite-store test: commits numbered batches to the store in `argv[2]` as
 * fast as it can and prints "ack <i>" once batch i's commit resolved, until it is killed. Each batch writes BATCH_KEYS
 * keys of its own and overwrites "head" with its number.
 */
import { fileURLToPath } from "node:url";

import { key } from "../../node/store/key-codec.ts";
import { SqliteStore } from "../../node/store/sqlite-store.ts";

export const BATCH_KEYS = 40;

export function batchValue(i: number): Uint8Array {
  return new TextEncoder().encode(`batch ${i} `.repeat(20));
}

// Mocha loads every file under test/: only run when started as the child.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const store = await SqliteStore.open(process.argv[2]!);
  for (let i = 0; ; i++) {
    const ops = Array.from({ length: BATCH_KEYS }, (_, j) => ({
      type: "put" as const,
      key: key("batch", i, j),
      value: batchValue(i),
    }));
    await store.commit([...ops, { type: "put", key: key("head"), value: key(i) }]);
    // stdout to a pipe is synchronous on Linux: the line is out before the next batch starts.
    process.stdout.write(`ack ${i}\n`);
  }
}
