/**
 * Per-peer bounded queues taken in turn: each peer's items wait in its own FIFO, bounded by count and by bytes, and
 * `take` serves the peers round-robin. One peer that sends faster than the node works can fill only its own queue;
 * another peer's next item waits for at most one item of each other peer, never for the flooder's whole backlog.
 *
 * Must never hold more than `maxItems` items or `maxBytes` bytes for one peer (an item over the bound is refused and
 * the caller drops it), and never reorder one peer's items.
 */

export interface FairQueueBounds {
  /** Items one peer may have waiting. */
  maxItems: number;
  /** Bytes one peer may have waiting (at least one maximal item must fit, or that item is never taken). */
  maxBytes: number;
}

interface PeerQueue<T> {
  items: T[];
  sizes: number[];
  /** The first item not yet taken: an index, not shift(), to stay linear in the items. */
  head: number;
  bytes: number;
}

export class FairQueue<T> {
  /** The peers with items waiting, in the order they get their turns (Map iteration is insertion order). */
  readonly #queues = new Map<string, PeerQueue<T>>();

  constructor(public bounds: FairQueueBounds) {}

  /** Items waiting, over every peer. */
  get size(): number {
    let size = 0;
    for (const queue of this.#queues.values()) size += queue.items.length - queue.head;
    return size;
  }

  /** What one peer has waiting. */
  waiting(peer: string): { items: number; bytes: number } {
    const queue = this.#queues.get(peer);
    return queue ? { items: queue.items.length - queue.head, bytes: queue.bytes } : { items: 0, bytes: 0 };
  }

  /** Queues `item` (of `bytes` bytes) for `peer`; false, and nothing queued, when that peer's queue is full. */
  push(peer: string, item: T, bytes: number): boolean {
    const queue = this.#queues.get(peer) ?? { items: [], sizes: [], head: 0, bytes: 0 };
    const waiting = queue.items.length - queue.head;
    if (waiting >= this.bounds.maxItems || queue.bytes + bytes > this.bounds.maxBytes) return false;
    queue.items.push(item);
    queue.sizes.push(bytes);
    queue.bytes += bytes;
    if (waiting === 0) this.#queues.set(peer, queue);
    return true;
  }

  /** The next item of the peer whose turn it is; that peer then goes to the back of the line. */
  take(): { peer: string; item: T } | undefined {
    const first = this.#queues.entries().next();
    if (first.done) return undefined;
    const [peer, queue] = first.value;
    const item = queue.items[queue.head]!;
    queue.bytes -= queue.sizes[queue.head]!;
    queue.head++;
    this.#queues.delete(peer);
    if (queue.head < queue.items.length) {
      if (queue.head > 1024) this.#compact(queue);
      this.#queues.set(peer, queue);
    }
    return { peer, item };
  }

  /** Forgets what a peer has waiting (it was disconnected or removed). */
  clear(peer: string): void {
    this.#queues.delete(peer);
  }

  #compact(queue: PeerQueue<T>): void {
    queue.items = queue.items.slice(queue.head);
    queue.sizes = queue.sizes.slice(queue.head);
    queue.head = 0;
  }
}
