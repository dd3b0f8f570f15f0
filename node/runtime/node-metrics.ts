/**
 * The node's counters since it started (the /metrics endpoint reads them through node/api/node-status.ts). Each driver
 * increments its own; nothing reads them to decide anything.
 */
import type { NodeCounters } from "../api/node-status.ts";

export interface NodeMetrics extends NodeCounters {
  generatedBatches: number;
}

export function newNodeMetrics(): NodeMetrics {
  return { bftRejected: 0, dkgRejected: 0, blocks: 0, generatedBatches: 0, txSubmitted: 0, signatureFetches: 0 };
}
