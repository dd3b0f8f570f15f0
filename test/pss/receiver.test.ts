import { expect } from "chai";
import fc from "fast-check";

import { ReshareReceiver, type ReceiverInput, type ReceiverOutput } from "../../node/pss/receiver.ts";
import type { Party } from "../../node/pss/types.ts";
import { MalformedPssMessage, parsePssMessage, parseReshareDecision } from "../../node/pss/wire.ts";
import { PssCluster, thresholds } from "../sim/pss-cluster.ts";
import { Prng, envCount } from "../support/prng.ts";

/**
 * An honest handover n5 → n7 on a calm network, in which old node 5 and new node 7 never send anything: every input
 * new node 1's receiving core took, in order. Those two can then send garbage in a replay without touching what any
 * honest party said.
 */
function recordHonestRun() {
  const cluster = new PssCluster({
    old: thresholds(5),
    next: thresholds(7),
    prng: new Prng(3),
    keys: 6,
    chunkSize: 4,
    silent: new Set([5]),
  });
  cluster.start();
  cluster.newNodes[6]!.crash();
  const inputs: ReceiverInput[] = [];
  const core = cluster.newNodes[0]!.core;
  const step = core.step.bind(core);
  core.step = (input) => {
    inputs.push(JSON.parse(JSON.stringify(input)) as ReceiverInput);
    return step(input);
  };
  cluster.run();
  if (!cluster.newNodes[0]!.done) throw new Error("the honest run did not finish");
  return { cluster, inputs };
}

const { cluster, inputs } = recordHonestRun();
const byzantine: Party[] = [
  { role: "old", index: 5 },
  { role: "new", index: 7 },
];
/** Senders the transport would never report (itself, out of range): the core must still take no harm from them. */
const impossible: Party[] = [
  { role: "new", index: 1 },
  { role: "new", index: 0 },
  { role: "old", index: 6 },
  { role: "new", index: 1.5 },
];

/** New node 1's core as the cluster booted it; its outputs that matter: the new shares and the end. */
function replay(all: readonly ReceiverInput[]): { results: ReceiverOutput[]; rejected: number } {
  const receiver = new ReshareReceiver({
    transition: cluster.transition,
    old: cluster.old,
    new: cluster.next,
    self: 1,
    chunkSize: cluster.chunkSize,
    resendMs: 2000,
    signingDomain: cluster.signingDomain,
    signer: cluster.signers[0]!,
    rng: cluster.rngFor(1, 1),
  });
  const results: ReceiverOutput[] = [];
  let rejected = 0;
  for (const output of [...receiver.start(), ...all.flatMap((input) => receiver.step(input))]) {
    if (output.type === "keys" || output.type === "done") results.push(output);
    if (output.type === "rejected") rejected++;
  }
  return { results, rejected };
}

const honest = replay(inputs);

/** One field of a message the honest run carried, broken in one of the ways a parser must survive. */
const broken = fc
  .tuple(
    fc.constantFrom(...inputs.flatMap((input) => (input.type === "message" ? [input.message] : []))),
    fc.nat(),
    fc.constantFrom<unknown>(null, -1, 0, 2 ** 60, "", "zz", "0".repeat(64), "04" + "0".repeat(128), [], {}, [[[]]]),
  )
  .map(([message, pick, value]) => {
    const copy = JSON.parse(JSON.stringify(message)) as Record<string, unknown>;
    const fields = Object.keys(copy);
    copy[fields[pick % fields.length]!] = value;
    return copy;
  });
/** What a Byzantine party sends: another party's real message as its own, a broken one, or anything at all. */
const garbage = fc.record({
  // Where in the honest run it lands, often early: before the records, sends and first echoes.
  at: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 0.05, noNaN: true })),
  from: fc.constantFrom(...byzantine, ...impossible),
  message: fc.oneof(
    fc.constantFrom(...inputs.flatMap((input) => (input.type === "message" ? [input.message] : []))),
    broken,
    fc.anything(),
  ),
});

describe("the handover's receiving side, against Byzantine peers' garbage", function () {
  this.timeout(120_000);

  it("replays deterministically: the same inputs give the same new shares", function () {
    expect(honest.results.map((r) => r.type)).to.deep.equal(["keys", "keys", "done"]);
    expect(honest.rejected).to.equal(0);
    expect(replay(inputs).results).to.deep.equal(honest.results);
  });

  it("never throws on what a Byzantine old or new node sends, and ends with the same new shares", function () {
    fc.assert(
      fc.property(fc.array(garbage, { minLength: 1, maxLength: 40 }), (sent) => {
        const all = [...inputs];
        for (const { at, from, message } of [...sent].sort((a, b) => b.at - a.at))
          all.splice(Math.floor(at * all.length), 0, { type: "message", from, message });
        expect(replay(all).results).to.deep.equal(honest.results);
      }),
      { numRuns: Math.max(10, Math.floor(envCount("PROPERTY_RUNS", 100) / 4)), seed: envCount("PROPERTY_SEED", 9) },
    );
  });

  it("keeps honest messages that arrive before a chunk's records however much a Byzantine node sends first", function () {
    // Valid-looking echoes for every chunk from new node 7, before anything else: they wait with the honest ones
    // until the chunk's records are taken, and must not push the honest ones out.
    const echo = inputs.find(
      (input) => input.type === "message" && (input.message as { type?: string }).type === "echo",
    ) as ReceiverInput & { type: "message" };
    const flood: ReceiverInput[] = Array.from({ length: 2_000 }, (_, i) => ({
      type: "message",
      from: { role: "new", index: 7 },
      message: {
        ...(echo.message as object),
        chunk: i % 2,
        dealer: 1 + (i % 4),
        hash: (i + 1).toString(16).padStart(64, "0"),
      },
    }));
    const { results } = replay([...flood, ...inputs]);
    expect(results).to.deep.equal(honest.results);
  });

  it("names the handover in its parse errors, and says what is wrong", function () {
    const shape = { nOld: 5, nNew: 7, kNew: 4, chunkSize: 4 };
    const echo = inputs.find(
      (input) => input.type === "message" && (input.message as { type?: string }).type === "echo",
    ) as ReceiverInput & { type: "message" };
    expect(() => parsePssMessage({ ...(echo.message as object), chunk: -1 }, shape))
      .to.throw(MalformedPssMessage, "chunk must be an integer")
      .with.property("name", "MalformedPssMessage");
    expect(() => parseReshareDecision({ type: "dealers" }, shape)).to.throw(
      MalformedPssMessage,
      "decision is not a reshare decision",
    );
  });

  it("refuses a decision a Byzantine party forged, and keeps the ordered one", function () {
    const decision = inputs.find((input) => input.type === "decided")!;
    const forged = JSON.parse(JSON.stringify(decision)) as { decision: { dealers: { hash: string }[] } };
    forged.decision.dealers[0]!.hash = "ab".repeat(32);
    const position = inputs.indexOf(decision);
    const all = [...inputs.slice(0, position), forged as ReceiverInput, ...inputs.slice(position)];
    const { results, rejected } = replay(all);
    expect(rejected).to.equal(1);
    expect(results).to.deep.equal(honest.results);
  });
});
