/**
 * Peers' messages that wait for something this node does not have yet (a key-generation batch it has not started, a
 * handover chunk whose records are not agreed yet), kept per sender up to a bound, so that a Byzantine peer cannot
 * push out what honest ones sent however much it sends first.
 */
export class WaitingMessages<F, M> {
  /** Messages each sender sent, kept or not. */
  readonly #sent = new Map<string, number>();
  #kept: { from: F; message: M }[] = [];

  constructor(
    /** Messages kept per sender: what an honest one sends before the wait can end. */
    private readonly perSender: number,
    private readonly senderKey: (from: F) => string,
  ) {}

  add(from: F, message: M): void {
    const key = this.senderKey(from);
    const sent = this.#sent.get(key) ?? 0;
    this.#sent.set(key, sent + 1);
    if (sent < this.perSender) this.#kept.push({ from, message });
  }

  /** How many peers sent something. */
  get senders(): number {
    return this.#sent.size;
  }

  /** What waited, in the order it came; the wait is over. */
  take(): { from: F; message: M }[] {
    const kept = this.#kept;
    this.#kept = [];
    this.#sent.clear();
    return kept;
  }
}
