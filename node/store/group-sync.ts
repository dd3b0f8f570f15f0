/**
 * Group commit for a file written synchronously and synced asynchronously: `durable()` resolves once an fsync that
 * started after every write marked so far (`written()`) has returned. One fsync covers all writes made before it
 * started, so commits that arrive while one runs share the next, and the fsync itself runs on libuv's thread pool,
 * not on the event loop. A failed fsync fails every later call: after a failed fsync the kernel may have dropped the
 * dirty pages, so nothing written before it can be called durable again.
 */
export class GroupSync {
  /** Writes made since the last fsync started. */
  #dirty = false;
  #running: Promise<void> | undefined;
  /** The fsync that will start once the running one returns, covering the writes made since it started. */
  #queued: Promise<void> | undefined;
  #failed: Error | undefined;

  constructor(private readonly fsync: () => Promise<void>) {}

  written(): void {
    this.#dirty = true;
  }

  durable(): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (!this.#dirty) return this.#running ?? Promise.resolve();
    this.#queued ??= (this.#running ?? Promise.resolve()).then(
      () => this.#start(),
      () => this.#start(),
    );
    return this.#queued;
  }

  #start(): Promise<void> {
    this.#queued = undefined;
    this.#dirty = false;
    if (this.#failed) return Promise.reject(this.#failed);
    const running = this.fsync().then(
      () => {
        if (this.#running === running) this.#running = undefined;
      },
      (error: unknown) => {
        this.#failed = new Error("fsync failed: the store's recent writes may not be durable", { cause: error });
        throw this.#failed;
      },
    );
    this.#running = running;
    return running;
  }
}
