/**
 * Agreement on the verifier list: this node tells its peers the epoch and the hash of its verifier list until every
 * peer answered. Clients compare the nodes' answers byte for byte, so a node whose list differs from most of its
 * peers' refuses to serve (and says why); the majority keeps serving and logs which peer differs.
 *
 * Must never change the verifier list nor serve anything: it only says whether this node should refuse.
 */
import type { Logger } from "pino";

import type { NodeIndex } from "./node-index.ts";
import type { PeerRouter } from "./peer-router.ts";
import type { SerialExecutor } from "./serial-executor.ts";

/** How often this node repeats its hello until every peer answered. */
const HELLO_INTERVAL_MS = 2000;

export class VerifierAgreement {
  /** Each peer's verifier-list hash, by node index. */
  readonly #hashes = new Map<NodeIndex, string>();
  #refusal: string | undefined;

  constructor(
    private readonly epoch: { epoch: number; n: number },
    private readonly verifierHash: string,
    private readonly router: PeerRouter,
    private readonly log: Logger,
  ) {}

  /** Why this node must refuse to serve, if its list differs from most of its peers'. */
  get refusal(): string | undefined {
    return this.#refusal;
  }

  start(executor: SerialExecutor): void {
    this.#say();
    executor.every(HELLO_INTERVAL_MS, () => {
      if (this.#hashes.size >= this.epoch.n - 1) return "done";
      this.#say();
    });
  }

  onHello(from: NodeIndex, hello: { epoch: number; verifiers: string }): void {
    const first = !this.#hashes.has(from);
    this.#hashes.set(from, hello.verifiers);
    const differing = [...this.#hashes].filter(([, hash]) => hash !== this.verifierHash).map(([node]) => node);
    const agreeing = this.#hashes.size - differing.length + 1; // this node agrees with itself
    if (first && hello.verifiers !== this.verifierHash)
      this.log.warn({ peer: from }, "a peer has another verifier list");
    const refusing =
      differing.length >= agreeing
        ? `the verifier list differs from that of nodes ${differing.join(", ")} (${agreeing} of ${this.#hashes.size + 1} agree)`
        : undefined;
    if (refusing && !this.#refusal) this.log.error(`refusing to serve: ${refusing}`);
    this.#refusal = refusing;
    if (first) this.#say(); // answer, so that a peer that started later learns this node's hash too
  }

  #say(): void {
    this.router.broadcast({ ch: "hello", epoch: this.epoch.epoch, verifiers: this.verifierHash });
  }
}
