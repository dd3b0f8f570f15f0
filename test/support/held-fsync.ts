/**
 * An fsync for SqliteStore's `fsync` option that starts only when the test releases it, noting on one timeline when
 * each fsync started and when it returned: a test can then check what resolved before which fsync by the order of
 * events, never by time, and count the fsyncs a workload made.
 */
import type { FileHandle } from "node:fs/promises";

/** Increasing marks, so that events noted by different parts of a test can be ordered. */
export class Timeline {
  #last = 0;
  mark(): number {
    return ++this.#last;
  }
}

export class HeldFsync {
  readonly fsyncs: { start: number; end?: number }[] = [];
  #held: (() => void)[] = [];

  constructor(readonly timeline = new Timeline()) {}

  readonly fsync = async (wal: FileHandle): Promise<void> => {
    const fsync: { start: number; end?: number } = { start: this.timeline.mark() };
    this.fsyncs.push(fsync);
    await new Promise<void>((resolve) => this.#held.push(resolve));
    await wal.sync();
    fsync.end = this.timeline.mark();
  };

  /** Lets every fsync started so far run; returns how many. */
  release(): number {
    const held = this.#held;
    this.#held = [];
    for (const resolve of held) resolve();
    return held.length;
  }

  /** Whether an fsync that started after mark `written` had returned before mark `answered`. */
  covered(written: number, answered: number): boolean {
    return this.fsyncs.some((f) => f.start > written && f.end !== undefined && f.end < answered);
  }
}

/** A promise's state, readable synchronously. */
export function tracked(promise: Promise<unknown>): { settled: boolean; error?: unknown } {
  const state: { settled: boolean; error?: unknown } = { settled: false };
  promise.then(
    () => (state.settled = true),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return state;
}

export const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
