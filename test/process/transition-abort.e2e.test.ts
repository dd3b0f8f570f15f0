import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import { getOrAssignKey, keyAssign, login, networkFromDescription } from "../../client/index.ts";
import { JsonRpcClient } from "../../client/jrpc.ts";
import { epochStateName, pssStatusName } from "../../node/chain/epoch-state.ts";
import type { ReceiverRecord } from "../../node/pss/receiver-records.ts";
import { freePort } from "../../scripts/lib/chain-process.ts";
import { Devnet, VERIFIER_NAME, type DevnetNode } from "../../scripts/lib/devnet-processes.ts";
import * as ops from "../../scripts/lib/operations.ts";
import { readRecords } from "../support/record-rows.ts";

const rpc = new JsonRpcClient(10_000);

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await condition());) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe("an aborted transition, and its retry, between node processes", function () {
  this.timeout(600_000);
  let dir: string;
  let devnet: Devnet;

  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "abort-"));
    devnet = await Devnet.start({ dir, n: 5, chainPort: await freePort(), keyBuffer: 12 });
    await devnet.waitForKeys(12, 120_000);
  });

  after(async function () {
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps the old epoch serving after an abort, erases what the new nodes received, and completes on a retry", async function () {
    const network = networkFromDescription(await devnet.describe(true));
    const alice = await getOrAssignKey(
      network,
      { verifier: VERIFIER_NAME, verifierId: "alice@example.com" },
      { signer: devnet.signer.url },
    );
    const endpoints = network.endpoints;

    // Epoch 2's five nodes list themselves; two then go down, so the handover cannot gather k + t readies.
    const { epoch: next, nodes: successors } = await devnet.addSuccessorEpoch(5);
    const [up, down] = [successors.slice(0, 3), successors.slice(3)];
    for (const node of down) await devnet.kill(node);
    await ops.startTransition(devnet.nodeList, next);

    // The old epoch freezes; the three running new nodes receive what the old ones deal.
    let attempt = 0; // a new user each time: a user assigned before the freeze keeps its key
    await until("the old epoch to freeze", async () => {
      const user = { verifier: VERIFIER_NAME, verifier_id: `bob${attempt++}@x` };
      const answer = await keyAssign(rpc, endpoints[0]!, network.nodePublicKeys[0]!, user, {
        signer: devnet.signer.url,
      });
      return answer.error?.data?.includes(`handing over to epoch ${next}`) ?? false;
    });
    const pssRecords = (node: DevnetNode) => path.join(node.dataDir, `epoch-${next}`, "pss.sqlite");
    const holdsMoved = (node: DevnetNode) => {
      try {
        return readRecords<ReceiverRecord>(pssRecords(node)).some((r) => r.kind === "records");
      } catch {
        return false; // not created yet
      }
    };
    await until("the running new nodes to hold moved records", () => Promise.resolve(up.every(holdsMoved)));
    expect(epochStateName((await devnet.nodeList.getEpochStatus(next)).state)).to.equal("Ready");

    // Meanwhile the running new nodes are connected (three of five: too few for their BFT network to commit) and
    // serve no client: /healthz says why, and JSON-RPC answers a specific error.
    for (const node of up) {
      let status = await devnet.status(node);
      await until(`new node ${node.slot} to reach its peers`, async () => {
        status = await devnet.status(node);
        return (status?.peersConnected ?? 0) >= 2;
      });
      // The two other running new nodes, and the five old ones that deal to it.
      expect(status?.peersConnected, `new node ${node.slot} connected to its peers`).to.be.at.least(2);
      expect(status?.handoverFrom).to.equal(1);
      const health = await fetch(`${node.apiUrl}/healthz`);
      expect(health.status).to.equal(503);
      const answer = await rpc.call(`${node.apiUrl}/jrpc`, "VerifierLookupRequest", {
        verifier: VERIFIER_NAME,
        verifier_id: "alice@example.com",
      });
      expect(answer.error?.data).to.equal(
        `this node refuses to serve: epoch ${next} is taking over from epoch 1: the handover is in progress`,
      );
    }

    // Governance aborts: the old nodes thaw their state on their BFT network and assign new users again.
    await ops.abortTransition(devnet.nodeList, next);
    expect(pssStatusName(await devnet.nodeList.getPssStatus(1n, next))).to.equal("Aborted");
    let carol = "";
    await until("the old epoch to thaw", async () => {
      const answer = await keyAssign(
        rpc,
        endpoints[0]!,
        network.nodePublicKeys[0]!,
        { verifier: VERIFIER_NAME, verifier_id: "carol@x" },
        { signer: devnet.signer.url },
      );
      carol = answer.error?.data ?? "assigned";
      return carol === "assigned";
    });
    const carolBefore = await getOrAssignKey(
      network,
      { verifier: VERIFIER_NAME, verifierId: "carol@x" },
      { signer: devnet.signer.url },
    );
    const idToken = await devnet.oidc.mint({ email: "alice@example.com" });
    expect(
      (await login(network, { verifier: VERIFIER_NAME, verifierId: "alice@example.com", idToken })).address,
    ).to.equal(alice.address);

    // The running new nodes erased what they received and wait, still running, for a retry.
    for (const node of up) {
      await until(`new node ${node.slot} to erase the attempt`, async () =>
        stat(path.join(node.dataDir, `epoch-${next}`)).then(
          () => false,
          () => true,
        ),
      );
      expect(node.process?.exitCode, `new node ${node.slot} is still running`).to.equal(null);
      expect(await readFile(node.logFile, "utf8")).to.contain("the handover attempt was aborted");
    }

    // The retry, with every new node up, completes; alice keeps her address at epoch 2 and carol has hers.
    for (const node of down) devnet.spawn(node);
    await ops.startTransition(devnet.nodeList, next);
    await until(
      "epoch 2 to be current",
      async () => epochStateName((await devnet.nodeList.getEpochStatus(next)).state) === "Current",
      240_000,
    );
    expect((await devnet.nodeList.getEpochStatus(next)).transitionAttempt).to.equal(2n);
    await devnet.waitUntilServing(successors);
    const newNetwork = networkFromDescription(await devnet.describe(true));
    await devnet.waitUntilTokensServed(next);
    const fresh = await devnet.oidc.mint({ email: "alice@example.com" });
    const again = await login(newNetwork, { verifier: VERIFIER_NAME, verifierId: "alice@example.com", idToken: fresh });
    expect(again.address).to.equal(alice.address);
    const carolKey = await getOrAssignKey(
      newNetwork,
      { verifier: VERIFIER_NAME, verifierId: "carol@x" },
      { signer: devnet.signer.url },
    );
    const carolIn = await login(newNetwork, {
      verifier: VERIFIER_NAME,
      verifierId: "carol@x",
      idToken: await devnet.oidc.mint({ email: "carol@x" }),
    });
    expect([carolKey.address, carolIn.address]).to.deep.equal([carolBefore.address, carolBefore.address]);
  });
});
