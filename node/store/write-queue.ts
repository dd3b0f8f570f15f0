/**
 * The write sections of a typed store over a KvStore (chain-store.ts, record-store.ts), run one after the other: a
 * section reads what the previous ones applied (`KvStore.applied`) and applies its own batch, so that a store's
 * read–modify–write sequences never interleave (kv-store.ts, "Pipelined writes"). A section that fails does not stop
 * the next one; closing waits for the sections under way, then refuses new ones.
 */
import { StoreClosedError } from "./kv-store.ts";

export class WriteQueue {
  #tail: Promise<unknown> = Promise.resolve();
  #closed: Promise<void> | undefined;

  /** Runs `section` after every section queued before it (whatever their outcome); rejects with its own error. */
  run<T>(section: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    const run = this.#tail.then(section);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /** Resolves once every section queued so far has finished (whatever its outcome). */
  async idle(): Promise<void> {
    await this.#tail;
  }

  /** Refuses new sections, waits for those under way, then runs `then` (once, however often it is called). */
  close(then: () => Promise<void>): Promise<void> {
    this.#closed ??= this.#tail.then(then);
    return this.#closed;
  }
}
