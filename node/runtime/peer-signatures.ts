/**
 * Signatures peers already issued on a commitment, for a ShareRequest that carried too few: this node asks every peer
 * of its epoch and collects the answers; it answers peers' requests from its own commit–reveal records. Answering
 * never signs anything new, and a peer always answers (empty when it has nothing), so a request resolves as soon as
 * the last peer answered instead of at its timeout.
 *
 * Must never sign, and never hold a request after it resolved or its signal aborted.
 */
import type { CommitmentStore } from "../auth/commitments.ts";
import type { PeerSignature } from "../api/service.ts";
import type { NodeIndex } from "./node-index.ts";
import type { NodeMetrics } from "./node-metrics.ts";
import type { PeerRouter, SignatureAnswer } from "./peer-router.ts";

interface OpenRequest {
  responded: Set<NodeIndex>;
  signatures: PeerSignature[];
  /** Resolves the request once every peer answered. */
  done(): void;
}

export class PeerSignatures {
  readonly #open = new Map<number, OpenRequest>();
  #nextId = 1;

  constructor(
    private readonly peers: number,
    private readonly commitments: CommitmentStore,
    private readonly router: PeerRouter,
    private readonly metrics: NodeMetrics,
  ) {}

  /** Asks every peer for the signature it issued on (verifier, commitment); waits for all of them or `signal`. */
  async request(verifier: string, commitment: string, signal: AbortSignal): Promise<PeerSignature[]> {
    const id = this.#nextId++;
    this.metrics.signatureFetches++;
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    const request: OpenRequest = { responded: new Set(), signatures: [], done: resolve };
    this.#open.set(id, request);
    signal.addEventListener("abort", resolve, { once: true });
    try {
      this.router.broadcast({ ch: "sigReq", id, verifier, commitment });
      if (!signal.aborted && this.peers > 0) await promise;
      return request.signatures;
    } finally {
      signal.removeEventListener("abort", resolve);
      this.#open.delete(id);
    }
  }

  /**
   * A peer's request: only a signature this node already issued is returned (always answered, maybe empty; empty too
   * when the records cannot be read).
   */
  async answer(from: NodeIndex, request: { id: number; verifier: string; commitment: string }): Promise<void> {
    const record = await this.commitments.commitment(request.commitment).catch(() => undefined);
    const found = record && record.verifier === request.verifier;
    this.router.send(from, {
      ch: "sigRes",
      id: request.id,
      data: found ? record.data : "",
      signature: found ? record.signature : "",
    });
  }

  /** A peer's answer: counted once per peer; the request resolves when the last peer answered. */
  onAnswer(from: NodeIndex, { id, data, signature }: SignatureAnswer): void {
    const request = this.#open.get(id);
    if (!request || request.responded.has(from)) return;
    request.responded.add(from);
    if (signature !== "") request.signatures.push({ node: from, data, signature });
    if (request.responded.size >= this.peers) request.done();
  }
}
