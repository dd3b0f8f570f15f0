/**
 * The operator endpoints: `GET /healthz` (503 with the reason while the node refuses clients), `GET /status` (JSON)
 * and `GET /metrics` (Prometheus text). They only read the status source; they never change the node.
 */
import type { FastifyInstance } from "fastify";

import { DrainMeter } from "./drain.ts";
import type { NodeStatus, StatusSource } from "./node-status.ts";

/** /status as the node reports it, plus how fast the free-key buffer drains (drain.ts). */
export type StatusJson = NodeStatus & {
  keys: NodeStatus["keys"] & { assignedPerMinute: number; minutesUntilEmpty: number | null };
};

export function mountOperatorEndpoints(
  app: FastifyInstance,
  source: StatusSource,
  drain: DrainMeter = new DrainMeter(),
): void {
  // Sampled on a timer too, so that the rate does not depend on how often someone reads it.
  const timer = setInterval(() => drain.sample(source.status().keys.assigned), drain.stepMs);
  timer.unref();
  app.addHook("onClose", (_instance, done) => {
    clearInterval(timer);
    done();
  });
  const statusJson = (): StatusJson => {
    const status = source.status();
    drain.sample(status.keys.assigned);
    const assignedPerMinute = drain.perMinute();
    const minutesUntilEmpty = assignedPerMinute > 0 ? Math.floor(status.keys.free / assignedPerMinute) : null;
    return { ...status, keys: { ...status.keys, assignedPerMinute, minutesUntilEmpty } };
  };

  app.get("/healthz", async (_request, reply) => {
    const status = source.status();
    const ok = status.refusing === undefined;
    return reply
      .code(ok ? 200 : 503)
      .send({ ok, epoch: status.epoch, height: status.bft.height, refusing: status.refusing });
  });

  app.get("/status", () => Promise.resolve(statusJson()));

  app.get("/metrics", async (_request, reply) =>
    reply.type("text/plain; version=0.0.4").send(prometheusText(source, statusJson())),
  );
}

function prometheusText(source: StatusSource, s: StatusJson): string {
  const m = source.counters();
  const p2p = source.peerTraffic();
  const lines = [
    ["torus_peers_connected", "gauge", "peers with an open stream", s.peersConnected],
    ["torus_bft_height", "gauge", "height the BFT network is deciding", s.bft.height],
    ["torus_bft_blocks_total", "counter", "blocks decided since start", m.blocks],
    ["torus_keys_published", "gauge", "generated keys in the pool", s.keys.published],
    ["torus_keys_assigned", "gauge", "keys assigned to users", s.keys.assigned],
    ["torus_keys_free", "gauge", "generated keys not yet assigned (the buffer)", s.keys.free],
    [
      "torus_keys_assigned_per_minute",
      "gauge",
      "keys assigned per minute over the last minutes (how fast the buffer drains)",
      s.keys.assignedPerMinute,
    ],
    ["torus_keygen_batches_total", "counter", "key-generation batches this node finished", s.keys.generatedBatches],
    ["torus_transactions_submitted_total", "counter", "transactions submitted through this node", m.txSubmitted],
    [
      "torus_peer_signature_fetches_total",
      "counter",
      "ShareRequests that asked peers for missing signatures",
      m.signatureFetches,
    ],
    ["torus_peer_messages_rejected_total", "counter", "peer messages the cores refused", m.bftRejected + m.dkgRejected],
    ["torus_p2p_frames_in_total", "counter", "frames received and handed to the node", p2p.framesIn],
    ["torus_p2p_frames_out_total", "counter", "frames sent", p2p.framesOut],
    ["torus_p2p_dropped_total", "counter", "frames dropped from full peer queues", p2p.dropped],
    [
      "torus_p2p_inbound_dropped_total",
      "counter",
      "received frames dropped because their sender's inbound queue was full",
      p2p.inboundDropped,
    ],
    ["torus_p2p_rejected_peers_total", "counter", "connections refused: not in the node list", p2p.rejectedPeers],
    [
      "torus_p2p_malformed_frames_total",
      "counter",
      "peers dropped for oversized or malformed frames",
      p2p.malformedFrames,
    ],
    ["torus_check_workers", "gauge", "threads that check peers' sharings (crypto.workers)", s.checkWorkers],
    [
      "torus_check_jobs_main_thread_total",
      "counter",
      "check-pool jobs the event loop's thread ran while every worker was busy",
      s.checkJobsOnMainThread,
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
