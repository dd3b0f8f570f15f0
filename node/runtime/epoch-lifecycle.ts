/**
 * What a node does about its epoch's state on-chain, as a pure function: from what the chain and the node's own state
 * say now to the list of actions to take, in order. The chain follower (chain-follower.ts) reads the view and carries
 * the actions out; this file holds the rules, so that a table test can check every state and transition.
 *
 * Must never read the chain, the clock or the disk, nor carry anything out.
 */
import type { EpochStateName } from "../chain/epoch-state.ts";

export interface LifecycleView {
  /** The epoch's state on-chain (an unknown value acts like a state with no action). */
  state: EpochStateName | `Unknown(${string})`;
  /** Whether this node serves clients already. */
  serving: boolean;
  /** Set while this epoch's replicated state is frozen for the handover to `nextEpoch` in `attempt`. */
  frozen: { nextEpoch: number; attempt: number } | undefined;
  /**
   * While the epoch is transitioning: the next epoch and the transition attempt the chain runs into it now (the next
   * epoch of the frozen state when frozen, else the epoch's `nextEpoch`, 0 when there is none yet).
   */
  next: { epoch: number; attempt: number } | undefined;
  /** In a successor epoch that does not serve yet: whether its transition attempt ended without completing. */
  successorAttemptEnded: boolean;
}

export type LifecycleAction =
  /** Start serving (a successor's node checks that every moved chunk is installed, and waits if not). */
  | { type: "serve" }
  /** The attempt the state froze for ended: stop dealing and vote to thaw. */
  | { type: "thaw" }
  /** This successor node's attempt ended: stop, erase what it received, and wait for a retry. */
  | { type: "abandonAttempt" }
  /** The chain started the transition: vote to freeze the state for it. */
  | { type: "freeze"; nextEpoch: number; attempt: number }
  /** The state is frozen for the attempt the chain runs: deal every key to the next epoch's nodes. */
  | { type: "deal" }
  /** The handover completed: erase this epoch's secrets and serve no more. */
  | { type: "retire" };

export function epochLifecycle(view: LifecycleView): LifecycleAction[] {
  const { state, serving, frozen, next } = view;
  // A successor node whose attempt ended has nothing else to do: what it would serve or vote for belongs to the attempt.
  if (!serving && view.successorAttemptEnded) return [{ type: "abandonAttempt" }];
  const actions: LifecycleAction[] = [];
  const live = state === "Current" || state === "Transitioning";
  if (live && !serving) actions.push({ type: "serve" });
  // Frozen yet current again can only follow an abort (completion retires the epoch); while it transitions, only a
  // newer attempt on-chain says the frozen one ended.
  const frozenForRunningAttempt = state === "Transitioning" && frozen !== undefined && next?.attempt === frozen.attempt;
  if (live && frozen && !frozenForRunningAttempt) actions.push({ type: "thaw" });
  if (state === "Transitioning" && !frozen && next && next.epoch !== 0)
    actions.push({ type: "freeze", nextEpoch: next.epoch, attempt: next.attempt });
  if (frozenForRunningAttempt) actions.push({ type: "deal" });
  if (state === "Retired") actions.push({ type: "retire" });
  return actions;
}
