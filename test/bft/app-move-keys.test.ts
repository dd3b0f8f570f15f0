import { expect } from "chai";

import { KeyMappingApp, type TxResult } from "../../node/app/key-mapping-app.ts";
import {
  InvalidTx,
  TX_LIMITS,
  decodeTx,
  encodeTx,
  freezeSignBytes,
  moveKeysSignBytes,
  type MoveKeysBody,
  type MovedKeyEntry,
} from "../../node/app/transactions.ts";
import { quorum } from "../../node/bft/quorum.ts";
import type { Block } from "../../node/bft/types.ts";
import { fastSchemes } from "../sim/fast-signer.ts";
import { assignTx, fakePublicKey, publishTx } from "./helpers.ts";

const CHAIN = "app-move-test";
const TRANSITION = 2;
const NEXT_KEY_INDEX = 6;

describe("key-mapping app: keys moved by the handover", function () {
  const n = 4;
  const schemes = fastSchemes(n, "app");
  const honest = Array.from({ length: quorum(n) }, (_, v) => v); // [0, 1, 2]: exactly a quorum
  const alice = { verifier: "google", verifierId: "alice" };
  const bob = { verifier: "github", verifierId: "bob" };
  // Chunk 0 moves keys 0 (alice) and 1 (free); chunk 1 moves 3 (bob) and 4 (free); 2 and 5 were abandoned.
  const movedKeys: MovedKeyEntry[][] = [
    [
      { keyIndex: 0, publicKey: fakePublicKey(0), owner: alice },
      { keyIndex: 1, publicKey: fakePublicKey(1) },
    ],
    [
      { keyIndex: 3, publicKey: fakePublicKey(3), owner: bob },
      { keyIndex: 4, publicKey: fakePublicKey(4) },
    ],
  ];
  const chunkBody = (chunk: number, changes: Partial<MoveKeysBody> = {}): MoveKeysBody => ({
    transition: TRANSITION,
    chunk,
    chunks: 2,
    nextKeyIndex: NEXT_KEY_INDEX,
    keys: movedKeys[chunk]!,
    ...changes,
  });
  const moveTx = (validator: number, body: MoveKeysBody, signedBody = body, signer = validator) => {
    const signature = schemes[signer]!.sign(moveKeysSignBytes(CHAIN, signedBody));
    return encodeTx({ type: "moveKeys", body, validator, signature });
  };

  let height = 0;
  const blockFields = { prevHash: "", lastAppHash: "", proposer: 0, evidence: [] };
  const block = (txs: string[]): Block => ({ ...blockFields, height: ++height, txs });
  const verify = (v: number, m: Uint8Array, s: string) => schemes[0]!.verify(v, m, s);
  const handover = { transition: TRANSITION, old: { n: 5, t: 1, k: 3 }, new: { n, t: 0, k: 3 } };
  const successorApp = () =>
    new KeyMappingApp({ chainId: CHAIN, validators: n, epoch: 2, k: 3, t: 0, handover, verify });
  const vote = (app: KeyMappingApp, body: MoveKeysBody, voters: number[]): TxResult[] =>
    app.finalizeBlock(block(voters.map((v) => moveTx(v, body)))).results;
  const codes = (results: TxResult[]) => results.map((r) => r.code);

  it("installs a chunk only at a quorum of identical votes, and serves the moved mapping once all chunks are in", function () {
    const app = successorApp();
    expect(app.installed).to.equal(false);
    // Chunk 1 first (out of order): below the quorum nothing joins.
    expect(codes(vote(app, chunkBody(1), honest.slice(0, -1)))).to.deep.equal(["OK", "OK"]);
    expect(app.lookup("github", "bob")).to.equal(undefined);
    expect([app.freeKeys, app.publishedKeys, app.firstKeyIndex]).to.deep.equal([0, 0, 0]);
    expect(app.movedChunkInstalled(1)).to.equal(false);
    vote(app, chunkBody(1), honest.slice(-1));
    expect(app.movedChunkInstalled(1)).to.equal(true);
    expect(app.lookup("github", "bob")).to.deep.equal({ keyIndex: 3, publicKey: fakePublicKey(3) });
    expect([app.freeKeys, app.installed, app.firstKeyIndex]).to.deep.equal([1, false, NEXT_KEY_INDEX]);

    vote(app, chunkBody(0), honest);
    expect(app.installed).to.equal(true);
    expect(app.lookup("google", "alice")).to.deep.equal({ keyIndex: 0, publicKey: fakePublicKey(0) });
    expect(app.keyByPublicKey(fakePublicKey(0))).to.deep.equal({ keyIndex: 0, owner: alice });
    expect(app.keyByPublicKey(fakePublicKey(4))).to.deep.equal({ keyIndex: 4, owner: undefined });
    expect([app.freeKeys, app.publishedKeys, app.assignedKeys]).to.deep.equal([2, 4, 2]);
    expect(app.firstKeyIndex).to.equal(NEXT_KEY_INDEX);
    expect(app.snapshot().nextKeyIndex).to.equal(NEXT_KEY_INDEX);
    expect(app.checkTx(assignTx("google", "alice"))).to.deep.equal({ ok: false, detail: "already assigned" });

    // New users get the free moved keys in ascending index order, then keys generated from nextKeyIndex on.
    const publish = honest.map((v) => publishTx(CHAIN, schemes, v, NEXT_KEY_INDEX, 1));
    const users = ["carol", "dave", "erin"].map((id) => assignTx("google", id));
    const results = app.finalizeBlock(block([assignTx("google", "alice"), ...users, ...publish, users[2]!])).results;
    const keyIndexes = results.map((r) => (r.code === "OK" ? (r.keyIndex ?? "-") : r.code));
    expect(keyIndexes).to.deep.equal([0, 1, 4, "NO_FREE_KEY", "-", "-", "-", NEXT_KEY_INDEX]);
    expect(app.lookup("google", "erin")).to.deep.equal({ keyIndex: 6, publicKey: fakePublicKey(6) });
  });

  it("assigns, publishes and decides nothing before every chunk is installed", function () {
    const app = successorApp();
    vote(app, chunkBody(0), honest); // one of two chunks
    const dkgDecision = JSON.stringify({
      type: "dkgDecision",
      decision: {
        type: "dealers",
        epoch: 2,
        batch: 0,
        dealers: [1, 2, 3].map((dealer) => ({ dealer, hash: "ab".repeat(32), readies: [] })),
      },
    });
    const notInstalled = "the keys moved from the previous epoch are not all installed yet";
    expect(app.checkTx(assignTx("google", "carol"))).to.deep.equal({ ok: false, detail: notInstalled });
    expect(app.checkTx(dkgDecision)).to.deep.equal({ ok: false, detail: notInstalled });
    const publish = honest.map((v) => publishTx(CHAIN, schemes, v, NEXT_KEY_INDEX, 1));
    const results = app.finalizeBlock(block([assignTx("google", "carol"), ...publish, dkgDecision])).results;
    expect(results).to.deep.equal(Array(5).fill({ code: "INVALID", detail: notInstalled }));
    expect(results[0]).to.have.property("detail").that.contains("installed");
    expect([app.assignedKeys, app.publishedKeys, app.freeKeys]).to.deep.equal([1, 2, 1]);
    expect(app.decisionFor(0)).to.equal(undefined);
    expect(app.lookup("google", "alice")?.keyIndex).to.equal(0); // the moved owner is already known
  });

  it("refuses bad votes without counting them or changing the state", function () {
    const app = successorApp();
    vote(app, chunkBody(0), honest);
    vote(app, chunkBody(1), [0, 1]); // one vote short of the quorum
    const forged = { ...(JSON.parse(moveTx(2, chunkBody(1))) as object), signature: "00".repeat(32) };
    const otherOwner = chunkBody(1, { keys: [{ ...movedKeys[1]![0]!, owner: alice }, movedKeys[1]![1]!] });
    const refused: [string, string][] = [
      [JSON.stringify(forged), "bad signature"],
      [moveTx(2, chunkBody(1), otherOwner), "bad signature"], // signed for another body
      [moveTx(2, chunkBody(1), chunkBody(1), 3), "bad signature"], // signed by validator 3
      [moveTx(0, chunkBody(1)), "this validator already voted for it"],
      [moveTx(2, chunkBody(1, { transition: 3 })), "moved keys of transition 3"],
      [moveTx(3, chunkBody(0)), "chunk 0 is already installed"],
      [moveTx(2, chunkBody(1, { nextKeyIndex: 7 })), "chunks or nextKeyIndex differ from the installed chunks'"],
      [moveTx(2, chunkBody(1, { chunks: 3 })), "chunks or nextKeyIndex differ from the installed chunks'"],
      [
        JSON.stringify({ ...(JSON.parse(moveTx(2, chunkBody(1))) as object), validator: 9 }),
        "validator 9 is not in this epoch",
      ],
    ];
    const [hashBefore, snapshotBefore] = [app.appHash, app.snapshot()];
    for (const [tx, detail] of refused) expect(app.checkTx(tx)).to.deep.equal({ ok: false, detail });
    expect(app.appHash).to.equal(hashBefore); // checkTx is read-only
    const { results } = app.finalizeBlock(block(refused.map(([tx]) => tx)));
    expect(results).to.deep.equal(refused.map(([, detail]) => ({ code: "INVALID", detail })));
    expect(app.snapshot()).to.deep.equal(snapshotBefore);
    expect([app.installed, app.movedChunkInstalled(1), app.lookup("github", "bob")]).to.deep.equal([
      false,
      false,
      undefined,
    ]);
    // Validator 2's refused votes did not count: its one valid vote is still the one that completes the quorum.
    expect(vote(app, chunkBody(1), [2])).to.deep.equal([{ code: "OK" }]);
    expect(app.installed).to.equal(true);
  });

  it("lets an honest quorum install the right chunk while a Byzantine minority's other body never installs", function () {
    const app = successorApp();
    const mallory = { verifier: "google", verifierId: "mallory" };
    const forgedOwner = chunkBody(0, { keys: [{ ...movedKeys[0]![0]!, owner: mallory }, movedKeys[0]![1]!] });
    // Byzantine validator 3 votes for both bodies (equivocation) and one honest vote for the right one: no quorum.
    expect(codes(vote(app, forgedOwner, [3]))).to.deep.equal(["OK"]);
    expect(codes(vote(app, chunkBody(0), [3, 0]))).to.deep.equal(["OK", "OK"]);
    expect([app.movedChunkInstalled(0), app.lookup("google", "mallory")]).to.deep.equal([false, undefined]);
    vote(app, chunkBody(0), [1]); // 0, 1 and 3: a quorum for the right body
    expect(app.movedChunkInstalled(0)).to.equal(true);
    expect(app.keyByPublicKey(fakePublicKey(0))).to.deep.equal({ keyIndex: 0, owner: alice });
    expect(vote(app, forgedOwner, [2])).to.deep.equal([{ code: "INVALID", detail: "chunk 0 is already installed" }]);
    expect(app.lookup("google", "mallory")).to.equal(undefined);
  });

  it("refuses a chunk that overlaps an installed one (a key or an owner twice), so no key is free or owned twice", function () {
    const app = successorApp();
    vote(app, chunkBody(0), honest);
    const sameKey = chunkBody(1, { keys: [{ keyIndex: 1, publicKey: fakePublicKey(1) }, ...movedKeys[1]!] });
    const sameOwner = chunkBody(1, { keys: [{ keyIndex: 3, publicKey: fakePublicKey(3), owner: alice }] });
    expect(vote(app, sameKey, honest)).to.deep.include({ code: "INVALID", detail: "key 1 is already installed" });
    expect(vote(app, sameOwner, honest)).to.deep.include({
      code: "INVALID",
      detail: "google/alice already holds an installed key",
    });
    expect([app.movedChunkInstalled(1), app.freeKeys]).to.deep.equal([false, 1]);
  });

  it("in a genesis epoch: installed from the start, keys from index 0, and no moveKeys", function () {
    const app = new KeyMappingApp({ chainId: CHAIN, validators: n, verify });
    expect([app.installed, app.firstKeyIndex]).to.deep.equal([true, 0]);
    expect(app.checkTx(moveTx(0, chunkBody(0)))).to.deep.equal({ ok: false, detail: "this epoch runs no handover" });
    expect(vote(app, chunkBody(0), honest)).to.deep.equal(
      honest.map(() => ({ code: "INVALID", detail: "this epoch runs no handover" })),
    );
    expect([app.publishedKeys, app.lookup("google", "alice")]).to.deep.equal([0, undefined]);
  });

  describe("decodeTx of moveKeys", function () {
    const shaped = (changes: Record<string, unknown>) =>
      JSON.stringify({ type: "moveKeys", body: { ...chunkBody(0), ...changes }, validator: 0, signature: "00" });
    const key = (keyIndex: number, extra: Record<string, unknown> = {}) => ({
      keyIndex,
      publicKey: fakePublicKey(keyIndex),
      ...extra,
    });
    const withCoordinates = (x: string, y: string) => ({ keys: [{ keyIndex: 0, publicKey: { x, y } }] });
    const BAD_COORDINATES = "keys[0].publicKey must be {x, y} as 64 lowercase hex characters each";
    const cases: [string, Record<string, unknown>, string][] = [
      ["keys out of order", { keys: [key(2), key(1)] }, "keys must be in ascending key-index order"],
      ["a repeated key index", { keys: [key(1), key(1)] }, "keys must be in ascending key-index order"],
      ["chunk >= chunks", { chunk: 2, chunks: 2 }, "chunk must be below chunks"],
      ["nextKeyIndex at a key", { keys: [key(5)], nextKeyIndex: 5 }, "nextKeyIndex must be past every moved key"],
      [
        "too many keys",
        { keys: Array.from({ length: TX_LIMITS.maxKeysPerMove + 1 }, (_, i) => key(i)), nextKeyIndex: 100 },
        `keys must hold at most ${TX_LIMITS.maxKeysPerMove} keys`,
      ],
      ["an owner that is no object", { keys: [key(0, { owner: "alice" })] }, "keys[0].owner must be an object"],
      [
        "an owner with an empty id",
        { keys: [key(0, { owner: { verifier: "google", verifierId: "" } })] },
        "keys[0].owner.verifierId must be a non-empty string of at most 512 characters",
      ],
      ["upper-case coordinates", withCoordinates("A".repeat(64), "b".repeat(64)), BAD_COORDINATES],
      ["short coordinates", withCoordinates("a".repeat(63), "b".repeat(64)), BAD_COORDINATES],
    ];
    for (const [name, changes, message] of cases) {
      it(`refuses ${name}`, function () {
        expect(() => decodeTx(shaped(changes), n)).to.throw(InvalidTx, message);
      });
    }

    it("accepts a well-formed vote and keeps exactly the known fields", function () {
      const decoded = decodeTx(shaped({ keys: [key(0, { extra: 1 })], nextKeyIndex: 1 }), n);
      expect(decoded).to.deep.equal({
        type: "moveKeys",
        body: chunkBody(0, { keys: [key(0)], nextKeyIndex: 1 }),
        validator: 0,
        signature: "00",
      });
    });
  });

  it("freezes for the next handover only once every moved chunk is installed, so what it deals never changes", function () {
    const app = successorApp();
    vote(app, chunkBody(0), honest); // one of two chunks
    const freezeTx = (validator: number) =>
      encodeTx({
        type: "freeze",
        nextEpoch: 3,
        attempt: 1,
        validator,
        signature: schemes[validator]!.sign(freezeSignBytes(CHAIN, 3, 1, "freeze")),
      });
    const notInstalled = "the keys moved from the previous epoch are not all installed yet";
    expect(app.checkTx(freezeTx(0))).to.deep.equal({ ok: false, detail: notInstalled });
    const refused = app.finalizeBlock(block(honest.map(freezeTx))).results;
    expect(refused).to.deep.equal(Array(honest.length).fill({ code: "INVALID", detail: notInstalled }));
    expect(app.frozen).to.equal(undefined);
    const before = app.snapshot();
    vote(app, chunkBody(1), honest);
    expect(app.snapshot().keys).to.have.length(before.keys.length + 2);
    expect(codes(app.finalizeBlock(block(honest.map(freezeTx))).results)).to.deep.equal(["OK", "OK", "OK"]);
    expect(app.frozen?.nextEpoch).to.equal(3);
  });

  it("computes the same app hash and snapshot on every replica fed the same blocks", function () {
    const [a, b] = [successorApp(), successorApp()];
    const otherOwner = chunkBody(1, { keys: [{ ...movedKeys[1]![0]!, owner: alice }, movedKeys[1]![1]!] });
    const blocks = [
      block([moveTx(3, otherOwner), ...honest.map((v) => moveTx(v, chunkBody(1)))]),
      block([assignTx("google", "early"), moveTx(0, chunkBody(0)), moveTx(1, chunkBody(0, { nextKeyIndex: 9 }))]),
      block([moveTx(1, chunkBody(0)), moveTx(3, chunkBody(0)), assignTx("google", "carol")]),
      block([...honest.map((v) => publishTx(CHAIN, schemes, v, NEXT_KEY_INDEX, 2)), assignTx("google", "dave")]),
    ];
    for (const blk of blocks) expect(a.finalizeBlock(blk)).to.deep.equal(b.finalizeBlock(blk));
    expect(a.appHash).to.equal(b.appHash);
    expect(a.snapshot()).to.deep.equal(b.snapshot());
    expect(a.installed).to.equal(true);
    expect(a.snapshot().keys.map((k) => [k.keyIndex, k.owner?.verifierId])).to.deep.equal([
      [0, "alice"],
      [1, "carol"],
      [3, "bob"],
      [4, "dave"],
      [6, undefined],
      [7, undefined],
    ]);
  });
});
