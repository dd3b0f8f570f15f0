/**
 * The devnet's development KeyAssign signer (torus.js's `signerHost`): what it signs a node accepts, it signs only
 * KeyAssign requests, allows any origin, and limits each source.
 */
import { expect } from "chai";

import { KeyAssignAuth } from "../../node/api/key-assign-auth.ts";
import { G, pointFromCoordinates } from "../../node/crypto/point.ts";
import { freePort } from "../../scripts/lib/chain-process.ts";
import { startDevSigner, type DevSigner } from "../../scripts/lib/dev-signer.ts";

describe("the development KeyAssign signer", function () {
  let signer: DevSigner;
  const node = G.multiply(0xabcdefn);
  const request = { jsonrpc: "2.0", id: 3, method: "KeyAssign", params: { verifier: "dev", verifier_id: "a@b.c" } };
  const ask = (body: string, headers: Record<string, string> = {}) =>
    fetch(signer.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        pubKeyX: node.x.toString(16),
        pubKeyY: node.y.toString(16),
        ...headers,
      },
      body,
    });

  beforeEach(async () => (signer = await startDevSigner(await freePort(), { perSecond: 1 })));
  afterEach(async () => signer.stop());

  it("signs a KeyAssign that the node trusting its key accepts, merged into the body as torus.js sends it", async function () {
    const body = JSON.stringify(request);
    const response = await ask(body);
    expect(response.status).to.equal(200);
    expect(response.headers.get("access-control-allow-origin")).to.equal("*");
    const fields = (await response.json()) as Record<string, string>;
    const key = pointFromCoordinates(
      BigInt("0x" + signer.publicKey.pubKeyX),
      BigInt("0x" + signer.publicKey.pubKeyY),
      "signer",
    );
    const merged = { ...request, ...fields };
    expect(new KeyAssignAuth(key, node).check(JSON.stringify(merged), merged, {})).to.equal(undefined);
    // Another devnet's signer is another key: its signature is refused.
    const other = await startDevSigner(await freePort());
    try {
      const foreign = pointFromCoordinates(
        BigInt("0x" + other.publicKey.pubKeyX),
        BigInt("0x" + other.publicKey.pubKeyY),
        "signer",
      );
      expect(new KeyAssignAuth(foreign, node).check(JSON.stringify(merged), merged, {})).to.match(/signature/);
    } finally {
      await other.stop();
    }
  });

  it("answers a CORS preflight, refuses what is not a KeyAssign, and limits each source", async function () {
    const preflight = await fetch(signer.url, { method: "OPTIONS" });
    expect(preflight.status).to.equal(204);
    expect(preflight.headers.get("access-control-allow-headers")).to.equal("*");
    expect((await ask(JSON.stringify({ ...request, method: "ShareRequest" }))).status).to.equal(400);
    expect((await ask(JSON.stringify(request), { pubKeyX: "zz" })).status).to.equal(400);
    // perSecond 1, burst 4: the two refusals above were charged too, so two more pass and the next is refused.
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await ask(JSON.stringify(request))).status);
    expect(statuses).to.deep.equal([200, 200, 429]);
  });
});
