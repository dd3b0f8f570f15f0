/**
 * What the handover's chunks' AVSS rounds (node/dkg/avss-round.ts) need of the new node's receiving side: the
 * handover's wire forms (a session id names the transition and the chunk; points carry no blindings), its domain,
 * Feldman commitments, and who is refused: an old node for its send, a new node for anything else.
 */
import type { Point } from "../crypto/point.ts";
import type { AvssProtocol } from "../dkg/avss-round.ts";
import type { PendingChecks } from "../dkg/checks.ts";
import type { SessionId } from "../dkg/types.ts";
import { scalarHex } from "../dkg/wire.ts";
import type { ReceiverConfig } from "./receiver.ts";
import type { ReceiverRecord } from "./receiver-records.ts";
import type { Party, PssMessage } from "./types.ts";
import { PSS_DOMAIN } from "./wire.ts";

export interface ReceiverParts {
  config: ReceiverConfig;
  checks: PendingChecks;
  send: (to: Party, message: PssMessage) => void;
  reject: (from: Party, reason: string) => void;
  persist: (record: ReceiverRecord) => void;
}

/** A session id in the handover's wire form. */
export function wireId(id: SessionId): { transition: number; chunk: number; dealer: number } {
  return { transition: id.epoch, chunk: id.batch, dealer: id.dealer };
}

/**
 * Whether a dealer's commitments fit a chunk: one matrix per key, each constant term the moved Y_dealer (the dealer's
 * old share key of that key), so that the resharing is of the dealer's old share.
 */
export function fitsMovedKeys(
  shareKeys: readonly Point[][],
  dealer: number,
  commitments: readonly Point[][][],
): boolean {
  return (
    commitments.length === shareKeys.length &&
    commitments.every((matrix, key) => matrix[0]![0]!.equals(shareKeys[key]![dealer - 1]!))
  );
}

export function receiverAvss({ config, checks, send, reject, persist }: ReceiverParts): AvssProtocol {
  const { n, t, k } = config.new;
  const toNew = (index: number): Party => ({ role: "new", index });
  return {
    self: config.self,
    n,
    t,
    k,
    epoch: config.transition,
    domain: PSS_DOMAIN,
    signingDomain: config.signingDomain,
    signer: config.signer,
    feldman: true,
    checks,
    sendPoints: (to, id, session, type) => {
      const points = session.pointsForPeer(to).map((p) => ({ row: scalarHex(p.row), col: scalarHex(p.col) }));
      if (type === "echo") send(toNew(to), { type, ...wireId(id), hash: session.own!.hash, points });
      else send(toNew(to), { type, ...wireId(id), hash: session.readied!, points, signature: session.readySignature });
    },
    askCommitments: (to, id, hash) => send(toNew(to), { type: "commitmentRequest", ...wireId(id), hash }),
    sendCommitments: (to, id, commitments) => send(toNew(to), { type: "commitments", ...wireId(id), commitments }),
    reject: (from, reason, role) => reject({ role: role === "dealer" ? "old" : "new", index: from }, reason),
    persist: (chunk, dealer, record) => persist({ kind: "sharing", chunk, dealer, ...record }),
  };
}
