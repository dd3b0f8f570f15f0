/**
 * Length-prefixed frames (u32 big-endian length, then the payload) over a byte stream that arrives in chunks of any
 * size. The decoder keeps the chunks as they come and copies each byte once, when its frame is complete: joining the
 * buffer on every chunk, as this once did, costs the square of a frame's size when a peer sends it in small pieces
 * (a 16 MiB frame in 1 kB pieces is 16,000 copies of up to 16 MiB). A frame announced above the cap is refused from
 * its 4-byte header, before any of it is buffered.
 */

/** A RangeError, as the host's callers caught before: a frame over the cap is never sent nor taken. */
export class FrameTooLarge extends RangeError {
  override readonly name = "FrameTooLarge";
  constructor(
    readonly bytes: number,
    readonly cap: number,
  ) {
    super(`frame of ${bytes} bytes (the cap is ${cap})`);
  }
}

export function encodeFrame(payload: Uint8Array, maxFrameBytes: number): Uint8Array {
  if (payload.length > maxFrameBytes) throw new FrameTooLarge(payload.length, maxFrameBytes);
  const frame = new Uint8Array(4 + payload.length);
  new DataView(frame.buffer).setUint32(0, payload.length);
  frame.set(payload, 4);
  return frame;
}

export class FrameDecoder {
  #chunks: Uint8Array[] = [];
  /** The first chunk not yet consumed, and how far into it: an index, not shift(), to stay linear in the chunks. */
  #head = 0;
  #offset = 0;
  /** Bytes held from (#head, #offset) on. */
  #buffered = 0;
  /** The length of the frame being received, once its header is in. */
  #pending: number | undefined;
  #copied = 0;

  readonly #cap: () => number;

  /** `maxFrameBytes` may be a function: the cap of a live stream can change (the host's grows for a handover). */
  constructor(maxFrameBytes: number | (() => number)) {
    this.#cap = typeof maxFrameBytes === "number" ? () => maxFrameBytes : maxFrameBytes;
  }

  get maxFrameBytes(): number {
    return this.#cap();
  }

  /** Bytes copied out so far: each byte received is copied once (headers and payloads), never re-joined. */
  get copied(): number {
    return this.#copied;
  }

  /** Bytes held for frames not yet complete (bounded by 4 + the cap + one chunk). */
  get buffered(): number {
    return this.#buffered;
  }

  /** Takes a chunk and returns the payloads it completes, in order; throws FrameTooLarge on an oversized header. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const frames: Uint8Array[] = [];
    for (;;) {
      if (this.#pending === undefined) {
        if (this.#buffered < 4) return frames;
        const length = new DataView(this.#take(4).buffer).getUint32(0);
        const cap = this.#cap();
        if (length > cap) throw new FrameTooLarge(length, cap);
        this.#pending = length;
      }
      if (this.#buffered < this.#pending) return frames;
      frames.push(this.#take(this.#pending));
      this.#pending = undefined;
    }
  }

  /** The next `bytes` buffered bytes, copied out once, and released from the chunk list. */
  #take(bytes: number): Uint8Array {
    const out = new Uint8Array(bytes);
    let filled = 0;
    while (filled < bytes) {
      const head = this.#chunks[this.#head]!;
      const n = Math.min(bytes - filled, head.length - this.#offset);
      out.set(head.subarray(this.#offset, this.#offset + n), filled);
      filled += n;
      this.#offset += n;
      if (this.#offset === head.length) {
        this.#head++;
        this.#offset = 0;
      }
    }
    this.#buffered -= bytes;
    this.#copied += bytes;
    if (this.#head === this.#chunks.length) [this.#chunks, this.#head] = [[], 0];
    else if (this.#head > 1024) [this.#chunks, this.#head] = [this.#chunks.slice(this.#head), 0];
    return out;
  }
}
