import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import {
  LoginError,
  getOrAssignKey,
  keyAssign,
  login,
  networkFromDescription,
  type Network,
} from "../../client/index.ts";
import { JsonRpcClient } from "../../client/jrpc.ts";
import { waitForRetiredDir } from "../support/retired-dir.ts";
import { epochStateName } from "../../node/chain/epoch-state.ts";
import { addressFromPublicKey } from "../../node/crypto/address.ts";
import { mod } from "../../node/crypto/field.ts";
import { lagrangeCoefficients } from "../../node/crypto/lagrange.ts";
import { G, Point } from "../../node/crypto/point.ts";
import type { GeneratedKey } from "../../node/dkg/types.ts";
import { pointHex } from "../../node/dkg/wire.ts";
import type { ReceiverRecord } from "../../node/pss/receiver-records.ts";
import type { ResharedKey } from "../../node/pss/types.ts";
import { freePort } from "../../scripts/lib/chain-process.ts";
import { Devnet, VERIFIER_NAME, type DevnetNode } from "../../scripts/lib/devnet-processes.ts";
import * as ops from "../../scripts/lib/operations.ts";
import { batchKeys, movedKeys } from "../support/key-rows.ts";
import { readRecords } from "../support/record-rows.ts";

const rpc = new JsonRpcClient(10_000);

describe("a handover between node processes of two epochs", function () {
  this.timeout(600_000);
  let dir: string;
  let devnet: Devnet;
  let network: Network;

  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "freeze-"));
    // Nodes of odd slots (three old, three new) check their peers' sharings on a worker thread (crypto.workers: 1),
    // the others on their event loop: the key generation and the handover run across both.
    devnet = await Devnet.start({
      dir,
      n: 5,
      chainPort: await freePort(),
      keyBuffer: 24,
      configOverride: (slot, config) =>
        slot % 2 === 1 ? { ...config, crypto: { ...(config.crypto as object), workers: 1 } } : config,
    });
    await devnet.waitForKeys(12, 120_000);
    const described = await devnet.describe(true);
    network = networkFromDescription(described);
  });

  after(async function () {
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("freezes the old epoch, hands every key over to the new one, which confirms on-chain, and keeps the keys", async function () {
    const alice = await getOrAssignKey(
      network,
      { verifier: VERIFIER_NAME, verifierId: "alice@example.com" },
      { signer: devnet.signer.url },
    );

    // Governance creates epoch 2, whose seven new node processes list themselves, and starts the handover.
    // Their key buffer refills below 64 keys, more than epoch 1 moves free, so that they generate keys after it.
    const { epoch: next, nodes: successors } = await devnet.addSuccessorEpoch(7, { keyBuffer: 64, refillMark: 64 });
    // Two of the seven new nodes are paused until the freeze has been seen and an old node crashed (below): n − t = 6
    // confirmations complete the handover, so it cannot complete (and retire epoch 1) before this test looked at the
    // frozen epoch — on the native backend a handover of a few dozen keys otherwise takes less time than one round of
    // the checks below.
    const paused = successors.slice(5);
    for (const node of paused) node.process!.kill("SIGSTOP");
    // With one old node crashed (below), the k + t = 4 others must all deal, and a node that lacks a key at the freeze
    // sits out: so the transition starts once every old node holds its shares of every published key, with enough
    // keys free that the users assigned before the freeze start no new batch.
    const old = devnet.nodes.filter((node) => node.epoch === 1n);
    for (let settled = 0, until = Date.now() + 120_000; settled < 3; await new Promise((r) => setTimeout(r, 1000))) {
      const keys = (await Promise.all(old.map((node) => devnet.status(node)))).map((s) => s?.keys);
      const published = keys[0]?.published ?? 0;
      const held = keys.every((k) => k?.published === published && k.generatedBatches * 12 === published);
      settled = held && published >= 24 && keys[0]!.free >= 20 ? settled + 1 : 0;
      expect(Date.now(), "every old node holds every published key").to.be.below(until);
    }
    await ops.startTransition(devnet.nodeList, next);

    // The nodes vote on their BFT network to freeze; then a new user gets the specific, retryable error everywhere.
    // (Users that ask before the nodes see the chain's event are still assigned: each attempt is a new user.)
    let user = { verifier: VERIFIER_NAME, verifier_id: "" };
    let refusals: string[] = [];
    for (let attempt = 0, until = Date.now() + 120_000; Date.now() < until; attempt++) {
      user = { verifier: VERIFIER_NAME, verifier_id: `bob${attempt}@example.com` };
      const answers = await Promise.all(
        network.endpoints.map((e, i) =>
          keyAssign(rpc, e, network.nodePublicKeys[i]!, user, { signer: devnet.signer.url }),
        ),
      );
      refusals = answers.map((a) => a.error?.data ?? "assigned");
      if (refusals.every((r) => r.includes(`handing over to epoch ${next}`))) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(refusals.join(" | ")).to.equal(
      Array(5).fill(`the network is handing over to epoch ${next}; retry after the handover`).join(" | "),
    );
    const lookup = await rpc.call(network.endpoints[0]!, "VerifierLookupRequest", user);
    expect(lookup.error?.data).to.match(/has not yet been assigned/);

    // What is assigned stays served: the lookup, the idempotent KeyAssign, and a login.
    const again = await getOrAssignKey(
      network,
      { verifier: VERIFIER_NAME, verifierId: "alice@example.com" },
      { signer: devnet.signer.url },
    );
    expect(again.address).to.equal(alice.address);
    const idToken = await devnet.oidc.mint({ email: "alice@example.com" });
    const loggedIn = await login(network, { verifier: VERIFIER_NAME, verifierId: "alice@example.com", idToken });
    expect(loggedIn.address).to.equal(alice.address);

    // One old node crashes before the handover completes (it cannot complete while two new nodes are paused); it
    // misses the retirement, and erases its epoch when it starts again below.
    const crashed = old[4]!;
    await devnet.kill(crashed, "SIGKILL");
    for (const node of paused) node.process!.kill("SIGCONT");

    // The old nodes deal every frozen key, the new ones agree the dealers on their BFT network, check their new
    // shares, and confirm on-chain: n − t identical confirmations complete the handover.
    let state = "";
    for (const until = Date.now() + 180_000; state !== "Current" && Date.now() < until;) {
      await new Promise((r) => setTimeout(r, 1000));
      state = epochStateName((await devnet.nodeList.getEpochStatus(next)).state);
    }
    expect(state, "epoch 2 is current once the handover completed").to.equal("Current");
    const workers = await Promise.all(successors.map(async (node) => (await devnet.status(node))?.checkWorkers));
    expect(workers).to.deep.equal(successors.map((node) => (node.slot % 2 === 1 ? 1 : 0)));
    expect(epochStateName((await devnet.nodeList.getEpochStatus(1n)).state)).to.equal("Retired");

    // Every new node holds a share of every key in its key store; any four of them rebuild each key's secret, and
    // alice's is hers. n − t confirmations made epoch 2 current: the last node may still be combining its shares, so
    // wait for it. The owners come from a node's handover records, which it keeps for the resend window (600 s here)
    // after the completion.
    const readHeld = () =>
      Promise.all(
        successors.map(async (node) => ({
          index: await devnet.positionOf(node),
          keys: movedKeys(path.join(node.dataDir, `epoch-${next}`, "keys.sqlite")),
        })),
      );
    let all = await readHeld();
    const most = () => Math.max(...all.map((h) => h.keys.size));
    for (const until = Date.now() + 60_000; Date.now() < until; all = await readHeld()) {
      if (all.every((h) => h.keys.size === most())) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    // The chain retires epoch 1 at n − t confirmations, and its nodes then erase their dealings: a new node that was
    // still short of dealers' messages at that moment (one of the two paused above, resumed with the completion racing
    // it) may never finish, which t tolerates. What the handover guarantees is n − t = 6 new nodes holding every key.
    const held = all.filter((h) => h.keys.size === most());
    expect(held.length, "new nodes holding every moved key").to.be.at.least(6);
    const holders = successors.filter((_, i) => all[i]!.keys.size === most());
    const keyIndexes = [...held[0]!.keys.keys()];
    expect(keyIndexes.length).to.be.at.least(12);
    for (const keyIndex of keyIndexes) {
      for (const subset of [held.slice(0, 4), held.slice(-4)]) {
        const lambdas = lagrangeCoefficients(subset.map((h) => BigInt(h.index)));
        const secret = subset.reduce(
          (acc, h, j) => mod(acc + lambdas[j]! * BigInt("0x" + h.keys.get(keyIndex)!.share)),
          0n,
        );
        const publicKey = held[0]!.keys.get(keyIndex)!.publicKey;
        expect(pointHex(G.multiply(secret)), `key ${keyIndex}`).to.equal(publicKey);
      }
    }
    const moved = new Map<number, ResharedKey>();
    const holderRecords = readRecords<ReceiverRecord>(path.join(holders[0]!.dataDir, `epoch-${next}`, "pss.sqlite"));
    for (const r of holderRecords) if (r.kind === "keys") for (const key of r.keys) moved.set(key.keyIndex, key);
    expect([...moved.keys()].sort((a, b) => a - b)).to.deep.equal([...keyIndexes].sort((a, b) => a - b));
    const alicesKey = [...moved.values()].find((k) => k.owner?.verifierId === "alice@example.com");
    expect(addressFromPublicKey(Point.fromHex(alicesKey!.publicKey))).to.equal(alice.address);

    // The old epoch stops serving, and its directories keep nothing but the RETIRED marker and the block store: no
    // key file, key-generation or handover record, dealing seed, WAL or commit–reveal record.
    const refusal = `this node refuses to serve: epoch 1 has ended and erased its key shares: the next epoch serves (see the NodeList)`;
    for (const node of old.filter((node) => node !== crashed)) {
      let answer = "";
      for (const until = Date.now() + 90_000; answer !== refusal && Date.now() < until;) {
        const outcome = await rpc.call(`${node.apiUrl}/jrpc`, "VerifierLookupRequest", {
          verifier: VERIFIER_NAME,
          verifier_id: "alice@example.com",
        });
        answer = outcome.error?.data ?? "answered";
        if (answer !== refusal) await new Promise((r) => setTimeout(r, 500));
      }
      expect(answer).to.equal(refusal);
      await expectRetiredDir(node, 30_000);
    }
    // The node that was down at the completion erases its epoch when it starts, says why, and exits (code 0: nothing
    // failed, it has no newer epoch to run).
    devnet.spawn(crashed);
    expect(await crashed.exited).to.equal(0);
    expect(await readFile(crashed.logFile, "utf8")).to.contain(
      "torus-node: epoch 1 retired while this node was down (its handover to the next epoch completed); the node " +
        "erased its data of that epoch",
    );
    await expectRetiredDir(crashed, 0);

    // The new epoch serves once it installed every moved chunk (a quorum of its nodes voted for each on its BFT
    // network): the old nodes' login fails, the new network is what the chain describes.
    await devnet.waitUntilServing(holders);
    for (const node of holders) expect((await fetch(`${node.apiUrl}/healthz`)).status).to.equal(200);
    const described = await devnet.describe(true);
    expect(described.epoch).to.deep.equal({ id: Number(next), n: 7, k: 4, t: 1 });
    const newNetwork = networkFromDescription(described);

    // A token revealed at epoch 1 is refused at epoch 2 (issued before the handover's completion plus the skew).
    const oldToken = login(newNetwork, { verifier: VERIFIER_NAME, verifierId: "alice@example.com", idToken });
    await expectLoginError(oldToken, /OTHER_EPOCH: the token was issued before this epoch took over/);

    // Fresh tokens, issued after the completion block's time plus the skew (10 s on the devnet), log in at epoch 2:
    // alice (assigned in epoch 1) gets the same address, and carol gets a key that epoch 1 had buffered.
    await devnet.waitUntilTokensServed(next);
    const fresh = await devnet.oidc.mint({ email: "alice@example.com" });
    const again2 = await login(newNetwork, {
      verifier: VERIFIER_NAME,
      verifierId: "alice@example.com",
      idToken: fresh,
    });
    expect(again2.address).to.equal(alice.address);
    const movedBuffer = new Set([...moved.values()].filter((k) => !k.owner).map((k) => k.publicKey.slice(2, 66)));
    const carol = await getOrAssignKey(
      newNetwork,
      { verifier: VERIFIER_NAME, verifierId: "carol@example.com" },
      { signer: devnet.signer.url },
    );
    expect(movedBuffer.has(carol.publicKey.x), "carol's key was buffered in epoch 1").to.equal(true);
    const carolToken = await devnet.oidc.mint({ email: "carol@example.com" });
    const carolIn = await login(newNetwork, {
      verifier: VERIFIER_NAME,
      verifierId: "carol@example.com",
      idToken: carolToken,
    });
    expect(carolIn.address).to.equal(carol.address);

    // The old nodes answer no share request any more.
    await expectLoginError(
      login(network, { verifier: VERIFIER_NAME, verifierId: "alice@example.com", idToken: fresh }),
      /TOO_FEW_SIGNATURES|epoch 1 has ended/,
    );

    // Key generation continues in epoch 2 from the moved next key index: new keys, each consistent across nodes.
    const firstKeyIndex = Math.max(...keyIndexes) + 1;
    await devnet.waitForKeys(keyIndexes.length + 4, 180_000, undefined, holders);
    const batches = await Promise.all(
      holders.map(async (node) => {
        // A node may see the keys published (a quorum voted) a moment before its own key store holds the batch.
        const file = path.join(node.dataDir, `epoch-${next}`, "keys.sqlite");
        let keys: GeneratedKey[] | undefined;
        for (const until = Date.now() + 60_000; keys === undefined && Date.now() < until;) {
          keys = batchKeys(file, 0);
          if (keys === undefined) await new Promise((r) => setTimeout(r, 500));
        }
        return { index: await devnet.positionOf(node), keys: keys ?? [] };
      }),
    );
    expect(batches[0]!.keys[0]!.keyIndex).to.be.at.least(firstKeyIndex);
    const subset = batches.slice(1, 5);
    const lambdas = lagrangeCoefficients(subset.map((b) => BigInt(b.index)));
    const secret = subset.reduce((acc, b, j) => mod(acc + lambdas[j]! * BigInt("0x" + b.keys[0]!.share)), 0n);
    expect(pointHex(G.multiply(secret))).to.equal(batches[0]!.keys[0]!.publicKey);
  });
});

/** The node's epoch-1 directory holds its RETIRED marker (0600, with the deployment binding) and chain.sqlite only. */
async function expectRetiredDir(node: DevnetNode, withinMs: number): Promise<void> {
  const dir = path.join(node.dataDir, "epoch-1");
  expect(await waitForRetiredDir(dir, withinMs), dir).to.deep.equal(["RETIRED", "chain.sqlite"]);
  const marker = path.join(dir, "RETIRED");
  expect((await stat(marker)).mode & 0o777).to.equal(0o600);
  const { deployment, epoch, attempt } = JSON.parse(await readFile(marker, "utf8")) as {
    deployment: { nodeAddress: string };
    epoch: number;
    attempt: number;
  };
  expect({ nodeAddress: deployment.nodeAddress, epoch, attempt }).to.deep.equal({
    nodeAddress: node.key.address,
    epoch: 1,
    attempt: 0,
  });
}

async function expectLoginError(attempt: Promise<unknown>, pattern: RegExp): Promise<void> {
  const outcome = await attempt.then(
    () => "logged in",
    (error: unknown) => (error instanceof LoginError ? `${error.code}: ${error.message}` : String(error)),
  );
  expect(outcome).to.match(pattern);
}
