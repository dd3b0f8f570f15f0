/**
 * Each `epoch-<e>/` directory names the epoch and the transition attempt its data belongs to, in `epoch.json`. A
 * successor epoch's nodes run one BFT chain and one handover per attempt, and erase what they received when an attempt
 * is aborted (EpochStorage.eraseAll, called when the chain follower abandons the attempt). A node that was down at
 * that moment still holds the aborted attempt's data; started for the retry, it must not replay it into the new
 * attempt, so it erases it as the running node would have. A retired epoch's directory carries a `RETIRED` marker
 * (retired-epoch.ts) and is never bound again.
 */
import { lstat, mkdir, readdir, rm } from "node:fs/promises";
import path from "node:path";

import { writeJsonAtomically } from "./atomic-json.ts";
import { DataBindingError, readBindingFile, remedy } from "./binding-error.ts";
import { RETIRED_MARKER_FILE, finishRetiredErasure, isMarkedRetired } from "./retired-epoch.ts";

export const EPOCH_MARKER_FILE = "epoch.json";

export interface EpochBinding {
  epoch: number;
  /** The chain's transition attempt into this epoch (0 for a genesis epoch, which has none). */
  attempt: number;
}

/**
 * Makes `dir` the directory of this epoch and attempt: creates it (0700) with its marker when missing or empty,
 * accepts it when the marker matches, erases and recreates it when it holds an earlier (aborted) attempt of the same
 * epoch, and refuses anything else — a retired epoch's directory above all (after finishing its erasure): its shares
 * moved to the next epoch, whose nodes alone serve its keys now.
 */
export async function bindEpochDir(dir: string, binding: EpochBinding): Promise<"created" | "matches" | "erased"> {
  const file = path.join(dir, EPOCH_MARKER_FILE);
  const exists = await lstat(dir).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return false;
      throw error;
    },
  );
  if (!exists) {
    await create(dir, binding);
    return "created";
  }
  if (await isMarkedRetired(dir)) {
    await finishRetiredErasure(dir);
    throw new DataBindingError(
      "RETIRED",
      `${dir} holds epoch ${binding.epoch}, which retired: its data is erased (${RETIRED_MARKER_FILE} marker) and this ` +
        `node never serves that epoch again`,
    );
  }
  const stored = await readBindingFile(file, dir);
  if (stored === undefined) {
    // A crash between creating the directory and writing its marker leaves it empty.
    if ((await readdir(dir)).length > 0) {
      throw new DataBindingError("UNBOUND", `${dir} holds files but no ${EPOCH_MARKER_FILE}. ${remedy(dir)}`);
    }
    await writeJsonAtomically(file, binding);
    return "created";
  }
  const { epoch, attempt } = parseMarker(file, stored, dir);
  if (epoch === binding.epoch && attempt === binding.attempt) return "matches";
  if (epoch === binding.epoch && attempt < binding.attempt) {
    await rm(dir, { recursive: true, force: true });
    await create(dir, binding);
    return "erased";
  }
  throw new DataBindingError(
    "OTHER_EPOCH",
    `${dir} holds epoch ${epoch} attempt ${attempt}, but this node runs epoch ${binding.epoch} attempt ` +
      `${binding.attempt}. ${remedy(dir)}`,
  );
}

function parseMarker(file: string, value: unknown, dir: string): EpochBinding {
  const marker = (typeof value === "object" && value !== null ? value : {}) as Partial<EpochBinding>;
  if (!Number.isSafeInteger(marker.epoch) || !Number.isSafeInteger(marker.attempt))
    throw new DataBindingError("BAD_BINDING", `${file} lacks "epoch" or "attempt". ${remedy(dir)}`);
  return marker as EpochBinding;
}

async function create(dir: string, binding: EpochBinding): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeJsonAtomically(path.join(dir, EPOCH_MARKER_FILE), binding);
}
