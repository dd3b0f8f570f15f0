import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { expect } from "chai";

import {
  LoginError,
  getOrAssignKey,
  login,
  networkFromDescription,
  revealQuorum,
  type Network,
} from "../../client/index.ts";
import { JsonRpcClient } from "../../client/jrpc.ts";
import { addressFromPublicKey } from "../../node/crypto/address.ts";
import { G } from "../../node/crypto/point.ts";
import { freePort } from "../../scripts/lib/chain-process.ts";
import { Devnet, VERIFIER_NAME } from "../../scripts/lib/devnet-processes.ts";
import { Prng, envCount } from "../support/prng.ts";

const rpc = new JsonRpcClient(10_000);
const hex64 = (v: bigint) => v.toString(16).padStart(64, "0");

describe("logins against five node processes: the SDK, commit–reveal abuse, and JSON-RPC fuzz", function () {
  this.timeout(300_000);
  let dir: string;
  let devnet: Devnet;
  let network: Network;
  let endpoints: string[];
  let counter = 0;
  const newUser = () => `user${++counter}@example.com`;

  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "login-"));
    devnet = await Devnet.start({ dir, n: 5, chainPort: await freePort(), keyBuffer: 40 });
    await devnet.waitForKeys(20, 120_000);
    const described = await devnet.describe(true);
    endpoints = described.nodes.map((n) => n.endpoint);
    network = networkFromDescription(described);
  });

  after(async function () {
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** A commitment of `token` with the key of `secret`, sent to the given nodes; returns the answers. */
  async function commit(token: string, secret: bigint, to: number[]) {
    const p = G.multiply(secret).toAffine();
    const params = {
      messageprefix: "mug00",
      tokencommitment: bytesToHex(keccak_256(new TextEncoder().encode(token))),
      temppubx: hex64(p.x),
      temppuby: hex64(p.y),
      verifieridentifier: VERIFIER_NAME,
    };
    return Promise.all(to.map((i) => rpc.call(endpoints[i]!, "CommitmentRequest", params)));
  }

  function reveal(token: string, verifierId: string, signatures: unknown[], to = [0, 1, 2, 3, 4]) {
    const params = {
      encrypted: "yes",
      item: [
        { idtoken: token, nodesignatures: signatures, verifieridentifier: VERIFIER_NAME, verifier_id: verifierId },
      ],
    };
    return Promise.all(to.map((i) => rpc.call(endpoints[i]!, "ShareRequest", params)));
  }

  it("getOrAssignKey assigns once, and login returns the private key of that address", async function () {
    const verifierId = newUser();
    const key = await getOrAssignKey(network, { verifier: VERIFIER_NAME, verifierId }, { signer: devnet.signer.url });
    expect(
      await getOrAssignKey(network, { verifier: VERIFIER_NAME, verifierId }, { signer: devnet.signer.url }),
    ).to.deep.equal(key);
    const idToken = await devnet.oidc.mint({ email: verifierId });
    const result = await login(network, { verifier: VERIFIER_NAME, verifierId, idToken });
    expect(result.address).to.equal(key.address);
    expect(addressFromPublicKey(G.multiply(result.privateKey))).to.equal(key.address);
  });

  it("refuses a reveal without commitments, or with commitments of another token", async function () {
    const verifierId = newUser();
    await getOrAssignKey(network, { verifier: VERIFIER_NAME, verifierId }, { signer: devnet.signer.url });
    const token = await devnet.oidc.mint({ email: verifierId });
    for (const answer of await reveal(token, verifierId, []))
      expect(answer.error?.data).to.match(/Not enough valid signatures/);
    const other = await devnet.oidc.mint({ email: verifierId, nonce: "other" });
    const signatures = (await commit(other, 12345n, [0, 1, 2, 3, 4])).map((a) => a.result);
    for (const answer of await reveal(token, verifierId, signatures))
      expect(answer.error?.data).to.match(/Not enough valid signatures/);
  });

  it("needs q signatures: q − 1 fail (no peer holds more), q valid plus one on other data succeed", async function () {
    const q = revealQuorum(5, network.t);
    const verifierId = newUser();
    await getOrAssignKey(network, { verifier: VERIFIER_NAME, verifierId }, { signer: devnet.signer.url });
    const token = await devnet.oidc.mint({ email: verifierId });
    const few = (await commit(token, 777n, [...Array(q - 1).keys()])).map((a) => a.result);
    for (const answer of await reveal(token, verifierId, few))
      expect(answer.error?.data).to.match(/Not enough valid signatures/);

    const token2 = await devnet.oidc.mint({ email: verifierId, nonce: "2" });
    const good = (await commit(token2, 778n, [0, 1, 2, 3, 4])).map((a) => a.result as Record<string, string>);
    const otherData = { ...good[0]!, data: good[0]!.data!.replace("mug00", "mug01") };
    const forged = { ...good[1]!, signature: "00".repeat(64) + "1b" };
    const answers = await reveal(token2, verifierId, [otherData, forged, null, ...good]);
    expect(answers.every((a) => a.result !== undefined)).to.equal(true);
  });

  it("refuses a commitment re-sent with another key (a front-runner), and encrypts only to the key of the q signatures", async function () {
    const verifierId = newUser();
    const { address } = await getOrAssignKey(
      network,
      { verifier: VERIFIER_NAME, verifierId },
      { signer: devnet.signer.url },
    );
    const token = await devnet.oidc.mint({ email: verifierId });
    // The attacker commits the user's token first at one node, with its own key.
    await commit(token, 999n, [0]);
    const userAnswers = await commit(token, 4242n, [0, 1, 2, 3, 4]);
    expect(userAnswers[0]!.error?.data).to.equal("Duplicate token found");
    const signatures = userAnswers.map((a) => a.result).filter(Boolean);
    expect(signatures.length).to.equal(4); // q at n5
    // The reveal (or an intercepted copy of it) gets shares encrypted to the user's key from every node, including
    // the node that recorded the attacker's key.
    const answers = await reveal(token, verifierId, signatures);
    const replay = await reveal(token, verifierId, signatures);
    expect(replay).to.deep.equal(answers);
    expect(answers.every((a) => a.result !== undefined)).to.equal(true);
    const result = await login(network, {
      verifier: VERIFIER_NAME,
      verifierId,
      idToken: await devnet.oidc.mint({ email: verifierId, nonce: "fresh" }),
    });
    expect(result.address).to.equal(address);
  });

  it("refuses a re-encoded token, and a token of another verifier_id", async function () {
    const verifierId = newUser();
    await getOrAssignKey(network, { verifier: VERIFIER_NAME, verifierId }, { signer: devnet.signer.url });
    const token = await devnet.oidc.mint({ email: verifierId });
    const padded = `${token}=`;
    const signatures = (await commit(padded, 31n, [0, 1, 2, 3, 4])).map((a) => a.result);
    for (const answer of await reveal(padded, verifierId, signatures))
      expect(answer.error?.data).to.match(/NON_CANONICAL_TOKEN/);
    const token2 = await devnet.oidc.mint({ email: verifierId, nonce: "x" });
    const sigs2 = (await commit(token2, 32n, [0, 1, 2, 3, 4])).map((a) => a.result);
    for (const answer of await reveal(token2, "mallory@example.com", sigs2))
      expect(answer.error?.data).to.match(/WRONG_VERIFIER_ID/);
  });

  it("assigns no key to a made-up user without the signer, and one to a new user at its first login", async function () {
    const unsigned = await Promise.all(
      endpoints.map((e) =>
        fetch(e, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            jsonrpc: "2.0",
            id: 1,
            method: "KeyAssign",
            params: { verifier: VERIFIER_NAME, verifier_id: "made-up@example.com" },
          }),
        }),
      ),
    );
    expect(unsigned.map((r) => r.status)).to.deep.equal([401, 401, 401, 401, 401]);
    const verifierId = newUser();
    const idToken = await devnet.oidc.mint({ email: verifierId });
    const { address } = await login(network, { verifier: VERIFIER_NAME, verifierId, idToken });
    // Found by lookup: without a signer getOrAssignKey cannot assign, so the login did.
    expect((await getOrAssignKey(network, { verifier: VERIFIER_NAME, verifierId })).address).to.equal(address);
    const lookup = await rpc.call(endpoints[0]!, "VerifierLookupRequest", {
      verifier: VERIFIER_NAME,
      verifier_id: "made-up@example.com",
    });
    expect(lookup.error?.data).to.equal("Verifier + VerifierID has not yet been assigned");
  });

  it("answers ≥ 10,000 malformed JSON-RPC requests with JSON-RPC errors or HTTP 413 only", async function () {
    const prng = new Prng(envCount("FUZZ_SEED", 11));
    const total = envCount("FUZZ_REQUESTS", 10_000);
    const methods = [
      "Ping",
      "VerifierLookupRequest",
      "KeyAssign",
      "KeyLookupRequest",
      "CommitmentRequest",
      "ShareRequest",
      "Nope",
      "",
    ];
    const values: unknown[] = [
      null,
      1,
      -1,
      1e308,
      "",
      "x".repeat(600),
      [],
      {},
      true,
      "04" + "1".repeat(128),
      "zz",
      { a: 1 },
    ];
    const body = (): string => {
      switch (prng.int(0, 7)) {
        case 0:
          return "{not json";
        case 1:
          return JSON.stringify(
            Array.from({ length: prng.int(0, 40) }, () => ({ jsonrpc: "2.0", id: 1, method: "Ping", params: {} })),
          );
        case 2:
          return JSON.stringify({
            jsonrpc: "2.0",
            id: prng.pick(values),
            method: prng.pick(methods),
            params: prng.pick(values),
          });
        case 3:
          return "x".repeat(prng.chance(0.5) ? 300_000 : 10);
        case 4: {
          const params: Record<string, unknown> = {};
          for (const f of [
            "verifier",
            "verifier_id",
            "pub_key_X",
            "pub_key_Y",
            "messageprefix",
            "tokencommitment",
            "temppubx",
            "temppuby",
            "verifieridentifier",
            "item",
          ]) {
            if (prng.chance(0.6)) params[f] = prng.pick(values);
          }
          return JSON.stringify({ jsonrpc: "2.0", id: 7, method: prng.pick(methods), params });
        }
        case 5:
          return JSON.stringify({
            jsonrpc: "2.0",
            id: 7,
            method: "CommitmentRequest",
            params: {
              messageprefix: "mug00",
              tokencommitment: "ab".repeat(32),
              temppubx: "1",
              temppuby: "2",
              verifieridentifier: VERIFIER_NAME,
            },
          });
        case 6:
          return JSON.stringify({
            jsonrpc: "2.0",
            id: 7,
            method: "ShareRequest",
            params: {
              item: [
                {
                  idtoken: prng.pick(values),
                  nodesignatures: [prng.pick(values), { data: "mug00", signature: "00" }],
                  verifieridentifier: VERIFIER_NAME,
                  verifier_id: "a",
                },
              ],
            },
          });
        default:
          return JSON.stringify(prng.pick(values));
      }
    };
    const statuses = new Map<number, number>();
    let index = 0;
    const worker = async () => {
      while (index < total) {
        index++;
        const target = endpoints[prng.int(0, endpoints.length - 1)]!;
        const response = await fetch(target, {
          method: "POST",
          headers: { "content-type": prng.chance(0.95) ? "application/json" : "text/plain" },
          body: body(),
        });
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        const text = await response.text();
        // A KeyAssign without the signer's fields: the Torus node's 401 (the only refusal before JSON-RPC).
        if (response.status === 401) expect(text).to.match(/^Error authenticating, err: /);
        if (response.status === 200) {
          const parsed = JSON.parse(text) as unknown;
          const list = Array.isArray(parsed) ? parsed : [parsed];
          for (const r of list as { jsonrpc?: string; error?: { code: number } }[]) {
            expect(r.jsonrpc).to.equal("2.0");
            if (r.error) expect([-32700, -32600, -32601, -32602, -32603]).to.include(r.error.code);
          }
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(
      [...statuses.keys()].every((s) => s === 200 || s === 413 || s === 401),
      JSON.stringify([...statuses]),
    ).to.equal(true);
    for (const node of devnet.nodes) expect((await devnet.status(node))?.bft.height).to.be.a("number");
  });

  it("answers a replayed reveal after a restart exactly as before (records survive kill -9)", async function () {
    const verifierId = newUser();
    await getOrAssignKey(network, { verifier: VERIFIER_NAME, verifierId }, { signer: devnet.signer.url });
    const token = await devnet.oidc.mint({ email: verifierId });
    const signatures = (await commit(token, 5151n, [0, 1, 2, 3, 4])).map((a) => a.result);
    const first = await reveal(token, verifierId, signatures, [0]);
    await devnet.kill(devnet.nodes[0]!, "SIGKILL");
    devnet.spawn(devnet.nodes[0]!);
    await devnet.waitForKeys(1, 60_000, undefined, [devnet.nodes[0]!]);
    expect(await reveal(token, verifierId, signatures, [0])).to.deep.equal(first);
    // The commitment survived too: another key for it is still refused.
    expect((await commit(token, 6262n, [0]))[0]!.error?.data).to.equal("Duplicate token found");
  });

  it("logs in with n − q nodes down, and stops without revealing when one more is down", async function () {
    const verifierId = newUser();
    await getOrAssignKey(network, { verifier: VERIFIER_NAME, verifierId }, { signer: devnet.signer.url });
    await devnet.kill(devnet.nodes[4]!, "SIGKILL");
    const result = await login(
      network,
      { verifier: VERIFIER_NAME, verifierId, idToken: await devnet.oidc.mint({ email: verifierId }) },
      { timeoutMs: 3000 },
    );
    expect(addressFromPublicKey(G.multiply(result.privateKey))).to.equal(result.address);
    await devnet.kill(devnet.nodes[3]!, "SIGKILL");
    const error = await login(
      network,
      { verifier: VERIFIER_NAME, verifierId, idToken: await devnet.oidc.mint({ email: verifierId, nonce: "3" }) },
      { timeoutMs: 3000 },
    ).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(LoginError).with.property("code", "TOO_FEW_SIGNATURES");
    expect((error as Error).message).to.match(/the token was not revealed/);
  });
});
