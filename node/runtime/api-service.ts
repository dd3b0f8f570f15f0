/**
 * The client API's ports (node/api/service.ts, node/api/node-status.ts) over a running TorusNode. Thin on purpose:
 * each member forwards to the node, translating types only, so that the API's behaviour lives in node/api and is
 * tested there over an in-memory service. Nothing here decides anything a client sees.
 */
import type { TxResult } from "../app/key-mapping-app.ts";
import { assignTx } from "../app/transactions.ts";
import type { StatusSource } from "../api/node-status.ts";
import type { ApiParts } from "../api/server.ts";
import type { AssignOutcome, KeyService } from "../api/service.ts";
import { pointFromCoordinates } from "../crypto/point.ts";
import type { TorusNode } from "../node.ts";

export function apiPartsOf(node: TorusNode): ApiParts {
  const { verifiers, api } = node.config;
  return {
    service: keyServiceOf(node),
    status: statusSourceOf(node),
    settings: {
      verifiers,
      keyAssignPerSecond: api.keyAssignPerSecond,
      commitmentsPerSecond: api.commitmentsPerSecond,
      openCommitmentsPerSource: api.openCommitmentsPerSource,
      failedShareRequestsPerSecond: api.failedShareRequestsPerSecond,
      keyAssignSigner: api.keyAssignSigner,
      keyAssignMode: api.keyAssignMode,
    },
    log: node.log,
    http: { maxConnections: api.maxConnections, trustProxy: api.trustProxy },
  };
}

function keyServiceOf(node: TorusNode): KeyService {
  const { epoch } = node;
  const nodeKeys = epoch.nodes.map((n) => pointFromCoordinates(n.pubKx, n.pubKy, `node ${n.index}`));
  return {
    self: { index: node.index, publicKey: node.publicKey },
    epoch: { n: epoch.n, t: epoch.t, nodeKeys },
    refusing: () => node.refusing,
    handingOverTo: () => node.app.frozen?.nextEpoch,
    freeKeys: () => node.app.freeKeys,
    lookup: (verifier, verifierId) => node.app.lookup(verifier, verifierId),
    assign: (verifier, verifierId, signal, source) =>
      untilAborted(node.submit(assignTx(verifier, verifierId), source), signal).then(outcomeOf),
    keyByPublicKey: (publicKey) => node.app.keyByPublicKey(publicKey),
    keyShare: async (keyIndex) => {
      const key = await node.findKey(keyIndex);
      return key && BigInt("0x" + key.share);
    },
    commitments: {
      commitment: (commitment) => node.commitments.commitment(commitment),
      reveal: (commitment) => node.commitments.reveal(commitment),
      openCommitments: (source) => node.commitments.openCommitments(source),
      addCommitment: async (record) => {
        if (!node.commitments.addCommitment(record)) return false;
        await node.persistAuth({ kind: "commitment", ...record });
        return true;
      },
      addReveal: async (record) => {
        node.commitments.addReveal(record);
        await node.persistAuth({ kind: "reveal", ...record });
      },
    },
    sign: (data) => node.sign(data),
    peerSignatures: (verifier, commitment, signal) => node.requestPeerSignatures(verifier, commitment, signal),
    tokenWindow: () => node.tokenWindow(),
  };
}

function statusSourceOf(node: TorusNode): StatusSource {
  return {
    status: () => node.status(),
    counters: () => node.metrics,
    peerTraffic: () => node.p2p.stats,
  };
}

function outcomeOf(result: TxResult): AssignOutcome {
  if (result.code === "OK" && result.keyIndex !== undefined && result.publicKey)
    return { code: "OK", keyIndex: result.keyIndex, publicKey: result.publicKey };
  if (result.code === "NO_FREE_KEY" || result.code === "FROZEN") return result;
  return { code: "FAILED" };
}

/** The client stops waiting when `signal` aborts; the transaction itself goes on (a retry finds its result). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
