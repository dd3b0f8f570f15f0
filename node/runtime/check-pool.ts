/**
 * The node's worker pool for the curve work of checks (node/dkg/checks.ts): `crypto.workers` threads, each with the
 * node's curve backend. The drivers hand it their cores' `check` outputs and enter its results as inputs: it is IO
 * of the shell, and no core knows it exists.
 *
 * A result always comes back, and it is always the job's own: a job whose worker died or threw is run again on
 * the main thread. A dead worker is replaced, up to MAX_REPLACEMENTS times in the pool's life; after that the pool
 * runs what its remaining workers cannot on the main thread.
 */
import { Worker } from "node:worker_threads";

import type { Logger } from "pino";

import { systemRng } from "../crypto/field.ts";
import { checkJobToPlain, checkResultFromPlain, runCheck, type CheckJob, type CheckResult } from "../dkg/checks.ts";
import type { CryptoConfig } from "../native/select.ts";
import type { CheckReply, CheckRequest } from "./check-worker.ts";

/** Jobs a worker holds at once: one to run, one to start on as soon as it answers (no idle round trip). */
const IN_FLIGHT_PER_WORKER = 2;
const MAX_REPLACEMENTS = 8;

interface Task {
  id: number;
  job: CheckJob;
  resolve: (result: CheckResult) => void;
  reject: (error: Error) => void;
}

interface Thread {
  worker: Worker;
  inFlight: Map<number, Task>;
}

export class CheckPool {
  readonly #threads = new Set<Thread>();
  readonly #queue: Task[] = [];
  #nextId = 0;
  #replacements = 0;
  #closing = false;
  /** A turn of the event loop is booked to run a waiting job on this thread (#bookHelp). */
  #helpBooked = false;
  #mainThreadJobs = 0;

  private constructor(
    private readonly crypto: CryptoConfig,
    private readonly log: Logger,
  ) {}

  /** Starts `size` workers (at least one) and waits until each has installed its curve backend. */
  static async start(size: number, crypto: CryptoConfig, log: Logger): Promise<CheckPool> {
    if (!Number.isSafeInteger(size) || size < 1)
      throw new RangeError(`a check pool needs 1 or more workers, not ${size}`);
    const pool = new CheckPool(crypto, log);
    try {
      await Promise.all(Array.from({ length: size }, () => pool.#spawn()));
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  get workers(): number {
    return this.#threads.size;
  }

  /** Jobs run on the calling thread since the start: while every worker was busy, or when none could run them. */
  get mainThreadJobs(): number {
    return this.#mainThreadJobs;
  }

  run<J extends CheckJob>(job: J): Promise<CheckResult<J>> {
    return new Promise<CheckResult>((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, job, resolve, reject });
      this.#dispatch();
      this.#bookHelp();
    }) as Promise<CheckResult<J>>;
  }

  /**
   * The event loop's thread works too: while jobs wait for a worker, it runs one of them at each turn of the loop.
   * setImmediate runs after the turn's I/O, so messages, requests and timers keep their turn between two jobs. With
   * `crypto.workers` at its default (every core but one) the workers alone leave the event loop's core idle whenever
   * the node's own work is light, as it is during key generation.
   */
  #bookHelp(): void {
    if (this.#helpBooked || this.#closing || this.#queue.length === 0) return;
    this.#helpBooked = true;
    setImmediate(() => {
      this.#helpBooked = false;
      const task = this.#queue.shift();
      if (task) this.#runInline(task);
      this.#bookHelp();
    });
  }

  /** Stops the workers; jobs still queued or under way are run on the main thread, so every caller gets a result. */
  async close(): Promise<void> {
    this.#closing = true;
    const threads = [...this.#threads];
    this.#threads.clear();
    for (const thread of threads) for (const task of thread.inFlight.values()) this.#queue.push(task);
    await Promise.all(threads.map((thread) => thread.worker.terminate()));
    this.#drainInline();
  }

  #spawn(): Promise<void> {
    const worker = new Worker(new URL("./check-worker.ts", import.meta.url), { workerData: { crypto: this.crypto } });
    worker.unref();
    const thread: Thread = { worker, inFlight: new Map() };
    return new Promise((resolve, reject) => {
      worker.once("message", (first: unknown) => {
        if (first !== "ready") return reject(new Error(`a check worker said ${String(first)} before it was ready`));
        this.#threads.add(thread);
        worker.on("message", (reply: CheckReply) => this.#onReply(thread, reply));
        resolve();
        this.#dispatch();
      });
      worker.once("error", (error) => {
        if (!this.#threads.has(thread)) return reject(error);
        this.#onDeath(thread, error);
      });
      worker.once("exit", (code) => {
        if (this.#threads.has(thread)) this.#onDeath(thread, new Error(`exited with code ${code}`));
        else reject(new Error(`a check worker exited with code ${code} before it was ready`));
      });
    });
  }

  #onReply(thread: Thread, reply: CheckReply): void {
    const task = thread.inFlight.get(reply.id);
    if (!task) return;
    thread.inFlight.delete(reply.id);
    if ("result" in reply) task.resolve(checkResultFromPlain(reply.result));
    else {
      this.log.warn({ error: reply.error }, "a job failed on a worker; running it on the main thread");
      this.#runInline(task);
    }
    this.#dispatch();
  }

  #onDeath(thread: Thread, error: Error): void {
    this.#threads.delete(thread);
    if (this.#closing) return;
    this.log.error({ err: error }, "a check worker died");
    this.#queue.unshift(...thread.inFlight.values());
    if (this.#replacements++ < MAX_REPLACEMENTS) {
      this.#spawn().catch((spawnError: unknown) => {
        this.log.error({ err: spawnError }, "could not replace a check worker");
        this.#dispatch();
      });
    }
    this.#dispatch();
  }

  #dispatch(): void {
    for (const thread of this.#closing ? [] : this.#threads) {
      while (thread.inFlight.size < IN_FLIGHT_PER_WORKER && this.#queue.length > 0) {
        const task = this.#queue.shift()!;
        thread.inFlight.set(task.id, task);
        const request: CheckRequest = { id: task.id, job: checkJobToPlain(task.job) };
        thread.worker.postMessage(request);
      }
    }
    if (this.#closing || this.#threads.size === 0) this.#drainInline();
  }

  #drainInline(): void {
    for (let task = this.#queue.shift(); task; task = this.#queue.shift()) this.#runInline(task);
  }

  /** A job on the main thread; one that throws there (a bug: checks fail with a reason) rejects its caller. */
  #runInline(task: Task): void {
    this.#mainThreadJobs++;
    try {
      task.resolve(runCheck(task.job, systemRng));
    } catch (error) {
      task.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
}
