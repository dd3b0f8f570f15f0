import { appendFile, mkdtemp, readFile, readdir, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import { WalCorruption } from "../../node/bft/wal.ts";
import { AppendLog } from "../../node/store/append-log.ts";

async function readAll(file: string): Promise<unknown[]> {
  const { log, records } = await AppendLog.open(file);
  await log.close();
  return records;
}

describe("append-only log on disk", function () {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(path.join(tmpdir(), "log-"))));
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it("reads back what was appended, across reopenings", async function () {
    const file = path.join(dir, "a.log");
    const { log } = await AppendLog.open<{ n: number }>(file);
    await log.append({ n: 1 });
    await log.append({ n: 2 }, { sync: true });
    await log.close();
    const reopened = await AppendLog.open<{ n: number }>(file);
    expect(reopened.records).to.deep.equal([{ n: 1 }, { n: 2 }]);
    await reopened.log.append({ n: 3 });
    await reopened.log.close();
    expect(await readAll(file)).to.deep.equal([{ n: 1 }, { n: 2 }, { n: 3 }]);
  });

  it("cuts off a torn last record (a crash mid-append) and keeps appending after the good ones", async function () {
    const file = path.join(dir, "b.log");
    const { log } = await AppendLog.open<{ n: number }>(file);
    await log.append({ n: 1 }, { sync: true });
    await log.append({ n: 2 }, { sync: true });
    await log.close();
    const size = (await readFile(file)).length;
    await truncate(file, size - 3);
    const reopened = await AppendLog.open<{ n: number }>(file);
    expect(reopened.records).to.deep.equal([{ n: 1 }]);
    expect(reopened.droppedTailBytes).to.be.greaterThan(0);
    await reopened.log.append({ n: 4 }, { sync: true });
    await reopened.log.close();
    expect(await readAll(file)).to.deep.equal([{ n: 1 }, { n: 4 }]);
  });

  it("refuses a log damaged before its last record", async function () {
    const file = path.join(dir, "c.log");
    const { log } = await AppendLog.open<{ n: number }>(file);
    await log.append({ n: 1 });
    await log.append({ n: 2 });
    await log.close();
    const bytes = await readFile(file);
    bytes[10]! ^= 0xff;
    await writeFile(file, bytes);
    await appendFile(file, new Uint8Array());
    let error: unknown;
    await AppendLog.open(file).catch((e: unknown) => (error = e));
    expect(error).to.be.instanceOf(WalCorruption);
  });

  it("rewrites itself without the dropped records (their bytes gone from the file) and appends after the kept ones", async function () {
    const file = path.join(dir, "a.log");
    const { log } = await AppendLog.open<{ secret: string }>(file);
    for (const secret of ["keep-1", "drop-me", "keep-2"]) await log.append({ secret });
    await log.rewrite((records) => [{ secret: "marker" }, ...records.filter((r) => r.secret !== "drop-me")]);
    await log.append({ secret: "keep-3" }, { sync: true });
    expect((await readFile(file)).toString("latin1")).to.not.contain("drop-me");
    expect(log.bytes).to.equal((await readFile(file)).length);
    await log.close();
    expect(await readAll(file)).to.deep.equal(["marker", "keep-1", "keep-2", "keep-3"].map((secret) => ({ secret })));
    expect((await stat(file)).mode & 0o777).to.equal(0o600);
    expect(await readdir(dir)).to.deep.equal(["a.log"]);
  });
});
