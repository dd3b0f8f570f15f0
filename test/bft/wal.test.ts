import { expect } from "chai";

import { WalCorruption, decodeWal, encodeWalRecord } from "../../node/bft/wal.ts";

function concat(frames: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let offset = 0;
  for (const f of frames) {
    out.set(f, offset);
    offset += f.length;
  }
  return out;
}

describe("BFT write-ahead log framing", function () {
  const records = [
    { kind: "timeout", height: 1, round: 0, step: "propose" },
    { kind: "own", message: { type: "prevote", x: "é" } },
    { n: 3 },
  ];
  const frames = records.map(encodeWalRecord);

  it("round-trips records", function () {
    expect(decodeWal(concat(frames))).to.deep.equal({ records, droppedTailBytes: 0 });
  });

  it("drops a torn last record, cut at any byte", function () {
    const last = frames[2]!;
    for (let cut = 1; cut < last.length; cut++) {
      const decoded = decodeWal(concat([frames[0]!, frames[1]!, last.subarray(0, cut)]));
      expect(decoded.records).to.deep.equal(records.slice(0, 2));
      expect(decoded.droppedTailBytes).to.equal(cut);
    }
  });

  it("drops a last record whose bytes were garbled before the sync", function () {
    const last = Uint8Array.from(frames[2]!);
    last[last.length - 1]! ^= 0xff;
    expect(decodeWal(concat([frames[0]!, last])).records).to.deep.equal(records.slice(0, 1));
  });

  it("refuses a log damaged before its last record", function () {
    const middle = Uint8Array.from(frames[1]!);
    middle[10]! ^= 0x01;
    expect(() => decodeWal(concat([frames[0]!, middle, frames[2]!]))).to.throw(WalCorruption, /checksum/);
  });

  it("refuses a length beyond the maximum record size", function () {
    const bad = Uint8Array.from(frames[0]!);
    new DataView(bad.buffer).setUint32(0, 0xffffffff);
    expect(() => decodeWal(concat([bad, frames[1]!]))).to.throw(WalCorruption, /claims/);
  });
});
