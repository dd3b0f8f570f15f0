/**
 * The /status JSON of a running node (the type is node/api/node-status.ts's): read from the units that own each
 * figure. Reads only.
 */
import type { NodeStatus } from "../api/node-status.ts";
import type { EpochView } from "../chain/registry.ts";
import { curveBackend } from "../crypto/backend.ts";
import type { KeyStore } from "../store/key-store.ts";
import type { BftDriver } from "./bft-driver.ts";
import type { NodeIndex } from "./node-index.ts";
import type { ServingState } from "./serving-state.ts";

export interface StatusParts {
  epoch: EpochView;
  self: NodeIndex;
  verifierHash: string;
  peersConnected: number;
  bft: BftDriver;
  keyStore: KeyStore;
  serving: ServingState;
  checkWorkers: number;
  checkJobsOnMainThread: number;
}

export function nodeStatus({
  epoch,
  self,
  verifierHash,
  peersConnected,
  bft,
  keyStore,
  serving,
  checkWorkers,
  checkJobsOnMainThread,
}: StatusParts): NodeStatus {
  const { app, consensus } = bft;
  return {
    epoch: epoch.epoch,
    index: self,
    n: epoch.n,
    k: epoch.k,
    t: epoch.t,
    peersConnected,
    bft: { height: consensus.height, round: consensus.round, step: consensus.stepName, appHash: app.appHash },
    keys: {
      published: app.publishedKeys,
      assigned: app.assignedKeys,
      free: app.freeKeys,
      generatedBatches: keyStore.batches,
      moved: keyStore.movedKeys,
      firstKeyIndex: app.firstKeyIndex,
    },
    verifierHash,
    refusing: serving.refusing,
    handoverFrom: serving.handover?.from.epoch,
    cryptoBackend: curveBackend().name,
    checkWorkers,
    checkJobsOnMainThread,
  };
}
