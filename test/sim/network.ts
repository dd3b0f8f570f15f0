/**
 * A simulated network between n nodes with seeded faults. Messages cross it as JSON (what a peer receives is data,
 * never the sender's objects). A lost message is modelled as loss followed by the transport's retransmission (it
 * arrives late), unless the recipient is down when it arrives or a partition separates the two: then it is gone.
 */
import type { Prng } from "../support/prng.ts";
import type { Scheduler } from "./scheduler.ts";

export interface NetworkFaults {
  /** Probability that a message is lost once and retransmitted after `retransmitMs`. */
  lossRate: number;
  duplicateRate: number;
  minDelayMs: number;
  maxDelayMs: number;
  retransmitMs: number;
}

export const CALM: NetworkFaults = { lossRate: 0, duplicateRate: 0, minDelayMs: 1, maxDelayMs: 5, retransmitMs: 200 };

export class SimNetwork {
  #groups: number[] | null = null; // node -> partition group, or null when whole
  sent = 0;
  delivered = 0;
  bytes = 0;

  constructor(
    readonly scheduler: Scheduler,
    readonly prng: Prng,
    public faults: NetworkFaults,
    readonly deliver: (from: number, to: number, message: unknown) => void,
    readonly isUp: (node: number) => boolean,
  ) {}

  /** Splits the nodes into groups that cannot reach each other until `heal()`. */
  partition(groups: number[][]): void {
    const byNode: number[] = [];
    groups.forEach((group, g) => group.forEach((node) => (byNode[node] = g)));
    this.#groups = byNode;
  }

  heal(): void {
    this.#groups = null;
  }

  connected(a: number, b: number): boolean {
    return this.#groups === null || this.#groups[a] === this.#groups[b];
  }

  send(from: number, to: number, message: unknown): void {
    if (from === to) return;
    const wire = JSON.stringify(message);
    this.sent++;
    this.bytes += wire.length;
    const { lossRate, duplicateRate, minDelayMs, maxDelayMs, retransmitMs } = this.faults;
    const copies = this.prng.chance(duplicateRate) ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      let delay = minDelayMs + this.prng.int(0, Math.max(0, maxDelayMs - minDelayMs));
      if (this.prng.chance(lossRate)) delay += retransmitMs;
      this.scheduler.after(delay, () => {
        if (!this.isUp(to) || !this.connected(from, to)) return;
        this.delivered++;
        this.deliver(from, to, JSON.parse(wire));
      });
    }
  }
}
