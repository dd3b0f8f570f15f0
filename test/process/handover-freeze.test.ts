import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";
import { Wallet, parseEther } from "ethers";

import { getOrAssignKey, login, networkFromDescription, type Network } from "../../client/index.ts";
import { JsonRpcClient } from "../../client/jrpc.ts";
import { thresholdsFor } from "../../node/chain/thresholds.ts";
import { freePort } from "../../scripts/lib/chain-process.ts";
import { Devnet, VERIFIER_NAME } from "../../scripts/lib/devnet-processes.ts";
import * as ops from "../../scripts/lib/operations.ts";

const rpc = new JsonRpcClient(10_000);

describe("the handover freeze on five node processes", function () {
  this.timeout(300_000);
  let dir: string;
  let devnet: Devnet;
  let network: Network;

  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "freeze-"));
    devnet = await Devnet.start({ dir, n: 5, chainPort: await freePort(), keyBuffer: 24 });
    await devnet.waitForKeys(12, 120_000);
    const described = await devnet.describe(true);
    network = networkFromDescription(described);
  });

  after(async function () {
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("stops assigning once the chain starts the transition, and keeps serving lookups and logins", async function () {
    const alice = await getOrAssignKey(network, { verifier: VERIFIER_NAME, verifierId: "alice@example.com" });

    // Governance creates epoch 2, its five nodes register (they need not run for the freeze), and starts the handover.
    const governance = await devnet.provider.getSigner(0);
    const next = await ops.createEpoch(devnet.nodeList, thresholdsFor(5));
    const keys = Array.from({ length: 5 }, () => new Wallet(Wallet.createRandom().privateKey, devnet.provider));
    await ops.whitelistNodes(
      devnet.nodeList,
      next,
      keys.map((k) => k.address),
    );
    for (const [i, key] of keys.entries()) {
      await (await governance.sendTransaction({ to: key.address, value: parseEther("1") })).wait();
      await ops.registerNode(devnet.nodeList, next, key, {
        declaredIp: `127.0.0.1:${7100 + i}`,
        p2pListenAddress: `/ip4/127.0.0.1/tcp/${9100 + i}`,
      });
    }
    await ops.startTransition(devnet.nodeList, next);

    // The nodes vote on their BFT network to freeze; then a new user gets the specific, retryable error everywhere.
    // (Users that ask before the nodes see the chain's event are still assigned: each attempt is a new user.)
    let user = { verifier: VERIFIER_NAME, verifier_id: "" };
    let refusals: string[] = [];
    for (let attempt = 0, until = Date.now() + 60_000; Date.now() < until; attempt++) {
      user = { verifier: VERIFIER_NAME, verifier_id: `bob${attempt}@example.com` };
      const answers = await Promise.all(network.endpoints.map((e) => rpc.call(e, "KeyAssign", user)));
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
    const again = await getOrAssignKey(network, { verifier: VERIFIER_NAME, verifierId: "alice@example.com" });
    expect(again.address).to.equal(alice.address);
    const idToken = await devnet.oidc.mint({ email: "alice@example.com" });
    const loggedIn = await login(network, { verifier: VERIFIER_NAME, verifierId: "alice@example.com", idToken });
    expect(loggedIn.address).to.equal(alice.address);
  });
});
