import { expect } from "chai";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { forgetLog, logTails, registerLog } from "../../scripts/lib/process-logs.ts";
import { mochaHooks } from "../support/failure-logs-hook.ts";

describe("the logs of running processes, shown when a test fails", function () {
  let dir: string;

  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "process-logs-"));
  });

  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it("gives the last lines of each registered log under its label, and nothing once forgotten", async function () {
    const [a, b] = [path.join(dir, "a.log"), path.join(dir, "b.log")];
    await writeFile(a, Array.from({ length: 40 }, (_, i) => `a line ${i}`).join("\n") + "\n");
    await writeFile(b, "only line\n");
    registerLog(a, "node 1 of epoch 1");
    registerLog(b, "node 2 of epoch 1");
    registerLog(path.join(dir, "missing.log"), "node 3 of epoch 1");
    try {
      const tails = await logTails(3);
      expect(tails).to.equal(
        [
          `--- node 1 of epoch 1 (${a}), its last 3 lines:\na line 37\na line 38\na line 39`,
          `--- node 2 of epoch 1 (${b}), its last 3 lines:\nonly line`,
          `--- node 3 of epoch 1 (${path.join(dir, "missing.log")}), its last 3 lines:\n(unreadable: ENOENT)`,
        ].join("\n"),
      );
    } finally {
      for (const file of [a, b, path.join(dir, "missing.log")]) forgetLog(file);
    }
    expect(await logTails(3)).to.equal("");
  });

  it("prints them after a failed test only", async function () {
    const file = path.join(dir, "node.log");
    await writeFile(file, "started\nstuck\n");
    registerLog(file, "node 7 of epoch 2");
    const printed: string[] = [];
    const error = console.error;
    console.error = (text: string) => printed.push(text);
    try {
      for (const state of ["passed", "failed"] as const)
        await mochaHooks.afterEach.call({ currentTest: { state } } as never);
    } finally {
      console.error = error;
      forgetLog(file);
    }
    expect(printed).to.have.length(1);
    expect(printed[0]).to.include("The test failed while these processes ran").and.include("node 7 of epoch 2");
    expect(printed[0]).to.include("started\nstuck");
  });
});
