/**
 * Runs a node's inputs one at a time, in arrival order: a peer message, a timer firing or a client request is handled
 * completely (the core stepped, its records appended and synced, its messages sent) before the next one starts, so the
 * cores never see two inputs interleaved across an `await`. Owns the node's timers, so that `stop` cancels every one.
 *
 * Must never run a task after `stop`, nor let one task's failure stop the ones queued after it.
 */
import type { Logger } from "pino";

export class SerialExecutor {
  #queue: Promise<void> = Promise.resolve();
  readonly #timers = new Set<NodeJS.Timeout>();
  #stopped = false;

  constructor(private readonly log: Logger) {}

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Runs `task` after every task queued before it; a failure is logged, never thrown to the caller. */
  run(task: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(task, task).catch((error: unknown) => {
      this.log.error({ err: error }, "a task failed");
    });
    this.#queue = next;
    return next;
  }

  /** Queues `task` after `ms` (a core's timeout); dropped if the node stopped by then. */
  after(ms: number, task: () => Promise<void>): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#stopped) void this.run(task);
    }, ms);
    this.#timers.add(timer);
  }

  /**
   * Calls `tick` every `ms` (not queued: a tick decides itself what to queue) until it returns "done" or the node
   * stops. Unref'd: a repeating timer alone must not keep the process alive.
   */
  every(ms: number, tick: () => "done" | void): void {
    const timer = setInterval(() => {
      if (this.#stopped || tick() === "done") {
        clearInterval(timer);
        this.#timers.delete(timer);
      }
    }, ms);
    timer.unref();
    this.#timers.add(timer);
  }

  /** Cancels every timer and waits for the task in progress (and those queued) to finish. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await this.#queue;
  }
}
