import { expect } from "chai";
import { pino } from "pino";

import { SerialExecutor } from "../../node/runtime/serial-executor.ts";

const silent = pino({ level: "silent" });
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

describe("serial executor", () => {
  it("runs one task at a time, in the order queued, across awaits", async () => {
    const executor = new SerialExecutor(silent);
    const seen: string[] = [];
    const task = (name: string, ms: number) => async () => {
      seen.push(`${name} start`);
      await tick(ms);
      seen.push(`${name} end`);
    };
    await Promise.all([executor.run(task("a", 20)), executor.run(task("b", 0)), executor.run(task("c", 5))]);
    expect(seen).to.deep.equal(["a start", "a end", "b start", "b end", "c start", "c end"]);
  });

  it("goes on after a task that failed", async () => {
    const executor = new SerialExecutor(silent);
    let ran = false;
    void executor.run(() => Promise.reject(new Error("boom")));
    await executor.run(() => {
      ran = true;
      return Promise.resolve();
    });
    expect(ran).to.equal(true);
  });

  it("cancels its timers at stop, and waits for the task in progress", async () => {
    const executor = new SerialExecutor(silent);
    let fired = 0;
    let finished = false;
    executor.after(10, () => {
      fired++;
      return Promise.resolve();
    });
    executor.every(5, () => void fired++);
    void executor.run(async () => {
      await tick(20);
      finished = true;
    });
    await executor.stop();
    expect(finished).to.equal(true);
    const before = fired;
    await tick(40);
    expect(fired).to.equal(before);
    expect(executor.stopped).to.equal(true);
  });

  it("ends a repeating timer when its tick says done", async () => {
    const executor = new SerialExecutor(silent);
    let ticks = 0;
    executor.every(2, () => (++ticks === 3 ? "done" : undefined));
    await tick(60);
    expect(ticks).to.equal(3);
    await executor.stop();
  });
});
