/**
 * A thread of the node's check pool (check-pool.ts): installs the node's curve backend, then runs each check job it
 * is sent (node/dkg/checks.ts) and answers with its result, or with the error that stopped it.
 */
import { parentPort, workerData } from "node:worker_threads";

import { systemRng } from "../crypto/field.ts";
import {
  checkJobFromPlain,
  checkResultToPlain,
  runCheck,
  type PlainCheckJob,
  type PlainCheckResult,
} from "../dkg/checks.ts";
import { installConfiguredBackend, type CryptoConfig } from "../native/select.ts";

export interface CheckRequest {
  id: number;
  job: PlainCheckJob;
}

export type CheckReply = { id: number; result: PlainCheckResult } | { id: number; error: string };

const port = parentPort;
if (!port) throw new Error("check-worker.ts runs as a worker thread of the check pool");
installConfiguredBackend((workerData as { crypto: CryptoConfig }).crypto);
port.on("message", ({ id, job }: CheckRequest) => {
  let reply: CheckReply;
  try {
    reply = { id, result: checkResultToPlain(runCheck(checkJobFromPlain(job), systemRng)) };
  } catch (error) {
    reply = { id, error: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(reply);
});
port.postMessage("ready");
