/**
 * A deterministic discrete-event scheduler for simulations: events run in (time, insertion) order on a simulated
 * clock, so that a run is a pure function of its seed.
 */
interface Event {
  time: number;
  seq: number;
  run: () => void;
}

export class Scheduler {
  #now = 0;
  #seq = 0;
  readonly #heap: Event[] = [];
  executed = 0;

  get now(): number {
    return this.#now;
  }

  get pending(): number {
    return this.#heap.length;
  }

  at(time: number, run: () => void): void {
    this.#push({ time: Math.max(time, this.#now), seq: this.#seq++, run });
  }

  after(delayMs: number, run: () => void): void {
    this.at(this.#now + delayMs, run);
  }

  /** Runs events until `done()` holds, the queue empties, `untilTime` passes or `maxEvents` ran; says which. */
  run(options: { done?: () => boolean; untilTime?: number; maxEvents?: number }): "done" | "idle" | "time" | "events" {
    const { done, untilTime = Infinity, maxEvents = 5_000_000 } = options;
    for (let i = 0; ; i++) {
      if (done?.()) return "done";
      const next = this.#heap[0];
      if (!next) return "idle";
      if (next.time > untilTime) {
        this.#now = untilTime;
        return "time";
      }
      if (i >= maxEvents) return "events";
      this.#pop();
      this.#now = next.time;
      this.executed++;
      next.run();
    }
  }

  #less(a: Event, b: Event): boolean {
    return a.time < b.time || (a.time === b.time && a.seq < b.seq);
  }

  #push(event: Event): void {
    const heap = this.#heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    for (let i = 0; ;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let smallest = i;
      if (l < heap.length && this.#less(heap[l]!, heap[smallest]!)) smallest = l;
      if (r < heap.length && this.#less(heap[r]!, heap[smallest]!)) smallest = r;
      if (smallest === i) return;
      [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
      i = smallest;
    }
  }
}
