/**
 * Validity of a dealer-set decision, shared by the key-generation core and the replicated app that orders decisions:
 * at least k + t distinct dealers, each with k + t readies from distinct nodes, each a valid signature over
 * (signing domain, epoch, batch, dealer, H(C)). Deterministic, so every honest node reaches the same verdict.
 */
import type { DealerDecision } from "./types.ts";
import { readySignBytes } from "./wire.ts";

export function decisionProblem(
  decision: DealerDecision,
  thresholds: { k: number; t: number },
  signingDomain: string,
  verify: (node: number, message: Uint8Array, signature: string) => boolean,
): string | undefined {
  const { k, t } = thresholds;
  const dealers = new Set(decision.dealers.map((d) => d.dealer));
  if (dealers.size !== decision.dealers.length) return "a dealer is named twice";
  if (dealers.size < k + t) return `names ${dealers.size} dealers, fewer than k + t = ${k + t}`;
  for (const d of decision.dealers) {
    const signers = new Set(d.readies.map((r) => r.node));
    if (signers.size !== d.readies.length || signers.size < k + t)
      return `dealer ${d.dealer} lacks k + t distinct readies`;
    const bytes = readySignBytes(
      signingDomain,
      { epoch: decision.epoch, batch: decision.batch, dealer: d.dealer },
      d.hash,
    );
    if (!d.readies.every((r) => verify(r.node, bytes, r.signature))) return `dealer ${d.dealer} has a bad ready`;
  }
  return undefined;
}
