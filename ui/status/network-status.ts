/**
 * The JSON the UI server answers at `GET /api/status` and the status page draws: the epoch as the chain has it, each
 * node as its own operator endpoints report it, and the key buffer's recent history. Types only: the server
 * (scripts/lib/network-monitor.ts) and the page (ui/status/) share them.
 */

/** How a node answered `GET /healthz`: 200 (serving), 503 (refusing clients, with the reason), or not at all. */
export type NodeHealth = "serving" | "refusing" | "down";

export interface NodeView {
  /** The epoch whose node list the node is in (the current one, or the next one during a handover). */
  epoch: number;
  /** Its index in that epoch: its 1-based position in the node list. */
  index: number;
  /** The node key's address. */
  address: string;
  /** Its API, `http://<declaredIp>` as listed on-chain. */
  endpoint: string;
  health: NodeHealth;
  /** Why it refuses clients, or why it did not answer. */
  reason?: string;
  bftHeight?: number;
  peers?: number;
  keys?: {
    generated: number;
    assigned: number;
    free: number;
    assignedPerMinute?: number;
    minutesUntilEmpty?: number | null;
  };
  cryptoBackend?: string;
}

export interface EpochView {
  id: number;
  n: number;
  k: number;
  t: number;
  /** The contract's state name: Registering, Ready, Current, Transitioning, Retired, Cancelled. */
  state: string;
  listed: number;
}

/** A handover out of the current epoch, while one was started and has not completed. */
export interface HandoverView {
  to: EpochView;
  /** The contract's `getPssStatus`: Running, Completed, Aborted. */
  pssStatus: string;
  attempt: number;
  /** New nodes that confirmed the handover on-chain, and how many identical confirmations complete it (n − t). */
  confirmed: number;
  needed: number;
}

/** One sample of the key buffer: what most nodes of the current epoch reported (the median), null when none did. */
export interface BufferSample {
  at: number;
  free: number | null;
  assigned: number | null;
}

export interface NetworkStatusView {
  /** When the UI server read it (ms since the epoch). */
  sampledAt: number;
  /** Set when no status could be read at all (no network.json yet, the chain down); the rest is then empty. */
  error?: string;
  chain?: { rpcUrl: string; chainId: string; nodeList: string };
  epoch?: EpochView;
  handover?: HandoverView;
  nodes: NodeView[];
  /** The last minutes of the key buffer, oldest first. */
  history: BufferSample[];
  /** How often the server samples, so that the page can say how fresh a value is. */
  sampleEveryMs: number;
}
