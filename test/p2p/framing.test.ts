import { expect } from "chai";

import { FrameDecoder, FrameTooLarge, encodeFrame } from "../../node/p2p/framing.ts";
import { Prng } from "../support/prng.ts";

function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

/** `stream` cut at the given offsets. */
function cut(stream: Uint8Array, offsets: number[]): Uint8Array[] {
  const points = [0, ...offsets.filter((o) => o > 0 && o < stream.length).sort((a, b) => a - b), stream.length];
  return points.slice(1).map((end, i) => stream.subarray(points[i], end));
}

describe("p2p framing: length-prefixed frames over chunks of any size", function () {
  it("decodes the same frames however the stream is cut (200 seeded cuttings), each byte copied once", function () {
    const payloads = [bytes(0, 1), bytes(1, 2), bytes(5, 3), bytes(300, 4), bytes(4096, 5)];
    const stream = Uint8Array.from(payloads.flatMap((p) => [...encodeFrame(p, 1 << 20)]));
    const prng = new Prng(7);
    for (let run = 0; run < 200; run++) {
      const decoder = new FrameDecoder(1 << 20);
      const offsets = Array.from({ length: prng.int(0, 40) }, () => prng.int(0, stream.length));
      const out = cut(stream, offsets).flatMap((chunk) => decoder.push(chunk));
      expect(out.map((p) => [...p])).to.deep.equal(payloads.map((p) => [...p]));
      expect([decoder.buffered, decoder.copied]).to.deep.equal([0, stream.length]);
    }
  });

  it("takes a 16 MiB frame sent in 1 kB pieces with one copy of it, not one per piece", function () {
    const payload = bytes(16 * 1024 * 1024, 9);
    const frame = encodeFrame(payload, payload.length);
    const decoder = new FrameDecoder(payload.length);
    let out: Uint8Array[] = [];
    for (let at = 0; at < frame.length; at += 1024) {
      out = decoder.push(frame.subarray(at, at + 1024));
      if (at + 1024 < frame.length) expect(out).to.have.length(0);
    }
    expect(out).to.have.length(1);
    expect(Buffer.from(out[0]!).equals(Buffer.from(payload))).to.equal(true);
    // Joining the buffer on every piece, as the host once did, copied about 16,384 × 8 MiB.
    expect(decoder.copied).to.equal(frame.length);
  });

  it("refuses a frame announced above the cap from its header, before buffering it", function () {
    const decoder = new FrameDecoder(1000);
    expect(decoder.push(encodeFrame(bytes(1000, 1), 1000))).to.have.length(1);
    const header = Uint8Array.from([0, 0, 0x03, 0xe9]); // 1001
    expect(() => decoder.push(header))
      .to.throw(FrameTooLarge)
      .with.property("bytes", 1001);
    expect(() => encodeFrame(bytes(1001, 1), 1000)).to.throw(FrameTooLarge);
  });
});
