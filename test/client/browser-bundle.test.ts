/**
 * The client SDK must run in browsers: bundled for the browser it needs no Node built-in, and the bundle logs a user in
 * inside a `node:vm` context that has only browser globals (no `Buffer`, `process` or `require`), against five fake
 * nodes answering through `fetch`. Their shares are encrypted in Node, by eccrypto (Node's own crypto) and by our
 * `eciesEncrypt`, so a login proves the bundle's ECIES, hashing, hex/base64 and randomness agree with the Node side.
 */
import eccrypto from "@toruslabs/eccrypto";
import { expect } from "chai";
import { build } from "esbuild";

import { addressFromPublicKey } from "../../node/crypto/address.ts";
import { commitmentDomainFields, type Deployment } from "../../node/crypto/domain.ts";
import { eciesEncrypt, eciesToLegacyShare } from "../../node/crypto/ecies.ts";
import { pointToLegacy, toHex } from "../../node/crypto/encoding.ts";
import { bigIntToBytes, randomNonZeroScalar, systemRng } from "../../node/crypto/field.ts";
import { G, pointFromCoordinates, type Point } from "../../node/crypto/point.ts";
import { evaluatePolynomial, randomPolynomial } from "../../node/crypto/polynomial.ts";
import { signTorus } from "../../node/crypto/signature.ts";
import { fromSandbox, runInBrowserSandbox, type SandboxFetch } from "../support/browser-sandbox.ts";

/** The deployment the fake nodes sign for, as a network description names it. */
const DEPLOYMENT: Deployment = {
  chainId: "31337",
  nodeList: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
  deploymentBlockHash: "0x" + "b1".repeat(32),
};

const ENTRY = new URL("../../client/index.ts", import.meta.url).pathname;

async function bundle(format: "esm" | "iife"): Promise<string> {
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    platform: "browser",
    format,
    globalName: format === "iife" ? "SDK" : undefined,
    write: false,
    logLevel: "silent",
  });
  expect(result.errors).to.deep.equal([]);
  expect(result.outputFiles).to.have.length(1);
  return result.outputFiles[0]!.text;
}

/** The part of the SDK these tests call, as seen from outside the vm context. */
interface Sdk {
  login(
    network: unknown,
    user: unknown,
    options?: { onProgress?: (event: Progress) => void },
  ): Promise<{ privateKey: bigint; address: string }>;
  revealQuorum(n: number, t: number): number;
}

/** A login step as the SDK reports it (LoginProgress). */
interface Progress {
  node: number;
  index: number;
  endpoint: string;
  step: string;
  reason?: string;
}

const loadSdk = (iife: string, fetch: SandboxFetch) => runInBrowserSandbox<Sdk>(iife, fetch);

/**
 * Five nodes (t = 1, so the login needs q = 4 signatures and k = 3 shares) holding shares of `secret`. Nodes 1 to 3
 * answer ShareRequest honestly, node 4 with a tampered MAC and node 5 with an error: the login succeeds only if the
 * bundle decrypts all three honest shares and skips the bad one.
 */
function fakeNetwork(secret: bigint) {
  const nodeKeys = Array.from({ length: 5 }, () => randomNonZeroScalar(systemRng));
  const polynomial = randomPolynomial(secret, 2, systemRng);
  const publicKey = pointToLegacy(G.multiply(secret));
  const endpoints = nodeKeys.map((_, i) => `https://node${i + 1}.example/jrpc`);
  const calls: string[] = [];
  let tempPublicKey: Point | undefined;

  const answer = async (node: number, method: string, params: Record<string, unknown>): Promise<unknown> => {
    if (method === "CommitmentRequest") {
      const { messageprefix, tokencommitment, temppubx, temppuby, verifieridentifier } = params as Record<
        string,
        string
      >;
      tempPublicKey = pointFromCoordinates(BigInt("0x" + temppubx), BigInt("0x" + temppuby), "temp key");
      const data = [
        messageprefix,
        tokencommitment,
        temppubx,
        temppuby,
        verifieridentifier,
        1_700_000_000,
        ...commitmentDomainFields(DEPLOYMENT, 1),
      ].join("\x1c");
      const { X, Y } = pointToLegacy(G.multiply(nodeKeys[node]!));
      return { result: { signature: signTorus(nodeKeys[node]!, data), data, nodepubx: X, nodepuby: Y } };
    }
    if (method === "ShareRequest") {
      if (node === 4) return { error: { code: -32603, message: "Internal error", data: "node is down" } };
      const share = bigIntToBytes(evaluatePolynomial(polynomial, BigInt(node + 1)));
      // Node 1 encrypts with eccrypto on Node's own crypto, an implementation independent of ours.
      const encrypted =
        node === 0
          ? await eccrypto.encrypt(Buffer.from(tempPublicKey!.toBytes(false)), Buffer.from(share))
          : eciesEncrypt(tempPublicKey!, share, systemRng);
      const legacy = eciesToLegacyShare(encrypted);
      if (node === 3) legacy.Metadata.mac = (legacy.Metadata.mac[0] === "0" ? "1" : "0") + legacy.Metadata.mac.slice(1);
      return { result: { keys: [{ Index: "1", PublicKey: publicKey, ...legacy }] } };
    }
    return { error: { code: -32601, message: "Method not found" } };
  };

  const fetch: SandboxFetch = async (url, init) => {
    const node = endpoints.indexOf(url);
    const request = JSON.parse(init.body) as { id: number; method: string; params: Record<string, unknown> };
    calls.push(`${node + 1}:${request.method}`);
    const body = {
      jsonrpc: "2.0",
      id: request.id,
      ...((await answer(node, request.method, request.params)) as object),
    };
    return new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });
  };

  const network = {
    endpoints,
    indexes: [1, 2, 3, 4, 5],
    nodePublicKeys: nodeKeys.map((key) => {
      const { x, y } = G.multiply(key).toAffine();
      return { x: x.toString(16), y: y.toString(16) };
    }),
    t: 1,
    deployment: DEPLOYMENT,
    epoch: 1,
  };
  return { network, fetch, calls };
}

describe("client SDK in a browser", function () {
  let iife: string;
  before(async function () {
    iife = await bundle("iife");
  });

  it("bundles for the browser without Node built-ins or Buffer", async function () {
    const code = await bundle("esm");
    // Covers `require("node:…")`, `from "node:…"` and `import("node:…")`.
    expect(code).to.not.match(/["']node:/);
    // \b keeps ArrayBuffer, which browsers have, from matching.
    expect(code).to.not.match(/\bBuffer\b/);
  });

  it("logs in from the bundle in a context with only browser globals", async function () {
    const secret = randomNonZeroScalar(systemRng);
    const { network, fetch, calls } = fakeNetwork(secret);
    const user = { verifier: "google", verifierId: "alice@example.com", idToken: "header.payload.signature" };
    const { privateKey, address } = await fromSandbox(() => {
      const sdk = loadSdk(iife, fetch);
      expect(sdk.revealQuorum(5, 1)).to.equal(4);
      return sdk.login(network, user);
    });

    expect(privateKey === secret, "the bundle interpolated another key").to.equal(true);
    expect(address).to.equal(addressFromPublicKey(G.multiply(secret)));
    expect(calls.filter((c) => c.endsWith(":CommitmentRequest"))).to.have.length(5);
    expect(calls.filter((c) => c.endsWith(":ShareRequest"))).to.have.length(5);
  });

  it("reports each node's steps, and why a node gave no share, to onProgress", async function () {
    const { network, fetch } = fakeNetwork(randomNonZeroScalar(systemRng));
    const user = { verifier: "google", verifierId: "carol@example.com", idToken: "header.payload.signature" };
    const events: Progress[] = [];
    await fromSandbox(() => loadSdk(iife, fetch).login(network, user, { onProgress: (event) => events.push(event) }));
    const steps = (node: number) => events.filter((e) => e.node === node).map((e) => e.step);
    for (const node of [0, 1, 2])
      expect(steps(node)).to.deep.equal(["committing", "signed", "revealing", "share-received"]);
    // Node 4 sent a share with a tampered MAC, node 5 an error: both are named, with the reason.
    expect(steps(3)).to.deep.equal(["committing", "signed", "revealing", "no-share"]);
    expect(events.find((e) => e.node === 3 && e.step === "no-share")?.reason).to.match(/does not decrypt/);
    expect(events.find((e) => e.node === 4 && e.step === "no-share")?.reason).to.equal("refused: node is down");
    expect(events[0]).to.deep.include({ index: 1, endpoint: "https://node1.example/jrpc" });
  });

  it("names a node that did not sign, and does not stop for a listener that throws", async function () {
    const { network, fetch } = fakeNetwork(randomNonZeroScalar(systemRng));
    const silent: SandboxFetch = (url, init) =>
      url.includes("node2") ? Promise.reject(new TypeError("Failed to fetch")) : fetch(url, init);
    const user = { verifier: "google", verifierId: "dave@example.com", idToken: "header.payload.signature" };
    const events: Progress[] = [];
    const error = await fromSandbox(() =>
      loadSdk(iife, silent).login(network, user, {
        onProgress: (event) => {
          events.push(event);
          throw new Error("a DApp's bug");
        },
      }),
    ).then(
      () => expect.fail("the login returned a key though only 2 shares are good"),
      (e: Error) => e,
    );
    // Node 2 gave no signature and no share; nodes 4 and 5 no usable share: 2 shares, fewer than k.
    expect(error.message).to.match(/^LoginError: only 2 of the 3 shares/);
    expect(events.find((e) => e.node === 1 && e.step === "not-signed")?.reason).to.equal("no answer (Failed to fetch)");
    expect(events.filter((e) => e.step === "signed")).to.have.length(4);
  });

  it("stops in the bundle when fewer than k shares decrypt", async function () {
    // Nodes 4 and 5 are bad already; node 2's share is replaced by zeros, whose MAC fails. Two shares are left, fewer
    // than k = 3, and the login must say so rather than return a key.
    const { network, fetch } = fakeNetwork(randomNonZeroScalar(systemRng));
    const tampering: SandboxFetch = async (url, init) => {
      const body = (await (await fetch(url, init)).json()) as { result?: { keys?: { Share: string }[] } };
      const key = body.result?.keys?.[0];
      if (url.includes("node2") && key) key.Share = btoa(toHex(new Uint8Array(48)));
      return new Response(JSON.stringify(body));
    };
    const user = { verifier: "google", verifierId: "bob@example.com", idToken: "header.payload.signature" };
    const error = await fromSandbox(() => loadSdk(iife, tampering).login(network, user)).then(
      () => expect.fail("login returned a key though only 2 shares are good"),
      (e: Error) => e,
    );
    // fromSandbox has rewrapped the context's LoginError as "LoginError: <message>".
    expect(error.message).to.match(/^LoginError: only 2 of the 3 shares needed arrived/);
  });
});
