/**
 * What {@link login} reports about each node while it runs, so that a DApp can show its users which nodes answered
 * and why the others did not. Reasons are sentences a person can read; they never carry the ID token or a share.
 */
import type { RpcOutcome } from "./jrpc.ts";

/** One node's step in a login, as `login` reports it through `LoginOptions.onProgress`. */
export interface LoginProgress {
  /** The node's position in `network.endpoints` (0-based). */
  node: number;
  /** Its index in the epoch (its 1-based position in the node list). */
  index: number;
  /** Its JSON-RPC endpoint. */
  endpoint: string;
  /**
   * - `committing`: the commitment of the token (its hash, never the token) was sent to the node;
   * - `signed`: the node signed the commitment for this network, and its signature verifies;
   * - `not-signed`: it did not (`reason` says why);
   * - `revealing`: the token and the quorum's signatures were sent to the node;
   * - `share-received`: its share arrived, decrypted, and belongs to the key a majority of the nodes reports;
   * - `no-share`: it gave no usable share (`reason` says why).
   */
  step: "committing" | "signed" | "not-signed" | "revealing" | "share-received" | "no-share";
  /** Why not, in words: the node's own error, "no answer (…)", "its signature does not verify". */
  reason?: string;
}

/** Why a node's answer is not a result, in words. */
export function outcomeReason(outcome: RpcOutcome): string {
  if (outcome.failed !== undefined) return `no answer (${outcome.failed})`;
  if (outcome.error) return `refused: ${String(outcome.error.data ?? outcome.error.message)}`;
  return "no result in its answer";
}

/** Calls a DApp's progress listener; a listener that throws must not break the login. */
export function reporter(
  listener: ((event: LoginProgress) => void) | undefined,
  endpoints: readonly string[],
  indexes: readonly number[],
): (node: number, step: LoginProgress["step"], reason?: string) => void {
  return (node, step, reason) => {
    if (!listener) return;
    try {
      listener({ node, index: indexes[node]!, endpoint: endpoints[node]!, step, ...(reason ? { reason } : {}) });
    } catch {
      // The listener's error is the DApp's own; the login goes on.
    }
  };
}
