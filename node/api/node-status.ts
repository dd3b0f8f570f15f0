/**
 * What the operator endpoints (/healthz, /status, /metrics) read from a node: the /status JSON shape and the counters
 * behind the metrics. The node implements StatusSource (node/runtime/api-service.ts); the endpoints only read it and
 * must never change the node through it.
 */

/** The /status JSON (the devnet scripts and `torus-node status` read it). */
export interface NodeStatus {
  epoch: number;
  index: number;
  n: number;
  k: number;
  t: number;
  peersConnected: number;
  /** The height being decided, and the app hash after the last committed block (equal on every replica). */
  bft: { height: number; round: number; step: string; appHash: string };
  keys: {
    published: number;
    assigned: number;
    free: number;
    generatedBatches: number;
    /** Keys moved to this epoch by a handover, whose shares this node holds. */
    moved: number;
    /** Where this epoch's own key generation began (past every moved key). */
    firstKeyIndex: number;
  };
  verifierHash: string;
  refusing: string | undefined;
  /** While this epoch takes over: the epoch it takes over from. */
  handoverFrom: number | undefined;
  /** The curve backend this process runs on (node/crypto/backend.ts): "native" or "noble". */
  cryptoBackend: string;
  /** Threads that check peers' sharings (`crypto.workers`, node/runtime/check-pool.ts); 0: on the event loop. */
  checkWorkers: number;
  /** Jobs of the check pool the event loop's thread ran since the start: while every worker was busy (or none could). */
  checkJobsOnMainThread: number;
}

/** Counters since the node started. */
export interface NodeCounters {
  blocks: number;
  txSubmitted: number;
  signatureFetches: number;
  bftRejected: number;
  dkgRejected: number;
}

/** Counters of the peer-to-peer host since it started. */
export interface PeerTrafficCounters {
  framesIn: number;
  framesOut: number;
  dropped: number;
  inboundDropped: number;
  rejectedPeers: number;
  malformedFrames: number;
}

export interface StatusSource {
  status(): NodeStatus;
  counters(): NodeCounters;
  peerTraffic(): PeerTrafficCounters;
}
