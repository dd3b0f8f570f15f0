/**
 * Group commit (node/store/group-sync.ts): a write is durable only after an fsync that started after it, one fsync
 * covers every write made before it started, and a failed fsync fails everything after it.
 */
import { expect } from "chai";

import { GroupSync } from "../../node/store/group-sync.ts";

/** An fsync the test completes by hand, counting how many were started. */
function manualFsync() {
  const pending: { resolve: () => void; reject: (error: Error) => void }[] = [];
  const fsync = () => new Promise<void>((resolve, reject) => pending.push({ resolve, reject }));
  return { fsync, pending };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

function tracked(promise: Promise<void>) {
  const state = { settled: false, error: undefined as Error | undefined };
  promise.then(
    () => (state.settled = true),
    (error: Error) => ((state.settled = true), (state.error = error)),
  );
  return state;
}

describe("group commit: fsyncs shared by the writes made before them", function () {
  it("resolves a write only after an fsync that started after it, and shares one fsync among writes", async function () {
    const { fsync, pending } = manualFsync();
    const sync = new GroupSync(fsync);
    sync.written();
    const first = tracked(sync.durable());
    sync.written();
    const second = tracked(sync.durable());
    await tick();
    expect(pending).to.have.length(1); // one fsync for both writes
    // A write while that fsync runs is not covered by it: it waits for the next one.
    sync.written();
    const third = tracked(sync.durable());
    const readDuring = tracked(sync.durable()); // a read after the third write waits for the same
    pending[0]!.resolve();
    await tick();
    expect([first.settled, second.settled, third.settled, readDuring.settled]).to.deep.equal([
      true,
      true,
      false,
      false,
    ]);
    expect(pending).to.have.length(2);
    pending[1]!.resolve();
    await tick();
    expect([third.settled, readDuring.settled]).to.deep.equal([true, true]);
    // Nothing written since: durable at once, no fsync.
    await sync.durable();
    expect(pending).to.have.length(2);
  });

  it("waits for a running fsync even with nothing new written (a read after a commit under way)", async function () {
    const { fsync, pending } = manualFsync();
    const sync = new GroupSync(fsync);
    sync.written();
    void sync.durable();
    await tick();
    const read = tracked(sync.durable());
    await tick();
    expect(read.settled).to.equal(false);
    pending[0]!.resolve();
    await tick();
    expect(read.settled).to.equal(true);
  });

  it("fails the writes an fsync covered, and every call after it, once an fsync fails", async function () {
    const { fsync, pending } = manualFsync();
    const sync = new GroupSync(fsync);
    sync.written();
    const covered = tracked(sync.durable());
    await tick();
    pending[0]!.reject(new Error("EIO"));
    await tick();
    expect(covered.error?.message).to.match(/fsync failed/);
    expect((covered.error?.cause as Error).message).to.equal("EIO");
    const later = tracked(sync.durable());
    await tick();
    expect(later.error?.message).to.match(/fsync failed/);
    expect(pending).to.have.length(1);
  });
});
