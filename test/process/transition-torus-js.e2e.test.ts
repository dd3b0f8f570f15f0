import type { Server } from "node:http";

import { expect } from "chai";

import { login, networkFromDescription } from "../../client/index.ts";
import { epochStateName } from "../../node/chain/epoch-state.ts";
import { addressFromPublicKey } from "../../node/crypto/address.ts";
import { G } from "../../node/crypto/point.ts";
import { VERIFIER_NAME, type Devnet, type DevnetNode } from "../../scripts/lib/devnet-processes.ts";
import { startTorusJsDevnet, torusFor, type TorusJsDevnet } from "../support/torus-js.ts";

type Described = Awaited<ReturnType<Devnet["describe"]>>;

/** torus.js's view of a network description: endpoints, node keys and indexes. */
const torusView = (d: Described) => ({
  endpoints: d.nodes.map((n) => n.endpoint),
  nodePubs: d.nodes.map((n) => ({ X: n.pubX, Y: n.pubY })),
  indexes: d.nodes.map((n) => n.index),
});

describe("users of epoch 1 log in with torus.js and the SDK after a 5 → 9 transition", function () {
  this.timeout(600_000);
  let devnet: Devnet;
  let aux: { url: string; server: Server };
  let network: TorusJsDevnet | undefined;

  before(async function () {
    network = await startTorusJsDevnet("transition-", 18, 12);
    ({ devnet, aux } = network);
  });

  after(async () => network?.stop());

  it("keeps every address: a user assigned in epoch 1, and one assigned in epoch 2 a key epoch 1 had buffered", async function () {
    const torus = torusFor(aux.url);
    const getAddress = (d: Described, verifierId: string) => {
      const { endpoints, nodePubs } = torusView(d);
      return torus.getPublicAddress(endpoints, nodePubs, { verifier: VERIFIER_NAME, verifierId }, true) as Promise<{
        address: string;
      }>;
    };
    const retrieve = async (d: Described, verifierId: string) => {
      const { endpoints, indexes } = torusView(d);
      const idToken = await devnet.oidc.mint({ email: verifierId });
      const { privKey } = await torus.retrieveShares(
        endpoints,
        indexes,
        VERIFIER_NAME,
        { verifier_id: verifierId },
        idToken,
      );
      return addressFromPublicKey(G.multiply(BigInt("0x" + privKey)));
    };

    // Epoch 1: alice gets a key with torus.js and logs in.
    const before = await devnet.describe(true);
    const alice = await getAddress(before, "alice@example.com");
    expect(await retrieve(before, "alice@example.com")).to.equal(alice.address);

    // The transition to nine new nodes runs by itself once governance starts it.
    await devnet.transition(9, 300_000);
    expect(epochStateName((await devnet.nodeList.getEpochStatus(1n)).state)).to.equal("Retired");
    const after = await devnet.describe(true);
    expect(after.epoch).to.deep.equal({ id: 2, n: 9, k: 5, t: 2 });

    // Tokens issued after the completion block's time plus the skew (10 s) are served by epoch 2.
    await devnet.waitUntilTokensServed(2n);

    // alice keeps her address, with torus.js and with the SDK.
    expect((await getAddress(after, "alice@example.com")).address).to.equal(alice.address);
    expect(await retrieve(after, "alice@example.com")).to.equal(alice.address);
    const network = networkFromDescription(after);
    const aliceToken = await devnet.oidc.mint({ email: "alice@example.com" });
    const sdk = await login(network, { verifier: VERIFIER_NAME, verifierId: "alice@example.com", idToken: aliceToken });
    expect(sdk.address).to.equal(alice.address);

    // dave, new, gets a key epoch 1 generated (its index is below where epoch 2's key generation began).
    const dave = await getAddress(after, "dave@example.com");
    const lookup = (await (
      await fetch(after.nodes[0]!.endpoint, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "VerifierLookupRequest",
          params: { verifier: VERIFIER_NAME, verifier_id: "dave@example.com" },
        }),
      })
    ).json()) as { result: { keys: { key_index: string }[] } };
    const firstKeyIndex = (await devnet.status(successorsOf(devnet)[0]!))!.keys.firstKeyIndex;
    expect(Number.parseInt(lookup.result.keys[0]!.key_index, 16)).to.be.below(firstKeyIndex);
    expect(await retrieve(after, "dave@example.com")).to.equal(dave.address);

    // The old nodes no longer answer share requests.
    const refused = await retrieve(before, "alice@example.com").then(
      () => "answered",
      (error: unknown) => String(error),
    );
    expect(refused).to.not.equal("answered");

    // A new node killed with SIGKILL restarts from its disk and serves again: the moved state is replayed from its
    // block store, its moved shares are in its key store, and key generation resumes from the same index.
    const victim = successorsOf(devnet)[3]!;
    const held = (await devnet.status(victim))!.keys.moved;
    expect(held).to.be.at.least(12);
    await devnet.kill(victim);
    devnet.spawn(victim);
    await devnet.waitUntilServing([victim]);
    expect((await devnet.status(victim))!.keys).to.include({ firstKeyIndex, moved: held });
    const daveToken = await devnet.oidc.mint({ email: "dave@example.com" });
    const daveIn = await login(network, {
      verifier: VERIFIER_NAME,
      verifierId: "dave@example.com",
      idToken: daveToken,
    });
    expect(daveIn.address).to.equal(dave.address);
  });
});

function successorsOf(devnet: Devnet): DevnetNode[] {
  return devnet.nodes.filter((node) => node.epoch === 2n);
}
