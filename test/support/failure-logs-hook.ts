/**
 * Mocha root hook (hardhat.config.ts `test.mocha.require`): when a test fails while a devnet's node processes run, it
 * prints how each node's log ends (scripts/lib/process-logs.ts), before the suite's `after` stops the processes and
 * deletes their directory. A CI run's output then says what the nodes were doing.
 */
import type { Context } from "mocha";

import { logTails } from "../../scripts/lib/process-logs.ts";

/** Lines of each node's log: a node logs a line per lifecycle step at its default level. */
const LINES = 25;

export const mochaHooks = {
  async afterEach(this: Context): Promise<void> {
    if (this.currentTest?.state !== "failed") return;
    const tails = await logTails(LINES);
    if (tails) console.error(`\nThe test failed while these processes ran:\n${tails}\n`);
  },
};
