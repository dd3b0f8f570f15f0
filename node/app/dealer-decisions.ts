/**
 * Dealer-set decisions the app orders: which dealers count for each key-generation batch (dkg/decision.ts) and, in a
 * successor epoch, which old dealers count for each handover chunk (pss/decision.ts). Every decision carries its
 * proofs (readies signed by k + t, or k_new + t_new, nodes), so the first valid one of a slot is the one every replica
 * agrees on; a later one for a decided slot is answered "already decided" and changes nothing.
 *
 * Owns: the first valid decision of each batch, and of each chunk.
 * Must never: decide a batch while frozen for a handover (no new batches) or before a successor epoch installed its
 * moved keys, or replace a decision.
 */
import { decisionProblem } from "../dkg/decision.ts";
import type { DealerDecision } from "../dkg/types.ts";
import { reshareDecisionProblem } from "../pss/decision.ts";
import type { ReshareDecision, Thresholds } from "../pss/types.ts";
import type { AppState } from "./app-state.ts";
import { NOT_INSTALLED, NO_HANDOVER, type AppPhase } from "./phase.ts";
import type { StateTable } from "./state-table.ts";
import type { Validators } from "./validator-votes.ts";

export const ALREADY_DECIDED = "already decided";

type Handover = { transition: number; old: Thresholds; new: Thresholds };

/** The first valid decision of each slot (a batch or a chunk). */
abstract class FirstDecisions<D> {
  constructor(protected readonly decided: StateTable<D>) {}

  protected abstract slot(decision: D): number;

  /** Why `decision` is not the slot's decision: `ALREADY_DECIDED` when the slot has one, or undefined. */
  abstract problem(decision: D): string | undefined;

  /** Orders `decision` if it is valid and the first of its slot; else says why not, changing nothing. */
  decide(decision: D): string | undefined {
    const problem = this.problem(decision);
    if (problem === undefined) {
      this.decided.set(this.slot(decision), decision);
      this.onDecided(this.slot(decision));
    }
    return problem;
  }

  protected onDecided(_slot: number): void {}

  decisionFor(slot: number): D | undefined {
    return this.decided.get(slot);
  }
}

export class KeygenDecisions extends FirstDecisions<DealerDecision> {
  readonly #validators: Validators;
  readonly #params: { epoch?: number; k?: number; t?: number };
  readonly #phase: AppPhase;
  readonly #state: AppState;

  constructor(
    validators: Validators,
    params: { epoch?: number; k?: number; t?: number },
    phase: AppPhase,
    state: AppState,
  ) {
    super(state.dkgDecisions);
    this.#state = state;
    this.#validators = validators;
    this.#params = params;
    this.#phase = phase;
  }

  protected slot(decision: DealerDecision): number {
    return decision.batch;
  }

  problem(decision: DealerDecision): string | undefined {
    const { epoch, k, t } = this.#params;
    if (epoch === undefined || k === undefined || t === undefined) return "this app takes no key-generation decisions";
    if (decision.epoch !== epoch) return `decision of epoch ${decision.epoch}`;
    if (this.decided.has(decision.batch)) return ALREADY_DECIDED;
    if (this.#phase.frozen) return "frozen for the handover: no new batches";
    if (!this.#phase.installed) return NOT_INSTALLED;
    // Ready signers are nodes 1..n; validator i − 1 is node i.
    return decisionProblem(decision, { k, t }, this.#validators.chainId, (node, bytes, sig) =>
      this.#validators.signed(node - 1, bytes, sig),
    );
  }

  /** Every decision ordered so far, by batch (a state held in memory only: see app-state.ts). */
  all(): DealerDecision[] {
    return [...this.decided.entries()]
      .flatMap(([batch, d]) => (d ? [[batch as number, d] as const] : []))
      .sort(([a], [b]) => a - b)
      .map(([, d]) => d);
  }

  protected override onDecided(batch: number): void {
    if (batch >= this.batchesSpanned) this.#state.scalars.batchesSpanned.set(batch + 1);
  }

  /** One past the highest decided batch (0 before any): the handover skips the indexes of every decided batch. */
  get batchesSpanned(): number {
    return this.#state.scalars.batchesSpanned.get();
  }
}

export class ReshareDecisions extends FirstDecisions<ReshareDecision> {
  readonly #validators: Validators;
  readonly #handover: Handover | undefined;

  constructor(validators: Validators, handover: Handover | undefined, state: AppState) {
    super(state.reshareDecisions);
    this.#validators = validators;
    this.#handover = handover;
  }

  protected slot(decision: ReshareDecision): number {
    return decision.chunk;
  }

  problem(decision: ReshareDecision): string | undefined {
    const handover = this.#handover;
    if (!handover) return NO_HANDOVER;
    if (decision.transition !== handover.transition) return `decision of transition ${decision.transition}`;
    if (this.decided.has(decision.chunk)) return ALREADY_DECIDED;
    // Ready signers are new nodes 1..n; validator i − 1 is node i.
    return reshareDecisionProblem(decision, handover.old, handover.new, this.#validators.chainId, (node, bytes, sig) =>
      this.#validators.signed(node - 1, bytes, sig),
    );
  }
}
