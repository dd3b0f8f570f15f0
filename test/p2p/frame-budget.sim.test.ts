import { expect } from "chai";

import { DEFAULT_LIMITS } from "../../node/bft/validate.ts";
import { MAX_WAL_RECORD_BYTES, encodeWalRecord } from "../../node/bft/wal.ts";
import { G } from "../../node/crypto/point.ts";
import type { DkgMessage } from "../../node/dkg/types.ts";
import { matricesToWire, pointHex, scalarHex } from "../../node/dkg/wire.ts";
import { frameBudget, largestDkgMessage, largestPssMessage } from "../../node/p2p/frame-budget.ts";
import { MAX_FRAME_BYTES, encodeFrame } from "../../node/p2p/host.ts";
import type { PssMessage } from "../../node/pss/types.ts";
import { HANDOVER_CHUNK_SIZE } from "../../node/runtime/handover.ts";
import { DkgCluster } from "../sim/dkg-cluster.ts";
import { PssCluster, thresholds } from "../sim/pss-cluster.ts";
import { Prng } from "../support/prng.ts";

/** The bytes the host sends for a message on a channel (length prefix excluded, as the cap counts the payload). */
const frameBytes = (ch: string, m: unknown) => encodeFrame({ ch, m }, Number.MAX_SAFE_INTEGER).length - 4;

/** The largest frame of each message type the honest nodes of a key-generation run send. */
function keygenFrames(n: number, batchSize: number): Map<string, number> {
  const largest = new Map<string, number>();
  const record = (message: DkgMessage) => {
    largest.set(message.type, Math.max(largest.get(message.type) ?? 0, frameBytes("dkg", message)));
    return [message];
  };
  const { t } = thresholds(n);
  const everyone = new Map([...Array(n).keys()].map((i) => [i + 1, record]));
  const cluster = new DkgCluster({ n, t, prng: new Prng(n), batchSize, keyBuffer: 100, byzantine: everyone });
  cluster.start();
  cluster.demand(0);
  expect(cluster.scheduler.run({ done: () => cluster.nodes.every((node) => node.keys.has(0)) })).to.equal("done");
  return largest;
}

/** The largest frame of each message type the old dealers of a handover send (its largest: records and sends). */
function handoverFrames(nOld: number, nNew: number): Map<string, number> {
  const largest = new Map<string, number>();
  const record = (message: PssMessage) => {
    largest.set(message.type, Math.max(largest.get(message.type) ?? 0, frameBytes("pss", message)));
    return [message];
  };
  const cluster = new PssCluster({
    old: thresholds(nOld),
    next: thresholds(nNew),
    prng: new Prng(nOld * 10 + nNew),
    keys: HANDOVER_CHUNK_SIZE + 3,
    chunkSize: HANDOVER_CHUNK_SIZE,
    byzantine: new Map([...Array(nOld).keys()].map((i) => [i + 1, record])),
  });
  cluster.start();
  cluster.run();
  expect(cluster.newNodes.every((node) => node.done)).to.equal(true);
  return largest;
}

/** A dealer's send at its largest (k × k points and k scalars per sharing), encoded by the real wire functions. */
function syntheticSend(k: number, batchSize: number): number {
  const matrices = Array.from({ length: batchSize }, () => Array.from({ length: k }, () => Array<typeof G>(k).fill(G)));
  const polynomials = Array.from({ length: batchSize }, () => Array<string>(k).fill(scalarHex(2n ** 255n)));
  const big = Number.MAX_SAFE_INTEGER;
  return frameBytes("dkg", {
    type: "send",
    epoch: big,
    batch: big,
    dealer: big,
    commitments: matricesToWire(matrices),
    rows: polynomials,
    rowBlindings: polynomials,
    cols: polynomials,
    colBlindings: polynomials,
  });
}

/**
 * A proposal whose block holds the most transaction bytes the consensus limits allow, each transaction JSON whose
 * characters mostly double when the message embeds it (a verifier id of quotes): about as large as a consensus
 * message gets, as a node proposes it. Returns its frame size and whether the WAL takes it.
 */
function maximalProposal(validators: number): { bytes: number; walTakesIt: boolean } {
  const tx = JSON.stringify({ type: "assign", verifier: "google", verifierId: '"'.repeat(500) });
  const txs = Array<string>(Math.floor(DEFAULT_LIMITS.maxBlockBytes / tx.length)).fill(tx);
  const signature = "b".repeat(130);
  const vote = { type: "prevote", height: 1, round: 0, blockHash: "a".repeat(64), validator: 0, signature };
  const block = { height: 1, prevHash: "c".repeat(64), lastAppHash: "d".repeat(64), proposer: 0, txs, evidence: [] };
  const polVotes = Array<typeof vote>(validators).fill(vote);
  const message = { type: "proposal", height: 1, round: 1, block, validRound: 0, validator: 0, signature, polVotes };
  let walTakesIt = true;
  try {
    encodeWalRecord({ kind: "message", from: 0, message });
  } catch {
    walTakesIt = false;
  }
  return { bytes: frameBytes("bft", message), walTakesIt };
}

describe("p2p frame budget: the cap derived from the largest message of the epoch's protocols", function () {
  this.timeout(120_000);

  for (const [n, batchSize] of [
    [5, 1],
    [5, 3],
    [7, 2],
  ] as const) {
    const k = thresholds(n).k;
    it(`n${n} k${k} B${batchSize}: every key-generation message fits, the formula is the send as sent`, function () {
      const frames = keygenFrames(n, batchSize);
      expect([...frames.keys()]).to.include.members(["send", "echo", "ready", "proofs"]);
      const formula = largestDkgMessage({ n, k }, batchSize) + '{"ch":"dkg","m":}'.length;
      for (const [type, bytes] of frames) expect(bytes, type).to.be.at.most(formula);
      // Only the integer fields are counted at their widest (16 digits): the formula is the send to within them.
      expect(formula - frames.get("send")!).to.be.below(3 * 16);
      expect(frameBudget({ epoch: { n, k }, batchSize, chunkSize: HANDOVER_CHUNK_SIZE })).to.be.at.least(formula);
    });
  }

  for (const [nOld, nNew] of [
    [5, 7],
    [7, 5],
  ] as const) {
    it(`handover n${nOld} → n${nNew}: the dealers' records and sends fit both sides' caps`, function () {
      const frames = handoverFrames(nOld, nNew);
      expect([...frames.keys()]).to.include.members(["records", "send"]);
      const [from, to] = [thresholds(nOld), thresholds(nNew)];
      const formula = largestPssMessage(from, to, HANDOVER_CHUNK_SIZE) + '{"ch":"pss","m":}'.length;
      for (const [type, bytes] of frames) expect(bytes, type).to.be.at.most(formula);
      const capOf = (epoch: typeof from, partner: typeof from) =>
        frameBudget({ epoch, batchSize: 1, partners: [partner], chunkSize: HANDOVER_CHUNK_SIZE });
      expect(capOf(from, to), "the dealers' cap").to.be.at.least(formula);
      expect(capOf(to, from), "the receivers' cap").to.be.at.least(formula);
    });
  }

  it("k = 129: a dealer's send of 8 sharings (about 18 MB) gets a cap that fits it, where 16 MiB did not", function () {
    const send = syntheticSend(129, 8);
    const cap = frameBudget({ epoch: { n: 257, k: 129 }, batchSize: 8, chunkSize: HANDOVER_CHUNK_SIZE });
    expect(send).to.be.above(MAX_FRAME_BYTES);
    expect(cap).to.be.at.least(send);
    expect(cap, "the margin over the largest message").to.be.at.most(send * 1.2);
  });

  it("a small epoch's cap is the consensus bound (a WAL record) with its margin: a maximal proposal fits", function () {
    const cap = frameBudget({ epoch: { n: 5, k: 3 }, batchSize: 4, chunkSize: HANDOVER_CHUNK_SIZE });
    const proposal = maximalProposal(5);
    expect(proposal.walTakesIt).to.equal(true);
    expect(cap).to.be.at.least(proposal.bytes);
    expect(cap).to.be.at.most(MAX_WAL_RECORD_BYTES * 1.2);
    expect(cap, "the margin over the largest proposal").to.be.at.most(proposal.bytes * 1.25);
  });

  it("grows with the handover's other epoch: a successor with k = 129 needs the 25-key chunk's commitments", function () {
    const own = { n: 5, k: 3 };
    const partner = { n: 257, k: 129 };
    const alone = frameBudget({ epoch: own, batchSize: 4, chunkSize: HANDOVER_CHUNK_SIZE });
    const withPartner = frameBudget({ epoch: own, batchSize: 4, partners: [partner], chunkSize: HANDOVER_CHUNK_SIZE });
    const send = largestPssMessage(own, partner, HANDOVER_CHUNK_SIZE);
    expect(alone).to.be.below(send);
    expect(withPartner).to.be.at.least(send);
    expect(pointHex(G)).to.have.length(130); // the point width the formulas count
  });
});
