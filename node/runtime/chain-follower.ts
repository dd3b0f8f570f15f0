/**
 * Follows this node's epoch on-chain: every few polling intervals it reads what epoch-lifecycle.ts needs (the epoch's
 * state, the transition attempt, the handover's status), logs a state change, and carries out the actions the
 * lifecycle returns. A chain outage only delays this (calls are retried); a contract that is gone means the chain was
 * reset, which is fatal.
 *
 * Must never decide anything itself (the lifecycle does), and never run two polls at once.
 */
import type { Logger } from "pino";

import { epochStateName, pssStatusName } from "../chain/epoch-state.ts";
import { ChainResetError, type EpochView, type Registry } from "../chain/registry.ts";
import { readEpochClock } from "./epoch-clock.ts";
import { epochLifecycle, type LifecycleAction, type LifecycleView } from "./epoch-lifecycle.ts";
import type { HandoverDriver } from "./handover-driver.ts";
import type { SerialExecutor } from "./serial-executor.ts";
import type { ServingState } from "./serving-state.ts";

export interface ChainFollowerParts {
  registry: Registry;
  epoch: EpochView;
  successor: { from: EpochView; attempt: number } | undefined;
  frozen(): { nextEpoch: number; attempt: number } | undefined;
  serving: ServingState;
  handover: HandoverDriver;
  executor: SerialExecutor;
  pollMs: number;
  log: Logger;
  /** The chain was reset: the node must stop. */
  onFatal(error: Error): void;
  /** This successor node's transition attempt ended: stop it and erase what it received. */
  abandonAttempt(): Promise<void>;
  /** The handover out of this epoch completed: stop serving and erase the epoch's secrets. */
  retire(): Promise<void>;
}

export class ChainFollower {
  #last: string;
  #busy = false;

  constructor(private readonly parts: ChainFollowerParts) {
    this.#last = parts.epoch.state;
  }

  start(): void {
    this.parts.executor.every(this.parts.pollMs, () => {
      if (this.#busy) return;
      this.#busy = true;
      this.#poll()
        .catch((error: unknown) => {
          if (error instanceof ChainResetError) {
            this.parts.log.fatal(error.message);
            this.parts.onFatal(error);
          }
        })
        .finally(() => (this.#busy = false));
    });
  }

  async #poll(): Promise<void> {
    const view = await this.#read();
    for (const action of epochLifecycle(view)) await this.#carryOut(action);
  }

  /** Reads the chain state the lifecycle needs; the optional reads only when a rule depends on them. */
  async #read(): Promise<LifecycleView> {
    const { registry, epoch, successor, serving, log } = this.parts;
    const { status, blockTime } = await readEpochClock(registry, epoch.epoch);
    const state = epochStateName(status.state);
    if (state !== this.#last) log.info({ epoch: epoch.epoch, from: this.#last, to: state }, "epoch state changed");
    this.#last = state;
    // While a transition is open, this epoch serves tokens issued before the newest block time it saw: the time of the
    // block its status was read at (epoch-clock.ts).
    const newestBlockTime = state === "Transitioning" ? blockTime : 0;
    serving.chainState = { state, activatedAt: Number(status.activatedAt), newestBlockTime };
    const frozen = this.parts.frozen();
    let next: LifecycleView["next"];
    if (state === "Transitioning") {
      const nextEpoch = frozen ? frozen.nextEpoch : (await registry.readEpoch(epoch.epoch)).nextEpoch;
      const attempt =
        nextEpoch === 0
          ? 0
          : Number((await registry.call("getEpochStatus", (c) => c.getEpochStatus(nextEpoch))).transitionAttempt);
      next = { epoch: nextEpoch, attempt };
    }
    let successorAttemptEnded = false;
    if (successor && !serving.serving) {
      // Over without completing: governance aborted it, or started a newer one.
      successorAttemptEnded =
        Number(status.transitionAttempt) !== successor.attempt ||
        pssStatusName(await registry.call("getPssStatus", (c) => c.getPssStatus(successor.from.epoch, epoch.epoch))) ===
          "Aborted";
    }
    return { state, serving: serving.serving, frozen, next, successorAttemptEnded };
  }

  async #carryOut(action: LifecycleAction): Promise<void> {
    const { executor, serving, handover } = this.parts;
    switch (action.type) {
      case "serve":
        return executor.run(() => serving.start());
      case "thaw":
        return handover.voteThaw();
      case "abandonAttempt":
        return this.parts.abandonAttempt();
      case "freeze":
        return handover.voteFreeze(action.nextEpoch, action.attempt);
      case "deal":
        return executor.run(() => handover.startDealing());
      case "retire":
        return this.parts.retire();
    }
  }
}
