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
  const { epoch, bft } = node;
  const { app } = bft;
  const queries = node.appQueries;
  const nodeKeys = epoch.nodes.map((n) => pointFromCoordinates(n.pubKx, n.pubKy, `node ${n.index}`));
  return {
    self: { index: node.self, publicKey: node.publicKey },
    epoch: { number: epoch.epoch, n: epoch.n, t: epoch.t, nodeKeys },
    deployment: node.deployment,
    refusing: () => node.serving.refusing,
    handingOverTo: () => app.frozen?.nextEpoch,
    freeKeys: () => app.freeKeys,
    lookup: (verifier, verifierId) => queries.lookup(verifier, verifierId),
    assign: (verifier, verifierId, signal, source) =>
      bft.submit(assignTx(verifier, verifierId), signal, source).then(outcomeOf),
    keyByPublicKey: (publicKey) => queries.keyByPublicKey(publicKey),
    keyShare: async (keyIndex) => {
      const key = await node.findKey(keyIndex);
      return key && BigInt("0x" + key.share);
    },
    commitments: node.commitments,
    sign: (data) => node.sign(data),
    peerSignatures: (verifier, commitment, signal) => node.peerSignatures.request(verifier, commitment, signal),
    tokenWindow: () => node.serving.tokenWindow(),
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
