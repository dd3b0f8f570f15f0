/**
 * At every start, before the node opens its own epoch: the directories of epochs that retired are reduced to their
 * RETIRED marker and block store (node/store/retired-epoch.ts). A running node does this the moment its epoch retires;
 * this is the same erasure for a node that was down at that moment (it learns it from the chain), and the end of one
 * that crashed in the middle of it (the marker says so, whatever the chain says).
 *
 * Must never erase a directory whose epoch has not retired on-chain and that carries no marker.
 */
import { readdir } from "node:fs/promises";
import path from "node:path";

import type { Logger } from "pino";

import { epochStateName } from "../chain/epoch-state.ts";
import type { Registry } from "../chain/registry.ts";
import { readJsonIfPresent } from "../store/atomic-json.ts";
import type { DeploymentIdentity } from "../store/deployment-binding.ts";
import { EPOCH_MARKER_FILE } from "../store/epoch-binding.ts";
import { finishRetiredErasure, isMarkedRetired, retireEpochDir } from "../store/retired-epoch.ts";

const EPOCH_DIR = /^epoch-(\d+)$/;

/** Erases the secrets of every retired epoch in `dataDir`; returns the epochs whose directories are retired. */
export async function eraseRetiredEpochs(
  dataDir: string,
  deployment: DeploymentIdentity,
  registry: Pick<Registry, "call">,
  log: Logger,
): Promise<number[]> {
  const retired: number[] = [];
  for (const name of await readdir(dataDir)) {
    const match = EPOCH_DIR.exec(name);
    if (!match) continue;
    const epoch = Number(match[1]);
    const dir = path.join(dataDir, name);
    if (await isMarkedRetired(dir)) {
      const removed = await finishRetiredErasure(dir);
      if (removed.length > 0)
        log.warn({ epoch, removed }, "finished erasing a retired epoch's data (a crash interrupted the erasure)");
      retired.push(epoch);
      continue;
    }
    const status = await registry.call("getEpochStatus", (c) => c.getEpochStatus(epoch));
    if (epochStateName(status.state) !== "Retired") continue;
    const removed = await retireEpochDir(dir, {
      deployment,
      epoch,
      attempt: (await boundAttempt(dir)) ?? Number(status.transitionAttempt),
      retiredAt: new Date().toISOString(),
    });
    log.warn(
      { epoch, removed },
      "this epoch retired while the node was down: erased its data but for the RETIRED marker and the block store",
    );
    retired.push(epoch);
  }
  return retired;
}

/** The transition attempt the directory's epoch.json names, if it is readable. */
async function boundAttempt(dir: string): Promise<number | undefined> {
  const marker = (await readJsonIfPresent(path.join(dir, EPOCH_MARKER_FILE)).catch(() => undefined)) as
    { attempt?: unknown } | undefined;
  return Number.isSafeInteger(marker?.attempt) ? (marker!.attempt as number) : undefined;
}
