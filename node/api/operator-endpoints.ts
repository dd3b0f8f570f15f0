/**
 * The operator endpoints: `GET /healthz` (503 with the reason while the node refuses clients), `GET /status` (JSON)
 * and `GET /metrics` (Prometheus text). They only read the status source; they never change the node.
 */
import type { FastifyInstance } from "fastify";

import type { StatusSource } from "./node-status.ts";

export function mountOperatorEndpoints(app: FastifyInstance, source: StatusSource): void {
  app.get("/healthz", async (_request, reply) => {
    const status = source.status();
    const ok = status.refusing === undefined;
    return reply
      .code(ok ? 200 : 503)
      .send({ ok, epoch: status.epoch, height: status.bft.height, refusing: status.refusing });
  });

  app.get("/status", () => Promise.resolve(source.status()));

  app.get("/metrics", async (_request, reply) => reply.type("text/plain; version=0.0.4").send(prometheusText(source)));
}

function prometheusText(source: StatusSource): string {
  const s = source.status();
  const m = source.counters();
  const p2p = source.peerTraffic();
  const lines = [
    ["torus_peers_connected", "gauge", "peers with an open stream", s.peersConnected],
    ["torus_bft_height", "gauge", "height the BFT network is deciding", s.bft.height],
    ["torus_bft_blocks_total", "counter", "blocks decided since start", m.blocks],
    ["torus_keys_published", "gauge", "generated keys in the pool", s.keys.published],
    ["torus_keys_assigned", "gauge", "keys assigned to users", s.keys.assigned],
    ["torus_keys_free", "gauge", "generated keys not yet assigned (the buffer)", s.keys.free],
    ["torus_keygen_batches_total", "counter", "key-generation batches this node finished", s.keys.generatedBatches],
    ["torus_transactions_submitted_total", "counter", "transactions submitted through this node", m.txSubmitted],
    [
      "torus_peer_signature_fetches_total",
      "counter",
      "ShareRequests that asked peers for missing signatures",
      m.signatureFetches,
    ],
    ["torus_peer_messages_rejected_total", "counter", "peer messages the cores refused", m.bftRejected + m.dkgRejected],
    ["torus_p2p_frames_in_total", "counter", "frames received", p2p.framesIn],
    ["torus_p2p_frames_out_total", "counter", "frames sent", p2p.framesOut],
    ["torus_p2p_dropped_total", "counter", "frames dropped from full peer queues", p2p.dropped],
    ["torus_p2p_rejected_peers_total", "counter", "connections refused: not in the node list", p2p.rejectedPeers],
    [
      "torus_p2p_malformed_frames_total",
      "counter",
      "peers dropped for oversized or malformed frames",
      p2p.malformedFrames,
    ],
  ] as const;
  const text = lines.map(
    ([name, type, help, value]) => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}`,
  );
  // An info metric (value 1) whose label names the backend, the Prometheus way to expose a string.
  text.push(
    "# HELP torus_crypto_backend_info the curve backend of this node process\n# TYPE torus_crypto_backend_info gauge\n" +
      `torus_crypto_backend_info{backend="${s.cryptoBackend}"} 1`,
  );
  return text.join("\n") + "\n";
}
