/**
 * Whether this node serves clients, and what it serves: it starts serving at once in a genesis epoch, and in a
 * successor epoch once the chain completed the handover and every moved chunk is installed (and then tells the
 * handover, whose records can go); it says why it refuses when it does not; and it holds the window of token issue
 * times it serves, from the chain state last read.
 *
 * Must never serve a client of a retired epoch or of a successor whose handover is incomplete.
 */
import type { Logger } from "pino";

import type { KeyMappingApp } from "../app/key-mapping-app.ts";
import type { EpochWindow } from "../auth/verifier.ts";
import type { EpochView } from "../chain/registry.ts";
import type { HandoverDriver } from "./handover-driver.ts";
import type { KeygenDriver } from "./keygen-driver.ts";

export interface ServingParts {
  epoch: EpochView;
  successor: { from: EpochView; attempt: number } | undefined;
  app: KeyMappingApp;
  keygen: KeygenDriver;
  handover: Pick<HandoverDriver, "handoverCompleted">;
  /** Seconds of clock skew allowed on either side of the epoch's token window. */
  clockSkewSeconds: number;
  retired(): boolean;
  /** Why the verifier list keeps this node from serving (verifier-agreement.ts), if it does. */
  verifierRefusal(): string | undefined;
  /** Why the node's storage cannot be used now (its PostgreSQL database is out of reach), if it cannot. */
  storageRefusal?(): string | undefined;
  stopped(): boolean;
  log: Logger;
}

export class ServingState {
  #serving = false;
  /** What the chain said last of this node's epoch (chain-follower.ts). */
  chainState: { state: string; activatedAt: number; newestBlockTime: number } | undefined;

  constructor(private readonly parts: ServingParts) {}

  get serving(): boolean {
    return this.#serving;
  }

  /** The epoch this one takes over from, while the handover runs (this node then serves no client yet). */
  get handover(): { from: EpochView; attempt: number } | undefined {
    return this.#serving ? undefined : this.parts.successor;
  }

  /**
   * Starts serving when it may (see the header); key generation then starts, from the moved next key index in a
   * successor epoch. Called at start, on each chain poll and after each decided block (the last chunk may have moved).
   */
  async start(): Promise<void> {
    const { successor, app, epoch, keygen, log } = this.parts;
    if (this.#serving || this.parts.stopped()) return;
    if (successor) {
      const state = this.chainState?.state;
      if ((state !== "Current" && state !== "Transitioning") || !app.installed) return;
    }
    this.#serving = true;
    await keygen.start();
    if (!successor) return;
    log.info(
      { epoch: epoch.epoch, keys: app.publishedKeys, firstKeyIndex: app.firstKeyIndex },
      "the handover completed: this epoch serves",
    );
    await this.parts.handover.handoverCompleted();
  }

  /**
   * Why this node serves no client, if it does not: a retired epoch, an unreachable database, another verifier list,
   * or a handover.
   */
  get refusing(): string | undefined {
    const { epoch } = this.parts.epoch;
    if (this.parts.retired())
      return `epoch ${epoch} has ended and erased its key shares: the next epoch serves (see the NodeList)`;
    const storageRefusal = this.parts.storageRefusal?.();
    if (storageRefusal) return storageRefusal;
    const verifierRefusal = this.parts.verifierRefusal();
    if (verifierRefusal) return verifierRefusal;
    if (this.handover)
      return `epoch ${epoch} is taking over from epoch ${this.handover.from.epoch}: the handover is in progress`;
    if (!this.#serving) return `epoch ${epoch} is starting`;
    return undefined;
  }

  /**
   * The window of token issue times this node serves: a successor epoch only tokens issued after the handover's
   * completion (its activation block) plus the skew; an epoch handing over only tokens issued before the newest block
   * time it saw plus the skew. So a token is served by one epoch only.
   */
  tokenWindow(): EpochWindow {
    const skew = this.parts.clockSkewSeconds;
    const chain = this.chainState;
    const window: EpochWindow = {};
    if (this.parts.successor && chain) window.issuedAfter = chain.activatedAt + skew;
    if (chain?.state === "Transitioning" && chain.newestBlockTime > 0)
      window.issuedBefore = chain.newestBlockTime + skew;
    return window;
  }
}
