/**
 * The child process of kill-9.e2e.test.ts's record-store test. Appends groups of GROUP_SIZE records to the record store
 * in `argv[2]` (an SQLite file with secure deletion, as an epoch's key-generation records), the last of each synced;
 * from group 2 on, compacts the group two before it away (replaced by one `erased` record for it, as the key generation
 * erases a batch), and prints "ack <g>" once group g's compaction resolved; until it is killed.
 */
import { fileURLToPath } from "node:url";

import { RecordStore } from "../../node/store/record-store.ts";
import { SqliteStore } from "../../node/store/sqlite-store.ts";

export type CrashRecord = { kind: "item"; group: number; i: number; pad: string } | { kind: "erased"; group: number };

export const GROUP_SIZE = 4;

/** Selects group `group`'s records and the erased record, and replaces them by one erased record for `group`. */
export function groupErasure(group: number) {
  return {
    select: (r: CrashRecord) => r.kind === "erased" || r.group === group,
    replace: (): CrashRecord[] => [{ kind: "erased", group }],
  };
}

// Mocha loads every file under test/: only run when started as the child.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const kv = await SqliteStore.open(process.argv[2]!, { secureDelete: true });
  const store = await RecordStore.open<CrashRecord>(kv, { afterCompaction: () => kv.truncateWal() });
  for (let group = 0; ; group++) {
    for (let i = 0; i < GROUP_SIZE; i++)
      await store.append({ kind: "item", group, i, pad: "p".repeat(3000) }, { sync: i === GROUP_SIZE - 1 });
    if (group >= 2) {
      const { select, replace } = groupErasure(group - 2);
      await store.compact(select, replace);
    }
    // stdout to a pipe is synchronous on Linux: the line is out before the next group starts.
    process.stdout.write(`ack ${group}\n`);
  }
}
