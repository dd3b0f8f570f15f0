import { randomUUID } from "node:crypto";
import { createServer, type Server, type ServerResponse } from "node:http";

import { expect } from "chai";

import { addressFromPublicKey } from "../../node/crypto/address.ts";
import { signKeyAssign } from "../../node/api/key-assign-auth.ts";
import { SIGNER_KEY, startTorusJsDevnet, torusFor, type TorusJsDevnet } from "../support/torus-js.ts";
import { G, pointFromCoordinates } from "../../node/crypto/point.ts";
import { freePort } from "../../scripts/lib/chain-process.ts";
import { VERIFIER_NAME, type Devnet } from "../../scripts/lib/devnet-processes.ts";

describe("compatibility: @toruslabs/torus.js@8.0.1 logs in against a 5-node network", function () {
  this.timeout(300_000);
  let devnet: Devnet;
  let aux: { url: string; server: Server };
  let network: TorusJsDevnet | undefined;

  before(async function () {
    network = await startTorusJsDevnet("torusjs-", 30, 6);
    ({ devnet, aux } = network);
  });

  const newTorus = () => torusFor(aux.url);

  after(async () => network?.stop());

  it("assigns a key with getPublicAddress, and retrieveShares returns its private key", async function () {
    const network = await devnet.describe(true);
    const endpoints = network.nodes.map((n) => n.endpoint);
    const nodePubs = network.nodes.map((n) => ({ X: n.pubX, Y: n.pubY }));
    const indexes = network.nodes.map((n) => n.index);
    const torus = newTorus();
    const verifierId = "alice@example.com";
    const user = (await torus.getPublicAddress(endpoints, nodePubs, { verifier: VERIFIER_NAME, verifierId }, true)) as {
      address: string;
      X: string;
      Y: string;
    };
    // A second lookup finds the same key (no second assignment).
    const again = (await torus.getPublicAddress(
      endpoints,
      nodePubs,
      { verifier: VERIFIER_NAME, verifierId },
      true,
    )) as { address: string };
    expect(again.address).to.equal(user.address);

    const idToken = await devnet.oidc.mint({ email: verifierId });
    const result = await torus.retrieveShares(endpoints, indexes, VERIFIER_NAME, { verifier_id: verifierId }, idToken);
    expect(result.ethAddress).to.equal(user.address);
    const publicKey = G.multiply(BigInt("0x" + result.privKey));
    expect(addressFromPublicKey(publicKey)).to.equal(user.address);
  });

  it("refuses a KeyAssign the configured signer did not sign, or signed once already, with HTTP 401", async function () {
    const network = await devnet.describe(true);
    const node = network.nodes[2]!;
    const nodeKey = pointFromCoordinates(BigInt("0x" + node.pubX), BigInt("0x" + node.pubY), "node");
    const request = (verifierId: string) =>
      JSON.stringify({
        jsonrpc: "2.0",
        method: "KeyAssign",
        id: 10,
        params: { verifier: VERIFIER_NAME, verifier_id: verifierId },
      });
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(node.endpoint, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
    const lookup = async (verifierId: string) => {
      const body = JSON.stringify({
        jsonrpc: "2.0",
        method: "VerifierLookupRequest",
        id: 1,
        params: { verifier: VERIFIER_NAME, verifier_id: verifierId },
      });
      return ((await (await post(body)).json()) as { result?: unknown }).result;
    };

    const unsigned = await post(request("mallory@example.com"));
    expect(unsigned.status).to.equal(401);
    expect(await unsigned.text()).to.match(/^Error authenticating, err: .*required/);
    const forged = await post(
      request("mallory@example.com"),
      signKeyAssign(0x666n, request("mallory@example.com"), nodeKey, "x"),
    );
    expect(forged.status).to.equal(401);
    expect(await lookup("mallory@example.com")).to.equal(undefined);

    const body = request("carol@example.com");
    const signed = signKeyAssign(SIGNER_KEY, body, nodeKey, randomUUID());
    const first = await post(body, signed);
    expect(first.status).to.equal(200);
    const assigned = (await first.json()) as { result: { keys: { address: string }[] } };
    const replayed = await post(body, signed);
    expect(replayed.status).to.equal(401);
    expect(await replayed.text()).to.match(/already used/);
    // The replay changed nothing: the user keeps the one key.
    expect(await lookup("carol@example.com")).to.deep.equal(assigned.result);
  });

  it("logs in when a Byzantine node answers the commitment first with a bad signature (nodes fetch the missing ones)", async function () {
    const network = await devnet.describe(true);
    // A proxy in front of node 1 answers CommitmentRequest at once with a forged signature and forwards the rest; a
    // proxy in front of node 2 holds back its CommitmentRequest answers, so that torus.js (which goes on after four)
    // forwards the forged one and only three valid ones: the nodes must fetch node 2's signature from it.
    const forward = async (target: URL, body: string, response: ServerResponse, answerAfterMs = 0) => {
      const r = await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body });
      const text = await r.text();
      await new Promise((resolve) => setTimeout(resolve, answerAfterMs));
      response.writeHead(r.status, { "content-type": "application/json" });
      response.end(text);
    };
    const proxies = await Promise.all(
      [0, 1].map(async (i) => {
        const target = new URL(network.nodes[i]!.endpoint);
        const server = createServer((request, response) => {
          let body = "";
          request.on("data", (chunk: Buffer) => (body += chunk.toString()));
          request.on("end", () => {
            const parsed = JSON.parse(body) as { id: unknown; method: string; params: Record<string, string> };
            if (parsed.method !== "CommitmentRequest") return void forward(target, body, response);
            // Node 2 signs at once, but its answer reaches torus.js only after it has moved on.
            if (i === 1) return void forward(target, body, response, 1500);
            const p = parsed.params;
            const data = [
              "mug00",
              p.tokencommitment,
              p.temppubx,
              p.temppuby,
              p.verifieridentifier,
              Math.floor(Date.now() / 1000),
            ].join("\x1c");
            const forged = {
              signature: "ab".repeat(64) + "1b",
              data,
              nodepubx: network.nodes[0]!.pubX,
              nodepuby: network.nodes[0]!.pubY,
            };
            response.writeHead(200, { "content-type": "application/json" });
            response.end(JSON.stringify({ jsonrpc: "2.0", id: parsed.id, result: forged }));
          });
        });
        const port = await freePort();
        await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
        return { server, endpoint: `http://127.0.0.1:${port}/jrpc` };
      }),
    );
    try {
      const endpoints = [...proxies.map((p) => p.endpoint), ...network.nodes.slice(2).map((n) => n.endpoint)];
      const nodePubs = network.nodes.map((n) => ({ X: n.pubX, Y: n.pubY }));
      const torus = newTorus();
      const verifierId = "bob@example.com";
      const user = (await torus.getPublicAddress(
        endpoints,
        nodePubs,
        { verifier: VERIFIER_NAME, verifierId },
        true,
      )) as { address: string };
      const idToken = await devnet.oidc.mint({ email: verifierId });
      const indexes = network.nodes.map((n) => n.index);
      const fetches = async () => {
        let total = 0;
        for (const node of devnet.nodes) {
          const text = await (await fetch(`${node.apiUrl}/metrics`)).text();
          total += Number(/^torus_peer_signature_fetches_total (\d+)$/m.exec(text)?.[1] ?? 0);
        }
        return total;
      };
      const before = await fetches();
      const result = await torus.retrieveShares(
        endpoints,
        indexes,
        VERIFIER_NAME,
        { verifier_id: verifierId },
        idToken,
      );
      expect(result.ethAddress).to.equal(user.address);
      // torus.js forwarded the forged answer among the first four, so the nodes had to fetch a signature.
      expect(await fetches()).to.be.greaterThan(before);
    } finally {
      for (const p of proxies) p.server.close();
    }
  });
});
