import { expect } from "chai";

import { EPOCH_STATES } from "../../node/chain/epoch-state.ts";
import { epochLifecycle, type LifecycleAction, type LifecycleView } from "../../node/runtime/epoch-lifecycle.ts";

const base: LifecycleView = {
  state: "Current",
  serving: true,
  frozen: undefined,
  next: undefined,
  successorAttemptEnded: false,
};
const view = (over: Partial<LifecycleView>): LifecycleView => ({ ...base, ...over });
const types = (actions: LifecycleAction[]) => actions.map((a) => a.type);

/** Every state, transition and frozen combination, with the actions the node takes, in order. */
const table: [string, Partial<LifecycleView>, LifecycleAction[]][] = [
  // The epoch is not (yet, or any more) running: nothing to do.
  ["None: nothing", { state: "None", serving: false }, []],
  ["Registering: nothing", { state: "Registering", serving: false }, []],
  ["Ready: nothing", { state: "Ready", serving: false }, []],
  ["Cancelled: nothing", { state: "Cancelled", serving: false }, []],
  ["an unknown state: nothing", { state: "Unknown(9)", serving: false }, []],
  // Current.
  ["Current, not serving yet: serve", { state: "Current", serving: false }, [{ type: "serve" }]],
  ["Current, serving: nothing", { state: "Current" }, []],
  [
    "Current, frozen (the attempt was aborted): thaw",
    { state: "Current", frozen: { nextEpoch: 2, attempt: 1 } },
    [{ type: "thaw" }],
  ],
  [
    "Current, not serving and frozen: serve, then thaw",
    { state: "Current", serving: false, frozen: { nextEpoch: 2, attempt: 1 } },
    [{ type: "serve" }, { type: "thaw" }],
  ],
  // Transitioning.
  [
    "Transitioning, not frozen: vote to freeze for the attempt the chain runs",
    { state: "Transitioning", next: { epoch: 2, attempt: 1 } },
    [{ type: "freeze", nextEpoch: 2, attempt: 1 }],
  ],
  [
    "Transitioning, not frozen, no next epoch yet: nothing",
    { state: "Transitioning", next: { epoch: 0, attempt: 0 } },
    [],
  ],
  [
    "Transitioning, frozen for the running attempt: deal",
    { state: "Transitioning", frozen: { nextEpoch: 2, attempt: 1 }, next: { epoch: 2, attempt: 1 } },
    [{ type: "deal" }],
  ],
  [
    "Transitioning, frozen for an older attempt (a retry started): thaw, no dealing",
    { state: "Transitioning", frozen: { nextEpoch: 2, attempt: 1 }, next: { epoch: 2, attempt: 2 } },
    [{ type: "thaw" }],
  ],
  [
    "Transitioning, not serving yet: serve, then vote to freeze",
    { state: "Transitioning", serving: false, next: { epoch: 3, attempt: 1 } },
    [{ type: "serve" }, { type: "freeze", nextEpoch: 3, attempt: 1 }],
  ],
  // Retired.
  ["Retired: erase the secrets", { state: "Retired" }, [{ type: "retire" }]],
  [
    "Retired while frozen: erase the secrets (no thaw: completion retires)",
    { state: "Retired", frozen: { nextEpoch: 2, attempt: 1 } },
    [{ type: "retire" }],
  ],
  // A successor epoch's node, taking over.
  ["successor waiting, attempt running, Ready: nothing", { state: "Ready", serving: false }, []],
  [
    "successor waiting, the chain completed the handover: serve",
    { state: "Current", serving: false },
    [{ type: "serve" }],
  ],
  [
    "successor waiting, attempt ended: abandon only",
    { state: "Ready", serving: false, successorAttemptEnded: true },
    [{ type: "abandonAttempt" }],
  ],
  [
    "successor waiting, attempt ended while the state reads Current: abandon only",
    { state: "Current", serving: false, successorAttemptEnded: true },
    [{ type: "abandonAttempt" }],
  ],
  [
    "a serving node ignores an ended attempt flag (it only applies before serving)",
    { state: "Current", serving: true, successorAttemptEnded: true },
    [],
  ],
];

describe("epoch lifecycle (pure: chain state → actions)", () => {
  for (const [name, over, expected] of table)
    it(name, () => {
      expect(epochLifecycle(view(over))).to.deep.equal(expected);
    });

  describe("over every state and combination", () => {
    const frozens = [undefined, { nextEpoch: 2, attempt: 1 }];
    const nexts = [undefined, { epoch: 0, attempt: 0 }, { epoch: 2, attempt: 1 }, { epoch: 2, attempt: 2 }];
    const all: LifecycleView[] = [];
    for (const state of [...EPOCH_STATES, "Unknown(9)" as const])
      for (const serving of [false, true])
        for (const frozen of frozens)
          for (const next of nexts)
            for (const successorAttemptEnded of [false, true])
              all.push({ state, serving, frozen, next, successorAttemptEnded });

    it("abandons alone, and only a node that does not serve yet", () => {
      for (const v of all) {
        const actions = types(epochLifecycle(v));
        if (actions.includes("abandonAttempt")) {
          expect(actions, JSON.stringify(v)).to.deep.equal(["abandonAttempt"]);
          expect(v.serving).to.equal(false);
        }
      }
    });

    it("never thaws and deals at once, and deals only for the attempt the chain runs", () => {
      for (const v of all) {
        const actions = types(epochLifecycle(v));
        expect(actions.includes("thaw") && actions.includes("deal"), JSON.stringify(v)).to.equal(false);
        if (actions.includes("deal")) {
          expect(v.state).to.equal("Transitioning");
          expect(v.next?.attempt).to.equal(v.frozen?.attempt);
        }
      }
    });

    it("votes to freeze only a state that is not frozen, for a real next epoch", () => {
      for (const v of all)
        for (const action of epochLifecycle(v))
          if (action.type === "freeze") {
            expect(v.frozen).to.equal(undefined);
            expect(action.nextEpoch).to.not.equal(0);
          }
    });

    it("serves only a Current or Transitioning epoch, once, and retires only a Retired one", () => {
      for (const v of all) {
        const actions = types(epochLifecycle(v));
        if (actions.includes("serve")) {
          expect(["Current", "Transitioning"]).to.include(v.state);
          expect(v.serving).to.equal(false);
        }
        expect(actions.includes("retire")).to.equal(v.state === "Retired" && !(v.successorAttemptEnded && !v.serving));
      }
    });

    it("does nothing in an epoch that does not run", () => {
      for (const v of all)
        if (["None", "Registering", "Ready", "Cancelled", "Unknown(9)"].includes(v.state))
          expect(types(epochLifecycle(v)).filter((t) => t !== "abandonAttempt")).to.deep.equal([]);
    });
  });
});
