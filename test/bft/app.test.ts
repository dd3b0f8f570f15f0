import { expect } from "chai";

import { KeyMappingApp, MAX_OPEN_VOTES_PER_VALIDATOR } from "../../node/app/key-mapping-app.ts";
import type { Block } from "../../node/bft/types.ts";
import { freezeSignBytes } from "../../node/app/transactions.ts";
import { readySignBytes } from "../../node/dkg/wire.ts";
import { fastSchemes } from "../sim/fast-signer.ts";
import { assignTx, fakePublicKey, publishTx } from "./helpers.ts";

const CHAIN = "app-test";

describe("key-mapping app", function () {
  const n = 4;
  const schemes = fastSchemes(n, "app");
  let height = 0;
  const newApp = () =>
    new KeyMappingApp({ chainId: CHAIN, validators: n, verify: (v, m, s) => schemes[0]!.verify(v, m, s) });
  const block = (txs: string[]): Block => ({
    height: ++height,
    prevHash: "",
    lastAppHash: "",
    proposer: 0,
    txs,
    evidence: [],
  });
  const publish = (app: KeyMappingApp, start: number, count: number, voters = [0, 1, 2]) =>
    app.finalizeBlock(block(voters.map((v) => publishTx(CHAIN, schemes, v, start, count))));

  it("adds keys to the pool only on a quorum of identical signed publications", function () {
    const app = newApp();
    publish(app, 0, 5, [0, 1]);
    expect(app.publishedKeys).to.equal(0);
    publish(app, 0, 5, [2]);
    expect(app.publishedKeys).to.equal(5);
    expect(app.freeKeys).to.equal(5);
  });

  it("refuses a publication with a forged signature, from a validator outside the epoch, or twice", function () {
    const app = newApp();
    const forged = JSON.parse(publishTx(CHAIN, schemes, 1, 0, 2)) as { validator: number };
    forged.validator = 2; // signed by 1, claimed by 2
    expect(app.checkTx(JSON.stringify(forged))).to.deep.equal({ ok: false, detail: "bad signature" });
    expect(app.checkTx(publishTx(CHAIN, fastSchemes(9, "app"), 7, 0, 2)).ok).to.equal(false);
    publish(app, 0, 2, [0]);
    expect(app.checkTx(publishTx(CHAIN, schemes, 0, 0, 2))).to.deep.equal({
      ok: false,
      detail: "this validator already voted for it",
    });
  });

  it("caps the open publication votes of a validator, so that a Byzantine one cannot grow the state without bound", function () {
    const app = newApp();
    for (let batch = 0; batch < MAX_OPEN_VOTES_PER_VALIDATOR; batch++) publish(app, batch * 10, 1, [3]);
    expect(app.checkTx(publishTx(CHAIN, schemes, 3, 9999, 1))).to.deep.equal({
      ok: false,
      detail: "too many open publication votes",
    });
    publish(app, 0, 1, [0, 1]); // the first batch reaches its quorum: validator 3 has one open vote less
    expect(app.checkTx(publishTx(CHAIN, schemes, 3, 9999, 1))).to.deep.equal({ ok: true });
  });

  it("assigns keys in index order and is idempotent per user", function () {
    const app = newApp();
    publish(app, 0, 3);
    const { results } = app.finalizeBlock(
      block([assignTx("google", "a"), assignTx("google", "b"), assignTx("google", "a")]),
    );
    expect(results.map((r) => (r.code === "OK" ? r.keyIndex : r.code))).to.deep.equal([0, 1, 0]);
    expect(app.lookup("google", "a")).to.deep.equal({ keyIndex: 0, publicKey: fakePublicKey(0) });
    expect(app.keyByPublicKey(fakePublicKey(1))).to.deep.equal({
      keyIndex: 1,
      owner: { verifier: "google", verifierId: "b" },
    });
    expect(app.checkTx(assignTx("google", "a"))).to.deep.equal({ ok: false, detail: "already assigned" });
  });

  it("answers NO_FREE_KEY when the pool is empty, consumes nothing, and assigns once keys arrive", function () {
    const app = newApp();
    expect(app.checkTx(assignTx("google", "x"))).to.deep.equal({ ok: false, detail: "no free key" });
    const { results } = app.finalizeBlock(block([assignTx("google", "x")]));
    expect(results).to.deep.equal([{ code: "NO_FREE_KEY" }]);
    expect(app.lookup("google", "x")).to.equal(undefined);
    publish(app, 0, 1);
    expect(app.finalizeBlock(block([assignTx("google", "x")])).results[0]).to.include({ code: "OK", keyIndex: 0 });
  });

  it("treats verifier ids as case-sensitive, distinct users", function () {
    const app = newApp();
    publish(app, 0, 2);
    app.finalizeBlock(block([assignTx("google", "Alice@example.com"), assignTx("google", "alice@example.com")]));
    expect(app.lookup("google", "Alice@example.com")?.keyIndex).to.equal(0);
    expect(app.lookup("google", "alice@example.com")?.keyIndex).to.equal(1);
  });

  it("answers malformed transactions with INVALID without changing state", function () {
    const app = newApp();
    const before = app.appHash;
    const { results } = app.finalizeBlock(
      block(["{", '{"type":"assign"}', '{"type":"assign","verifier":"","verifierId":"x"}', '{"type":"nope"}']),
    );
    expect(results.map((r) => r.code)).to.deep.equal(["INVALID", "INVALID", "INVALID", "INVALID"]);
    expect(app.assignedKeys).to.equal(0);
    expect(app.appHash).to.not.equal(before); // the block itself is part of the history
  });

  it("computes the same app hash on every replica for the same blocks", function () {
    const [a, b] = [newApp(), newApp()];
    const blocks = [
      block([0, 1, 2].map((v) => publishTx(CHAIN, schemes, v, 0, 4))),
      block([assignTx("google", "u1"), assignTx("github", "u2")]),
    ];
    for (const blk of blocks) expect(a.finalizeBlock(blk).appHash).to.equal(b.finalizeBlock(blk).appHash);
  });

  it("orders key-generation decisions: the first valid one per batch is decided, later ones are not, bad ones refused", function () {
    const app = new KeyMappingApp({
      chainId: CHAIN,
      validators: n,
      epoch: 1,
      k: 3,
      t: 0,
      verify: (v, m, s) => schemes[0]!.verify(v, m, s),
    });
    const decision = (batch: number, signedBy = [1, 2, 3]) => ({
      type: "dkgDecision",
      decision: {
        type: "dealers",
        epoch: 1,
        batch,
        dealers: [1, 2, 3].map((dealer) => ({
          dealer,
          hash: "ab".repeat(32),
          readies: signedBy.map((node) => ({
            node,
            signature: schemes[node - 1]!.sign(readySignBytes(CHAIN, { epoch: 1, batch, dealer }, "ab".repeat(32))),
          })),
        })),
      },
    });
    const forged = decision(0, [1, 2, 3]);
    forged.decision.dealers[0]!.readies[0]!.signature = "00".repeat(32);
    const txs = [JSON.stringify(forged), JSON.stringify(decision(0)), JSON.stringify(decision(0, [3, 2, 1]))];
    expect(app.checkTx(txs[0]!)).to.deep.equal({ ok: false, detail: "dealer 1 has a bad ready" });
    const { results } = app.finalizeBlock(block(txs));
    expect(results).to.deep.equal([
      { code: "INVALID", detail: "dealer 1 has a bad ready" },
      { code: "OK", decided: true },
      { code: "OK", decided: false },
    ]);
    expect(app.decisionFor(0)?.batch).to.equal(0);
    expect(app.checkTx(JSON.stringify(decision(0)))).to.deep.equal({ ok: false, detail: "already decided" });
  });

  describe("the handover freeze", function () {
    const freezeTx = (
      validator: number,
      nextEpoch = 2,
      signer = validator,
      attempt = 1,
      type: "freeze" | "unfreeze" = "freeze",
    ) =>
      JSON.stringify({
        type,
        nextEpoch,
        attempt,
        validator,
        signature: schemes[signer]!.sign(freezeSignBytes(CHAIN, nextEpoch, attempt, type)),
      });
    const unfreezeTx = (validator: number, attempt = 1) => freezeTx(validator, 2, validator, attempt, "unfreeze");
    /** Epoch 1's app, with batches of four keys. */
    const epochOneApp = () =>
      new KeyMappingApp({
        chainId: CHAIN,
        validators: n,
        epoch: 1,
        keysPerBatch: 4,
        verify: (v, m, s) => schemes[0]!.verify(v, m, s),
      });

    it("freezes on a quorum of signed votes: then no assignment, no new keys, and one agreed snapshot", function () {
      const app = epochOneApp();
      publish(app, 0, 4);
      app.finalizeBlock(block([assignTx("google", "alice")]));
      // Two votes (below the quorum of 3 at n = 4), one forged and one for an earlier epoch: nothing freezes.
      const results = app.finalizeBlock(block([freezeTx(0), freezeTx(1), freezeTx(2, 2, 3), freezeTx(3, 1)])).results;
      expect(results.map((r) => r.code)).to.deep.equal(["OK", "OK", "INVALID", "INVALID"]);
      expect(app.frozen).to.equal(undefined);
      expect(app.finalizeBlock(block([assignTx("google", "bob")])).results[0]!.code).to.equal("OK");
      const { results: last } = app.finalizeBlock(block([freezeTx(2)]));
      expect(last[0]!.code).to.equal("OK");
      expect(app.frozen).to.deep.equal({ nextEpoch: 2, attempt: 1, height });

      // Frozen: a new user waits for the next epoch, an assigned one keeps its key, no keys join.
      const [carol, alice] = app.finalizeBlock(
        block([assignTx("google", "carol"), assignTx("google", "alice")]),
      ).results;
      expect(carol).to.deep.equal({ code: "FROZEN", nextEpoch: 2 });
      expect(alice!.code).to.equal("OK");
      expect(app.checkTx(assignTx("google", "carol"))).to.deep.equal({ ok: false, detail: "frozen for the handover" });
      publish(app, 4, 4);
      expect(app.publishedKeys).to.equal(4);
      expect(app.checkTx(freezeTx(3))).to.deep.equal({ ok: false, detail: "already frozen for epoch 2" });

      const snapshot = app.snapshot();
      expect(snapshot.nextKeyIndex).to.equal(4);
      expect(snapshot.keys.map((k) => [k.keyIndex, k.owner?.verifierId])).to.deep.equal([
        [0, "alice"],
        [1, "bob"],
        [2, undefined],
        [3, undefined],
      ]);
    });

    it("thaws on a quorum of unfreeze votes for the frozen attempt; a retry freezes again, with no vote of the aborted attempt", function () {
      const app = epochOneApp();
      publish(app, 0, 4);
      expect(app.checkTx(unfreezeTx(0))).to.deep.equal({
        ok: false,
        detail: "not frozen for attempt 1 of the handover to epoch 2",
      });
      app.finalizeBlock(block([freezeTx(0), freezeTx(1), freezeTx(2)]));
      expect(app.frozen?.attempt).to.equal(1);
      // An unfreeze vote for another attempt, or signed as a freeze vote, counts for nothing.
      const forged = JSON.stringify({ ...JSON.parse(freezeTx(3)), type: "unfreeze" });
      const refused = app.finalizeBlock(block([unfreezeTx(3, 2), forged])).results;
      expect(refused.map((r) => r.code)).to.deep.equal(["INVALID", "INVALID"]);
      app.finalizeBlock(block([unfreezeTx(0), unfreezeTx(1)]));
      expect(app.frozen?.attempt).to.equal(1);
      app.finalizeBlock(block([unfreezeTx(2)]));
      expect(app.frozen).to.equal(undefined);
      expect(app.finalizeBlock(block([assignTx("google", "dave")])).results[0]!.code).to.equal("OK");

      // The retry is attempt 2: the votes of attempt 1 are refused (a replay cannot freeze the state again).
      expect(app.checkTx(freezeTx(0))).to.deep.equal({
        ok: false,
        detail: "attempt 1 of the handover to epoch 2 was aborted",
      });
      const replayed = app.finalizeBlock(block([freezeTx(0), freezeTx(1), freezeTx(2)])).results;
      expect(replayed.map((r) => r.code)).to.deep.equal(["INVALID", "INVALID", "INVALID"]);
      expect(app.frozen).to.equal(undefined);
      app.finalizeBlock(block([freezeTx(0, 2, 0, 2), freezeTx(1, 2, 1, 2), freezeTx(2, 2, 2, 2)]));
      expect(app.frozen).to.deep.include({ nextEpoch: 2, attempt: 2 });
    });

    it("refuses a second vote of a validator, a vote for another epoch, and a vote from outside the epoch", function () {
      const app = new KeyMappingApp({
        chainId: CHAIN,
        validators: n,
        epoch: 1,
        verify: (v, m, s) => schemes[0]!.verify(v, m, s),
      });
      app.finalizeBlock(block([freezeTx(0)]));
      expect(app.checkTx(freezeTx(0))).to.deep.equal({ ok: false, detail: "this validator already voted for it" });
      expect(app.checkTx(freezeTx(0, 3))).to.deep.equal({
        ok: false,
        detail: "this validator voted for another epoch",
      });
      expect(app.checkTx(JSON.stringify({ ...JSON.parse(freezeTx(1)), validator: 9 }))).to.deep.equal({
        ok: false,
        detail: "validator 9 is not in this epoch",
      });
    });
  });

  it("orders reshare decisions of a handover: the first valid one per chunk, each dealer with signed readies", function () {
    const handover = { transition: 2, old: { n: 5, t: 1, k: 3 }, new: { n: 4, t: 0, k: 3 } };
    const app = new KeyMappingApp({
      chainId: CHAIN,
      validators: n,
      epoch: 2,
      handover,
      verify: (v, m, s) => schemes[0]!.verify(v, m, s),
    });
    const hash = "cd".repeat(32);
    const decision = (chunk: number, dealers = [1, 2, 4], transition = 2) => ({
      type: "reshareDecision",
      decision: {
        type: "reshareDealers",
        transition,
        chunk,
        dealers: dealers.map((dealer) => ({
          dealer,
          hash,
          readies: [1, 2, 3].map((node) => ({
            node,
            signature: schemes[node - 1]!.sign(
              readySignBytes(CHAIN, { epoch: transition, batch: chunk, dealer }, hash, "pss"),
            ),
          })),
        })),
      },
    });
    // A ready signed for key generation (another domain) does not count for the handover.
    const crossProtocol = decision(0);
    crossProtocol.decision.dealers[0]!.readies[0]!.signature = schemes[0]!.sign(
      readySignBytes(CHAIN, { epoch: 2, batch: 0, dealer: 1 }, hash),
    );
    const results = app.finalizeBlock(
      block(
        [crossProtocol, decision(0, [1, 2]), decision(0, [1, 2, 3], 3), decision(0), decision(0, [3, 4, 5])].map((d) =>
          JSON.stringify(d),
        ),
      ),
    ).results;
    expect(results).to.deep.equal([
      { code: "INVALID", detail: "dealer 1 has a bad ready" },
      { code: "INVALID", detail: "names 2 dealers, fewer than k_old = 3" },
      { code: "INVALID", detail: "decision of transition 3" },
      { code: "OK", decided: true },
      { code: "OK", decided: false },
    ]);
    expect(app.reshareDecisionFor(0)?.dealers.map((d) => d.dealer)).to.deep.equal([1, 2, 4]);
    expect(newApp().checkTx(JSON.stringify(decision(1)))).to.deep.equal({
      ok: false,
      detail: "this epoch runs no handover",
    });
  });
});
