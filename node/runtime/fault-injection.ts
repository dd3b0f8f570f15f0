/**
 * Crash points for process tests, set by the environment variable TORUS_NODE_FAULT (never in production):
 * `kill-after-commit:<height>` kills the node with SIGKILL right after the block at `height` and its effects are
 * committed to the chain store, before the consensus core, the key generation or any waiting client learns of it —
 * the moment between writing a block's effects and acknowledging them.
 */
export interface Faults {
  /** Called once a decided block is durable, before anything else learns of it. */
  afterCommit(height: number): void;
}

const NONE: Faults = { afterCommit: () => undefined };

export function faultsFromEnv(value = process.env.TORUS_NODE_FAULT): Faults {
  if (!value) return NONE;
  const match = /^kill-after-commit:(\d+)$/.exec(value);
  if (!match) throw new Error(`TORUS_NODE_FAULT must be kill-after-commit:<height>, not ${JSON.stringify(value)}`);
  const height = Number(match[1]);
  return {
    afterCommit: (committed) => {
      if (committed === height) process.kill(process.pid, "SIGKILL");
    },
  };
}
