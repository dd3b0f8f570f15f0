/**
 * Validity of a reshare decision, shared by the receiving core and the successor epoch's replicated app that orders
 * the decisions. Deterministic, so every honest node reaches the same verdict.
 */
import { readySignBytes } from "../dkg/wire.ts";
import type { ReshareDecision, Thresholds } from "./types.ts";
import { PSS_DOMAIN } from "./wire.ts";

/**
 * At least k_old distinct old dealers, each with k_new + t_new readies of distinct new nodes, each a valid signature
 * over (the new epoch's signing domain, transition, chunk, dealer, H(C)); the domain names the deployment, the old and
 * the new epoch and the attempt. Undefined when valid, else what is wrong.
 */
export function reshareDecisionProblem(
  decision: ReshareDecision,
  old: Thresholds,
  next: Thresholds,
  signingDomain: string,
  verify: (node: number, message: Uint8Array, signature: string) => boolean,
): string | undefined {
  const dealers = new Set(decision.dealers.map((d) => d.dealer));
  if (dealers.size !== decision.dealers.length) return "a dealer is named twice";
  if (dealers.size < old.k) return `names ${dealers.size} dealers, fewer than k_old = ${old.k}`;
  for (const d of decision.dealers) {
    const signers = new Set(d.readies.map((r) => r.node));
    if (signers.size !== d.readies.length || signers.size < next.k + next.t)
      return `dealer ${d.dealer} lacks k + t distinct readies`;
    const bytes = readySignBytes(
      signingDomain,
      { epoch: decision.transition, batch: decision.chunk, dealer: d.dealer },
      d.hash,
      PSS_DOMAIN,
    );
    if (!d.readies.every((r) => verify(r.node, bytes, r.signature))) return `dealer ${d.dealer} has a bad ready`;
  }
  return undefined;
}
