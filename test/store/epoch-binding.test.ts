import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import { DataBindingError } from "../../node/store/binding-error.ts";
import { EPOCH_MARKER_FILE, bindEpochDir } from "../../node/store/epoch-binding.ts";
import { refusedWith } from "../support/refusal.ts";

const refusal = (action: Promise<unknown>) => refusedWith(action, DataBindingError);

describe("epoch directory bound to its epoch and transition attempt", function () {
  let root: string;
  let dir: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), "epoch-binding-"));
    dir = path.join(root, "epoch-2");
  });
  afterEach(async () => rm(root, { recursive: true, force: true }));

  it("creates the directory (0700) with its marker (0600), and accepts it at the next start", async function () {
    expect(await bindEpochDir(dir, { epoch: 2, attempt: 1 })).to.equal("created");
    expect((await stat(dir)).mode & 0o777).to.equal(0o700);
    expect((await stat(path.join(dir, EPOCH_MARKER_FILE))).mode & 0o777).to.equal(0o600);
    expect(JSON.parse(await readFile(path.join(dir, EPOCH_MARKER_FILE), "utf8"))).to.deep.equal({
      epoch: 2,
      attempt: 1,
    });
    await writeFile(path.join(dir, "pss.log"), "received");
    expect(await bindEpochDir(dir, { epoch: 2, attempt: 1 })).to.equal("matches");
    expect(await readFile(path.join(dir, "pss.log"), "utf8")).to.equal("received");
  });

  it("erases what an aborted attempt left (the node was down when it ended) and binds the directory to the retry", async function () {
    await bindEpochDir(dir, { epoch: 2, attempt: 1 });
    await writeFile(path.join(dir, "pss.log"), "attempt 1");
    expect(await bindEpochDir(dir, { epoch: 2, attempt: 2 })).to.equal("erased");
    expect(await readdir(dir)).to.deep.equal([EPOCH_MARKER_FILE]);
    expect(JSON.parse(await readFile(path.join(dir, EPOCH_MARKER_FILE), "utf8"))).to.deep.equal({
      epoch: 2,
      attempt: 2,
    });
  });

  it("refuses a directory of a later attempt than the chain's, or of another epoch, and leaves it as it is", async function () {
    await bindEpochDir(dir, { epoch: 2, attempt: 3 });
    await writeFile(path.join(dir, "pss.log"), "attempt 3");
    const later = await refusal(bindEpochDir(dir, { epoch: 2, attempt: 2 }));
    expect(later.code).to.equal("OTHER_EPOCH");
    expect(later.message).to.contain(`${dir} holds epoch 2 attempt 3, but this node runs epoch 2 attempt 2`);
    const other = await refusal(bindEpochDir(dir, { epoch: 5, attempt: 3 }));
    expect(other.message).to.contain("holds epoch 2 attempt 3, but this node runs epoch 5 attempt 3");
    expect(await readFile(path.join(dir, "pss.log"), "utf8")).to.equal("attempt 3");
  });

  it("binds an empty directory (a crash before its marker was written) but refuses one with unmarked files", async function () {
    await mkdir(dir);
    expect(await bindEpochDir(dir, { epoch: 2, attempt: 0 })).to.equal("created");
    const unmarked = path.join(root, "epoch-3");
    await mkdir(unmarked);
    await writeFile(path.join(unmarked, "blocks.log"), "old");
    const error = await refusal(bindEpochDir(unmarked, { epoch: 3, attempt: 0 }));
    expect(error.code).to.equal("UNBOUND");
    expect(await readdir(unmarked)).to.deep.equal(["blocks.log"]);
  });

  it("refuses a marker without its fields", async function () {
    await mkdir(dir);
    await writeFile(path.join(dir, EPOCH_MARKER_FILE), JSON.stringify({ epoch: 2 }));
    expect((await refusal(bindEpochDir(dir, { epoch: 2, attempt: 0 }))).message).to.contain(
      'lacks "epoch" or "attempt"',
    );
  });
});
