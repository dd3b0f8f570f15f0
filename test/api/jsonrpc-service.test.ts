import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { expect } from "chai";
import type { FastifyInstance } from "fastify";

import { API_ERRORS, type ApiErrorName, type JsonRpcErrorObject } from "../../node/api/errors.ts";
import { signKeyAssign } from "../../node/api/key-assign-auth.ts";
import { DrainMeter } from "../../node/api/drain.ts";
import { newApiMeter } from "../../node/api/methods.ts";
import { buildApiServer, MAX_BODY_BYTES } from "../../node/api/server.ts";
import type { ApiSettings, AssignOutcome } from "../../node/api/service.ts";
import type { VerifierConfig } from "../../node/config.ts";
import { addressFromPublicKey } from "../../node/crypto/address.ts";
import { eciesDecrypt, eciesFromLegacyShare } from "../../node/crypto/ecies.ts";
import { bytesToBigInt } from "../../node/crypto/field.ts";
import { reconstructSecret } from "../../node/crypto/lagrange.ts";
import { G } from "../../node/crypto/point.ts";
import { commitmentDomainFields } from "../../node/crypto/domain.ts";
import { signTorus, verifyTorus } from "../../node/crypto/signature.ts";
import { MemoryStore } from "../../node/store/memory-store.ts";
import { freePort } from "../../scripts/lib/chain-process.ts";
import { DEV_AUDIENCE, startDevOidc, type DevOidc } from "../../scripts/lib/dev-oidc.ts";
import { DelayedStore } from "../support/delayed-store.ts";
import { FAKE_DEPLOYMENT, FakeKeyNetwork, fakeStatusSource, type FakeKeyService } from "../support/fake-key-network.ts";

interface Answer {
  jsonrpc?: string;
  id?: unknown;
  result?: unknown;
  error?: JsonRpcErrorObject;
}
type Json = Record<string, unknown>;

const hex64 = (v: bigint) => v.toString(16).padStart(64, "0");
const commitmentOf = (token: string) => bytesToHex(keccak_256(new TextEncoder().encode(token)));
/** What the fake network's signatures name: its deployment and epoch 1. */
const OWN_DOMAIN = commitmentDomainFields(FAKE_DEPLOYMENT, 1);

describe("the JSON-RPC API over an in-memory key service (every method, every error)", function () {
  this.timeout(20_000);
  let oidc: DevOidc;
  let settings: ApiSettings;
  let network: FakeKeyNetwork;
  let servers: FastifyInstance[];
  let logged: unknown[];
  const seen = new Set<ApiErrorName>();

  before(async function () {
    oidc = await startDevOidc(await freePort());
    const verifier = (name: string, jwksUri: string): VerifierConfig => ({
      name,
      issuer: oidc.issuer,
      jwksUri,
      audience: DEV_AUDIENCE,
      verifierIdClaim: "email",
      maxTokenAgeSeconds: 600,
      algorithms: ["RS256"],
    });
    // "down" has its keys at a port nothing listens on: the node cannot fetch them.
    const deadJwks = `http://127.0.0.1:${await freePort()}/jwks`;
    settings = {
      verifiers: [verifier("dev", oidc.jwksUri), verifier("down", deadJwks)],
      keyAssignPerSecond: 1000,
      commitmentsPerSecond: 1000,
      // The methods' own behaviour is tested open; "the KeyAssign faucet" below tests the protected default.
      keyAssignMode: "open",
    };
  });
  after(async () => oidc?.stop());

  /** A server over `service`, with short client waits so the timeout paths take milliseconds. */
  const serverFor = (service: FakeKeyService, overrides: Partial<ApiSettings> = {}, meter = newApiMeter()) =>
    buildApiServer({
      service,
      status: fakeStatusSource(service),
      settings: { ...settings, ...overrides },
      log: { error: (details) => logged.push(details) },
      timeouts: { keyAssignMs: 100, peerSignaturesMs: 100 },
      meter,
    });

  beforeEach(function () {
    network = new FakeKeyNetwork();
    servers = network.nodes.map((node) => serverFor(node));
    logged = [];
  });
  afterEach(async () => Promise.all(servers.map((s) => s.close())));

  async function post(
    app: FastifyInstance,
    payload: string,
    options: { headers?: Record<string, string>; ip?: string } = {},
  ) {
    const response = await app.inject({
      method: "POST",
      url: "/jrpc",
      headers: { "content-type": "application/json", ...options.headers },
      payload,
      ...(options.ip ? { remoteAddress: options.ip } : {}),
    });
    return response;
  }

  /** One JSON-RPC call; every answer must be HTTP 200 JSON-RPC 2.0 with the request's id. */
  async function call(method: string, params: unknown, node = 1, options: { ip?: string } = {}): Promise<Answer> {
    const response = await post(
      servers[node - 1]!,
      JSON.stringify({ jsonrpc: "2.0", id: 10, method, params }),
      options,
    );
    expect(response.statusCode, response.body).to.equal(200);
    const answer = response.json<Answer>();
    expect(answer.jsonrpc).to.equal("2.0");
    expect(answer.id).to.equal(10);
    return answer;
  }

  /** The answer is exactly this error of the table (the literal pins the wire strings, the name the table entry). */
  function expectError(answer: Answer, name: ApiErrorName, expected: JsonRpcErrorObject): void {
    expect(answer.result, `expected ${name}`).to.equal(undefined);
    expect(answer.error).to.deep.equal(expected);
    expect(API_ERRORS[name].code).to.equal(expected.code);
    expect(API_ERRORS[name].message).to.equal(expected.message);
    seen.add(name);
  }
  const invalidParam = (answer: Answer, data: string) =>
    expectError(answer, "INVALID_PARAM", { code: -32602, message: "Invalid params", data });

  const user = (verifierId: string, verifier = "dev") => ({ verifier, verifier_id: verifierId });

  async function commit(token: string, tempSecret: bigint, nodes: number[], verifier = "dev"): Promise<Answer[]> {
    const p = G.multiply(tempSecret);
    const params = {
      messageprefix: "mug00",
      tokencommitment: commitmentOf(token),
      temppubx: hex64(p.x),
      temppuby: hex64(p.y),
      verifieridentifier: verifier,
      timestamp: "ignored", // torus.js sends it; the node ignores it
    };
    return Promise.all(nodes.map((node) => call("CommitmentRequest", params, node)));
  }

  const reveal = (
    node: number,
    token: string,
    verifierId: string,
    signatures: unknown[],
    verifier = "dev",
    options: { ip?: string } = {},
  ) =>
    call(
      "ShareRequest",
      {
        encrypted: "yes",
        item: [{ idtoken: token, nodesignatures: signatures, verifieridentifier: verifier, verifier_id: verifierId }],
      },
      node,
      options,
    );

  describe("the envelope", function () {
    it("answers malformed JSON with a parse error, HTTP 200", async function () {
      const response = await post(servers[0]!, '{"jsonrpc": "2.0", "method": ');
      expect(response.statusCode).to.equal(200);
      const answer = response.json<Answer>();
      expect(answer.id).to.equal(null);
      expectError(answer, "PARSE_ERROR", { code: -32700, message: "Parse error" });
    });

    it("refuses a body that is not JSON by its Content-Type", async function () {
      // (fastify parses text/plain bodies as text, which then go on as JSON: as before this change.)
      const response = await post(servers[0]!, "{}", {
        headers: { "content-type": "application/x-www-form-urlencoded" },
      });
      expect(response.statusCode).to.equal(200);
      expectError(response.json<Answer>(), "NOT_JSON", {
        code: -32600,
        message: "Invalid Request",
        data: "Content-Type must be application/json",
      });
    });

    it("refuses requests that are not JSON-RPC 2.0 (version, method, id), answering with id null", async function () {
      for (const request of [
        { jsonrpc: "1.0", id: 1, method: "Ping" },
        { id: 1, method: "Ping" },
        { jsonrpc: "2.0", id: 1, method: 5 },
        { jsonrpc: "2.0", id: { a: 1 }, method: "Ping" },
        "Ping",
        null,
      ]) {
        const answer = (await post(servers[0]!, JSON.stringify(request))).json<Answer>();
        expect(answer.id, JSON.stringify(request)).to.equal(null);
        expectError(answer, "INVALID_REQUEST", { code: -32600, message: "Invalid Request" });
      }
    });

    it("answers an unknown method with its id", async function () {
      expectError(await call("ConnectionDetails", {}), "METHOD_NOT_FOUND", {
        code: -32601,
        message: "Method not found",
      });
    });

    it("refuses params that are not an object, and reads absent or null params as none", async function () {
      for (const params of [[], "verifier", 7, true]) {
        expectError(await call("VerifierLookupRequest", params), "PARAMS_NOT_OBJECT", {
          code: -32602,
          message: "Invalid params",
          data: "params must be an object",
        });
      }
      expect((await call("Ping", null)).result).to.deep.equal({ message: addressFromPublicKey(network.nodeKeys[0]!) });
      const noParams = await post(servers[0]!, JSON.stringify({ jsonrpc: "2.0", id: 3, method: "Ping" }));
      expect(noParams.json<Answer>().result).to.have.property("message");
    });

    it("answers batches of 1 to 16 in order, and refuses empty or larger ones whole", async function () {
      const ping = (id: number) => ({ jsonrpc: "2.0", id, method: "Ping", params: {} });
      const sixteen = (await post(servers[0]!, JSON.stringify(Array.from({ length: 16 }, (_, i) => ping(i))))).json<
        Answer[]
      >();
      expect(sixteen.map((a) => a.id)).to.deep.equal([...Array(16).keys()]);
      expect(sixteen.every((a) => a.result !== undefined)).to.equal(true);
      for (const size of [0, 17]) {
        const answer = (
          await post(servers[0]!, JSON.stringify(Array.from({ length: size }, (_, i) => ping(i))))
        ).json<Answer>();
        expectError(answer, "BATCH_SIZE", {
          code: -32600,
          message: "Invalid Request",
          data: "a batch holds 1 to 16 requests",
        });
      }
      // One bad member of a batch spoils only its own answer.
      const mixed = (
        await post(servers[0]!, JSON.stringify([ping(1), { jsonrpc: "2.0", id: 2, method: "Nope" }]))
      ).json<Answer[]>();
      expect(mixed[0]!.result).to.have.property("message");
      expect(mixed[1]!.error?.code).to.equal(-32601);
    });

    it("refuses a body over 256 kB with HTTP 413 (the only HTTP-level refusal besides the signer's 401)", async function () {
      const big = JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "Ping",
        params: { pad: "x".repeat(MAX_BODY_BYTES) },
      });
      expect((await post(servers[0]!, big)).statusCode).to.equal(413);
    });

    it("allows any origin, with the signer's headers, on a preflight", async function () {
      const response = await servers[0]!.inject({ method: "OPTIONS", url: "/jrpc" });
      expect(response.statusCode).to.equal(204);
      expect(response.headers["access-control-allow-origin"]).to.equal("*");
      expect(response.headers["access-control-allow-headers"]).to.contain("torus-signature");
    });

    it("answers a failing service with a generic internal error, never a 5xx", async function () {
      network.nodes[0]!.keyShare = () => Promise.reject(new Error("disk on fire"));
      const verifierId = "crash@example.com";
      network.decideAssignment("dev", verifierId);
      const token = await oidc.mint({ email: verifierId });
      const signatures = (await commit(token, 9n, [1, 2, 3, 4])).map((a) => a.result);
      const answer = await reveal(1, token, verifierId, signatures);
      expectError(answer, "UNEXPECTED", { code: -32603, message: "Internal error", data: "unexpected failure" });
      expect(JSON.stringify(answer)).not.to.contain("disk on fire");
      expect(logged.map((d) => (d as { err: Error }).err.message)).to.deep.equal(["disk on fire"]); // the operator sees it
      expect(await network.nodes[0]!.store.reveal(commitmentOf(token))).to.equal(undefined);
    });

    it("answers a result that cannot be sent with an internal error, and logs it", async function () {
      // A stored reveal is answered as it is; one that is not JSON (a bug: the store keeps JSON, so it comes from the
      // ledger here) must still get a JSON-RPC answer.
      const token = "a.b.c";
      network.nodes[0]!.commitments.reveal = (commitment) =>
        Promise.resolve({ commitment, response: { n: 1n }, expiresAt: Date.now() + 60_000 });
      const response = await post(
        servers[0]!,
        JSON.stringify({
          jsonrpc: "2.0",
          id: 4,
          method: "ShareRequest",
          params: { item: [{ idtoken: token, verifieridentifier: "dev", verifier_id: "x" }] },
        }),
      );
      expect(response.statusCode).to.equal(200);
      expectError(response.json<Answer>(), "UNEXPECTED_REQUEST", { code: -32603, message: "Internal error" });
      expect(logged).to.have.length(1);
    });
  });

  describe("each method's params (checked by schema before the method runs; nothing changes)", function () {
    it("names the field of a wrong type, a missing field, or one too long, as the node always did", async function () {
      const cases: [string, Json, string][] = [
        ["VerifierLookupRequest", { verifier_id: "a" }, "verifier must be a string"],
        ["VerifierLookupRequest", { verifier: 1, verifier_id: "a" }, "verifier must be a string"],
        ["VerifierLookupRequest", { verifier: "dev" }, "verifier_id must be a string"],
        ["VerifierLookupRequest", { verifier: "dev", verifier_id: null }, "verifier_id must be a string"],
        ["VerifierLookupRequest", { verifier: "dev", verifier_id: "x".repeat(513) }, "verifier_id is too long"],
        ["KeyAssign", { verifier: "x".repeat(513), verifier_id: "a" }, "verifier is too long"],
        ["KeyAssign", { verifier: "dev", verifier_id: ["a"] }, "verifier_id must be a string"],
        // The first bad field is the one named.
        ["KeyAssign", { verifier: 2, verifier_id: 3 }, "verifier must be a string"],
        ["KeyLookupRequest", { pub_key_Y: "1" }, "pub_key_X must be a hex string"],
        ["KeyLookupRequest", { pub_key_X: "", pub_key_Y: "1" }, "pub_key_X must not be empty"],
        [
          "KeyLookupRequest",
          { pub_key_X: "0x12", pub_key_Y: "1" },
          "pub_key_X must be hex digits only (no 0x, sign or spaces)",
        ],
        [
          "KeyLookupRequest",
          { pub_key_X: "1", pub_key_Y: "1".repeat(65) },
          "pub_key_Y has 65 hex digits, at most 64 allowed",
        ],
        ["KeyLookupRequest", { pub_key_X: "1", pub_key_Y: 12 }, "pub_key_Y must be a hex string"],
      ];
      const commitment = {
        messageprefix: "mug00",
        tokencommitment: "ab".repeat(32),
        temppubx: "1",
        temppuby: "2",
        verifieridentifier: "dev",
      };
      cases.push(
        ["CommitmentRequest", { ...commitment, tokencommitment: 5 }, "tokencommitment must be a string"],
        ["CommitmentRequest", { ...commitment, tokencommitment: "ab".repeat(34) }, "tokencommitment is too long"],
        [
          "CommitmentRequest",
          { ...commitment, tokencommitment: "zz".repeat(32) },
          "tokencommitment must be 64 hex characters",
        ],
        [
          "CommitmentRequest",
          { ...commitment, tokencommitment: "ab".repeat(31) },
          "tokencommitment must be 64 hex characters",
        ],
        ["CommitmentRequest", { ...commitment, verifieridentifier: undefined }, "verifieridentifier must be a string"],
        [
          "CommitmentRequest",
          { ...commitment, temppubx: "g" },
          "temppubx must be hex digits only (no 0x, sign or spaces)",
        ],
        ["CommitmentRequest", { ...commitment, temppuby: {} }, "temppuby must be a hex string"],
      );
      const item = { idtoken: "a.b.c", verifieridentifier: "dev", verifier_id: "a", nodesignatures: [] };
      for (const items of [undefined, [], [item, item], [null], ["x"], [[]], { 0: item }])
        cases.push(["ShareRequest", { item: items }, "item must hold exactly one request"]);
      cases.push(
        ["ShareRequest", { item: [{ ...item, idtoken: 1 }] }, "idtoken must be a string"],
        ["ShareRequest", { item: [{ ...item, idtoken: "x".repeat(16 * 1024 + 1) }] }, "idtoken is too long"],
        ["ShareRequest", { item: [{ ...item, verifieridentifier: false }] }, "verifieridentifier must be a string"],
        ["ShareRequest", { item: [{ ...item, verifier_id: undefined }] }, "verifier_id must be a string"],
      );
      for (const [method, params, data] of cases) {
        const answer = await call(method, params);
        expect(answer.error?.data, `${method} ${JSON.stringify(params).slice(0, 100)}`).to.equal(data);
        invalidParam(answer, data);
      }
      expect(network.assignmentsDecided).to.equal(0);
      expect(network.records).to.equal(0);
    });

    it("answers a wrong or missing message prefix as the Torus node did (-32603)", async function () {
      for (const messageprefix of ["mug01", undefined, 0]) {
        const answer = await call("CommitmentRequest", {
          messageprefix,
          tokencommitment: 5, // also bad, but the prefix is checked first
          verifieridentifier: "dev",
        });
        expectError(answer, "INCORRECT_PREFIX", {
          code: -32603,
          message: "Internal error",
          data: "Incorrect message prefix",
        });
      }
      expect(network.records).to.equal(0);
    });

    it("counts lengths in UTF-16 code units, as before (256 emoji fill a 512-character field)", async function () {
      const emoji = "😀".repeat(256); // 512 code units
      expectError(await call("VerifierLookupRequest", user(emoji)), "NOT_ASSIGNED", {
        code: -32602,
        message: "Input Error",
        data: "Verifier + VerifierID has not yet been assigned",
      });
      invalidParam(await call("VerifierLookupRequest", user(emoji + "a")), "verifier_id is too long");
    });

    it("passes fields it does not read through untouched (the signer's signature covers the body as sent)", async function () {
      const answer = await call("KeyAssign", { ...user("extra@example.com"), network: "local", pad: { a: [1] } });
      expect(answer.result).to.have.property("keys");
    });
  });

  describe("users and keys", function () {
    it("Ping answers the node's checksummed address", async function () {
      const answer = await call("Ping", { message: "hi" }, 3);
      expect(answer.result).to.deep.equal({ message: addressFromPublicKey(network.nodeKeys[2]!) });
    });

    it("VerifierLookupRequest: not assigned, unsupported verifier, empty id (torus.js matches these strings)", async function () {
      expectError(await call("VerifierLookupRequest", user("new@example.com")), "NOT_ASSIGNED", {
        code: -32602,
        message: "Input Error",
        data: "Verifier + VerifierID has not yet been assigned",
      });
      expectError(await call("VerifierLookupRequest", user("a@b.c", "google")), "VERIFIER_NOT_SUPPORTED", {
        code: -32602,
        message: "Input error",
        data: "Verifier not supported",
      });
      expectError(await call("VerifierLookupRequest", user("")), "VERIFIER_ID_EMPTY", {
        code: -32602,
        message: "Input error",
        data: "VerifierID is empty",
      });
    });

    it("KeyAssign assigns once; every node then answers the lookup with byte-identical keys", async function () {
      const first = await call("KeyAssign", user("alice@example.com"), 2);
      const again = await call("KeyAssign", user("alice@example.com"), 4);
      expect(again).to.deep.equal(first);
      expect(network.assignmentsDecided).to.equal(1);
      const key = network.keys[0]!;
      const point = G.multiply(key.secret);
      expect(first.result).to.deep.equal({
        keys: [
          {
            key_index: "0",
            pub_key_X: point.x.toString(16),
            pub_key_Y: point.y.toString(16),
            address: addressFromPublicKey(point),
          },
        ],
      });
      const lookups = await Promise.all(
        [1, 2, 3, 4, 5].map((node) => call("VerifierLookupRequest", user("alice@example.com"), node)),
      );
      for (const lookup of lookups) expect(JSON.stringify(lookup.result)).to.equal(JSON.stringify(first.result));
    });

    it("KeyAssign refuses when no key is free, or the client assigns too fast, and changes nothing", async function () {
      const limited = serverFor(network.nodes[0]!, { keyAssignPerSecond: 1 });
      const assign = async (verifierId: string, ip = "10.0.0.1") =>
        (
          await post(
            limited,
            JSON.stringify({ jsonrpc: "2.0", id: 10, method: "KeyAssign", params: user(verifierId) }),
            { ip },
          )
        ).json<Answer>();
      expect((await assign("u1@example.com")).result).to.have.property("keys");
      expect((await assign("u2@example.com")).result).to.have.property("keys"); // a burst of 2
      expectError(await assign("u3@example.com"), "TOO_MANY_ASSIGNMENTS", {
        code: -32603,
        message: "Internal error",
        data: "too many key assignments; retry later",
      });
      expect((await assign("u3@example.com", "10.0.0.2")).result).to.have.property("keys"); // per client
      expect(network.assignmentsDecided).to.equal(3);
      await limited.close();

      await call("KeyAssign", user("u4@example.com")); // the last free key
      expectError(await call("KeyAssign", user("u5@example.com")), "NO_FREE_KEY", {
        code: -32603,
        message: "Internal error",
        data: "no generated key is free yet; retry later",
      });
      expect(network.assignmentsDecided).to.equal(4);
    });

    it("KeyAssign reports each way the assignment transaction can end", async function () {
      const node = network.nodes[0]!;
      const outcome = (result: AssignOutcome) => () => Promise.resolve(result);
      node.assignWith = outcome({ code: "FROZEN", nextEpoch: 2 });
      expectError(await call("KeyAssign", user("f@example.com")), "HANDING_OVER", {
        code: -32603,
        message: "Internal error",
        data: "the network is handing over to epoch 2; retry after the handover",
      });
      node.assignWith = outcome({ code: "NO_FREE_KEY" });
      expectError(await call("KeyAssign", user("f@example.com")), "NO_FREE_KEY", {
        code: -32603,
        message: "Internal error",
        data: "no generated key is free yet; retry later",
      });
      node.assignWith = outcome({ code: "FAILED" });
      expectError(await call("KeyAssign", user("f@example.com")), "ASSIGN_FAILED", {
        code: -32603,
        message: "Internal error",
        data: "key assignment failed",
      });
      node.assignWith = () => Promise.reject(new Error("the mempool is full"));
      expectError(await call("KeyAssign", user("f@example.com")), "BROADCAST_FAILED", {
        code: -32603,
        message: "Internal error",
        data: "Unable to broadcast: the mempool is full",
      });
      // Refused as a duplicate because another node's client got the same user decided meanwhile: that key is the answer.
      node.assignWith = () => {
        network.decideAssignment("dev", "f@example.com");
        return Promise.reject(new Error("duplicate"));
      };
      const raced = await call("KeyAssign", user("f@example.com"));
      expect(raced.result).to.deep.equal((await call("VerifierLookupRequest", user("f@example.com"))).result);
    });

    it("KeyAssign stops waiting when its signal aborts (the client gets 'timed out')", async function () {
      const node = network.nodes[0]!;
      node.assignWith = (signal) =>
        new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason as Error)));
      const started = Date.now();
      expectError(await call("KeyAssign", user("slow@example.com")), "ASSIGN_TIMED_OUT", {
        code: -32603,
        message: "Internal error",
        data: "key assignment error: timed out",
      });
      expect(Date.now() - started).to.be.below(2000);
      expect(node.lastAssignSignal?.aborted).to.equal(true);
    });

    it("KeyLookupRequest: unknown key, key without owner, and an owner's key in any hex spelling", async function () {
      expectError(await call("KeyLookupRequest", { pub_key_X: "1", pub_key_Y: "2" }), "NO_LOG_OF_PUBLIC_KEY", {
        code: -32602,
        message: "Input error",
        data: "no log of public key",
      });
      const key = network.keys[0]!;
      const spelled = {
        pub_key_X: key.publicKey.x.toUpperCase(),
        pub_key_Y: BigInt("0x" + key.publicKey.y).toString(16),
      };
      expectError(await call("KeyLookupRequest", spelled), "NO_ASSIGNMENT_FOR_PUBLIC_KEY", {
        code: -32602,
        message: "Input error",
        data: "no key assignment found for public key",
      });
      network.decideAssignment("dev", "owner@example.com");
      expect((await call("KeyLookupRequest", spelled)).result).to.deep.equal({
        Index: "0",
        PublicKey: { X: BigInt("0x" + key.publicKey.x).toString(16), Y: BigInt("0x" + key.publicKey.y).toString(16) },
        Threshold: 1,
        Verifiers: { dev: ["owner@example.com"] },
      });
    });
  });

  describe("KeyAssign behind the signer check", function () {
    const signerKey = 0x5157n;
    let signed: FastifyInstance;
    beforeEach(() => {
      const signer = G.multiply(signerKey);
      signed = serverFor(network.nodes[0]!, { keyAssignSigner: { x: signer.x, y: signer.y } });
    });
    afterEach(async () => signed.close());
    const body = (verifierId: string) =>
      JSON.stringify({ jsonrpc: "2.0", method: "KeyAssign", id: 10, params: user(verifierId) });

    it("assigns with the signature merged into the body (as torus.js sends it) or in headers, each once", async function () {
      const merged = (verifierId: string, nonce: string) => {
        const request = JSON.parse(body(verifierId)) as Json;
        return JSON.stringify({
          ...request,
          ...signKeyAssign(signerKey, body(verifierId), network.nodeKeys[0]!, nonce),
        });
      };
      const inBody = merged("carol@example.com", "n1");
      const first = await post(signed, inBody);
      expect(first.statusCode).to.equal(200);
      expect(first.json<Answer>().result).to.have.property("keys");
      const replay = await post(signed, inBody);
      expect(replay.statusCode).to.equal(401);
      expect(replay.body).to.equal("Error authenticating, err: torus-signature was already used");

      const headers = signKeyAssign(signerKey, body("dave@example.com"), network.nodeKeys[0]!, "n2");
      const viaHeaders = await post(signed, body("dave@example.com"), { headers });
      expect(viaHeaders.json<Answer>().result).to.have.property("keys");
      expect(network.assignmentsDecided).to.equal(2);
    });

    it("refuses with HTTP 401 text what the signer did not sign for this node, and assigns nothing", async function () {
      const unsigned = await post(signed, body("mallory@example.com"));
      expect(unsigned.statusCode).to.equal(401);
      expect(unsigned.headers["content-type"]).to.match(/^text\/plain/);
      expect(unsigned.body).to.equal(
        "Error authenticating, err: torus-signature, torus-nonce and torus-timestamp are required",
      );
      const forNode2 = signKeyAssign(signerKey, body("mallory@example.com"), network.nodeKeys[1]!, "n3");
      const wrongNode = await post(signed, body("mallory@example.com"), { headers: forNode2 });
      expect(wrongNode.statusCode).to.equal(401);
      expect(wrongNode.body).to.match(/for this node$/);
      expect(network.assignmentsDecided).to.equal(0);
      // Other methods need no signature.
      const lookup = JSON.stringify({ jsonrpc: "2.0", method: "VerifierLookupRequest", id: 1, params: user("x@y.z") });
      expect((await post(signed, lookup)).statusCode).to.equal(200);
    });
  });

  describe("commit–reveal", function () {
    /** A CommitmentRequest for `token` with temporary key key·G, from the client address `ip`. */
    const commitFrom = (token: string, ip: string, key = 6n) => {
      const p = G.multiply(key);
      return call(
        "CommitmentRequest",
        {
          messageprefix: "mug00",
          tokencommitment: commitmentOf(token),
          temppubx: hex64(p.x),
          temppuby: hex64(p.y),
          verifieridentifier: "dev",
        },
        1,
        { ip },
      );
    };
    it("logs in: q signatures, a token verified against the issuer's JWKS, shares that rebuild the key", async function () {
      const verifierId = "login@example.com";
      const assigned = await call("KeyAssign", user(verifierId));
      const token = await oidc.mint({ email: verifierId });
      const tempSecret = 0xc0ffeen;
      const answers = await commit(token, tempSecret, [1, 2, 3, 4, 5]);
      const data = (answers[0]!.result as Json).data as string;
      const [prefix, commitment, tx, ty, verifier, time, ...domain] = data.split("\x1c");
      expect([prefix, commitment, tx, ty, verifier]).to.deep.equal([
        "mug00",
        commitmentOf(token),
        hex64(G.multiply(tempSecret).x),
        hex64(G.multiply(tempSecret).y),
        "dev",
      ]);
      // The Torus fields, then the deployment and the epoch the signature belongs to.
      expect(domain).to.deep.equal([
        FAKE_DEPLOYMENT.chainId,
        FAKE_DEPLOYMENT.nodeList.toLowerCase(),
        FAKE_DEPLOYMENT.deploymentBlockHash,
        "1",
      ]);
      expect(Math.abs(Number(time) - Date.now() / 1000)).to.be.below(5);
      answers.forEach((answer, i) => {
        const result = answer.result as Record<string, string>;
        expect(result.nodepubx).to.equal(network.nodeKeys[i]!.x.toString(16));
        expect(verifyTorus(network.nodeKeys[i]!, result.data!, result.signature)).to.equal(true);
      });
      // The same request again gets the same signature.
      expect((await commit(token, tempSecret, [1]))[0]).to.deep.equal(answers[0]);

      const signatures = answers.map((a) => a.result);
      const reveals = await Promise.all([1, 2, 3].map((node) => reveal(node, token, verifierId, signatures)));
      const shares = reveals.map((answer, i) => {
        const key = (answer.result as { keys: Json[] }).keys[0]!;
        expect(key.Verifiers).to.deep.equal({ dev: [verifierId] });
        expect(key.Threshold).to.equal(1);
        const message = eciesFromLegacyShare(key.Share, key.Metadata, "share");
        return { index: BigInt(i + 1), value: bytesToBigInt(eciesDecrypt(tempSecret, message)) };
      });
      const privateKey = reconstructSecret(shares, network.k);
      const address = (assigned.result as { keys: { address: string }[] }).keys[0]!.address;
      expect(addressFromPublicKey(G.multiply(privateKey))).to.equal(address);
      // A replayed reveal (its answer was lost) gets the same answer, and nothing new.
      expect(await reveal(1, token, verifierId, signatures)).to.deep.equal(reveals[0]);
      // A revealed token cannot be committed again with another key.
      expectError((await commit(token, 0xbadn, [1]))[0]!, "DUPLICATE_TOKEN", {
        code: -32603,
        message: "Internal error",
        data: "Duplicate token found",
      });
    });

    it("refuses a commitment re-sent with another key (a front-runner), a key off the curve, an unknown verifier", async function () {
      const token = await oidc.mint({ email: "front@example.com" });
      await commit(token, 0x999n, [1]);
      expectError((await commit(token, 0x4242n, [1]))[0]!, "DUPLICATE_TOKEN", {
        code: -32603,
        message: "Internal error",
        data: "Duplicate token found",
      });
      const params = {
        messageprefix: "mug00",
        tokencommitment: commitmentOf("another"),
        temppubx: "1",
        temppuby: "2",
        verifieridentifier: "dev",
      };
      expectError(await call("CommitmentRequest", params), "TEMP_KEY_NOT_A_POINT", {
        code: -32602,
        message: "Invalid params",
        data: "temppubx, temppuby is not a point of secp256k1",
      });
      expectError(
        await call("CommitmentRequest", { ...params, verifieridentifier: "google" }),
        "VERIFIER_NOT_SUPPORTED",
        {
          code: -32602,
          message: "Input error",
          data: "Verifier not supported",
        },
      );
      expect(network.records).to.equal(1);
    });

    it("refuses commitments beyond the client's rate and beyond the node's storage cap", async function () {
      const limited = serverFor(network.nodes[1]!, { commitmentsPerSecond: 1 });
      servers.push(limited);
      const p = G.multiply(5n);
      const request = (token: string) =>
        JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "CommitmentRequest",
          params: {
            messageprefix: "mug00",
            tokencommitment: commitmentOf(token),
            temppubx: hex64(p.x),
            temppuby: hex64(p.y),
            verifieridentifier: "dev",
          },
        });
      for (const token of ["t1", "t2"])
        expect((await post(limited, request(token))).json<Answer>().result).to.have.property("signature");
      expectError((await post(limited, request("t3"))).json<Answer>(), "TOO_MANY_COMMITMENTS", {
        code: -32603,
        message: "Internal error",
        data: "too many commitments; retry later",
      });
      // A repeat of a recorded commitment costs nothing and is answered even over the rate.
      expect((await post(limited, request("t1"))).json<Answer>().result).to.have.property("signature");

      network.nodes[0]!.capRecords(1);
      await commit("u1", 5n, [1]);
      expectError((await commit("u2", 5n, [1]))[0]!, "COMMITMENTS_FULL", {
        code: -32603,
        message: "Internal error",
        data: "this node holds too many open commitments; retry later",
      });
      expect(await network.nodes[0]!.store.commitment(commitmentOf("u2"))).to.equal(undefined);
    });

    it("holds at most the quota of open commitments per source (an IPv6 /64 is one source); a reveal frees one", async function () {
      servers[0] = serverFor(network.nodes[0]!, { openCommitmentsPerSource: 2 });
      expect((await commitFrom("q1", "2001:db8:0:1::1")).result).to.have.property("signature");
      expect((await commitFrom("q2", "2001:db8:0:1::2")).result).to.have.property("signature");
      expectError(await commitFrom("q3", "2001:db8:0:1:ffff::3"), "SOURCE_COMMITMENTS_FULL", {
        code: -32603,
        message: "Internal error",
        data: "your address holds 2 open commitments, its quota; reveal or wait for them to expire",
      });
      expect(network.nodes[0]!.store.size).to.equal(2);
      // A repeat of a recorded commitment is still answered; another source is not affected.
      expect((await commitFrom("q1", "2001:db8:0:1::9")).result).to.have.property("signature");
      expect((await commitFrom("q3", "2001:db8:0:2::1")).result).to.have.property("signature");
      expect((await commitFrom("q4", "10.0.0.1")).result).to.have.property("signature");
      expect((await commitFrom("q5", "::ffff:10.0.0.1")).result).to.have.property("signature");
      expectError(await commitFrom("q6", "10.0.0.1"), "SOURCE_COMMITMENTS_FULL", {
        code: -32603,
        message: "Internal error",
        data: "your address holds 2 open commitments, its quota; reveal or wait for them to expire",
      });
    });

    it("signs one temporary key for a commitment when two requests race for it (the store records one of them)", async function () {
      // On an engine that answers on a later turn (a database server), both requests pass the first check together.
      network.nodes[0]!.recordOn(new DelayedStore(new MemoryStore()));
      const raced = await Promise.all([commitFrom("race", "10.0.0.1", 5n), commitFrom("race", "10.0.0.2", 9n)]);
      const signed = raced.filter((answer) => answer.result !== undefined);
      expect(signed, JSON.stringify(raced)).to.have.length(1);
      expectError(
        raced.find((answer) => answer.result === undefined)!,
        "DUPLICATE_TOKEN",
        {
          code: -32603,
          message: "Internal error",
          data: "Duplicate token found",
        },
      );
      // The same request racing itself gets the same signature twice, recorded once.
      const twice = await Promise.all([commitFrom("same", "10.0.0.3", 5n), commitFrom("same", "10.0.0.3", 5n)]);
      expect(twice[0].result).to.have.property("signature");
      expect(twice[1].result).to.deep.equal(twice[0].result);
      expect(network.nodes[0]!.store.size).to.equal(2);
    });

    it("never signs a second temporary key for a commitment it evicted at the cap (no front-running after eviction)", async function () {
      network.nodes[0]!.capRecords(2);
      expect((await commitFrom("e1", "10.0.0.7", 5n)).result).to.have.property("signature");
      expect((await commitFrom("e2", "10.0.0.7", 5n)).result).to.have.property("signature");
      // Full: another source under its share gets in, and the heavy source's oldest commitment is evicted.
      expect((await commitFrom("e3", "10.0.0.8", 5n)).result).to.have.property("signature");
      expect(await network.nodes[0]!.store.commitment(commitmentOf("e1"))).to.equal(undefined);
      // Whoever learns that token cannot have it signed for another key here, nor again for the first one.
      for (const key of [9n, 5n])
        expectError(await commitFrom("e1", "10.0.0.9", key), "DUPLICATE_TOKEN", {
          code: -32603,
          message: "Internal error",
          data: "Duplicate token found",
        });
    });

    it("needs q = 4 of 5 signatures on one key: q − 1 fail when no peer holds more, duplicates count once", async function () {
      const verifierId = "q@example.com";
      network.decideAssignment("dev", verifierId);
      const token = await oidc.mint({ email: verifierId });
      const three = (await commit(token, 77n, [1, 2, 3])).map((a) => a.result);
      const tooFew = {
        code: -32602,
        message: "Internal error",
        data: "Not enough valid signatures on the same data: 4 are needed",
      };
      expectError(await reveal(4, token, verifierId, three), "TOO_FEW_SIGNATURES", tooFew);
      // Node 4 did not sign this commitment, so it asks no peer; node 1 did, and asks, but they hold only the three.
      expect(network.nodes[3]!.peerSignatureRequests).to.equal(0);
      expectError(await reveal(1, token, verifierId, three), "TOO_FEW_SIGNATURES", tooFew);
      expect(network.nodes[0]!.peerSignatureRequests).to.equal(1);
      expectError(
        await reveal(1, token, verifierId, [three[0], three[0], three[0], three[0]]),
        "TOO_FEW_SIGNATURES",
        tooFew,
      );
      const forged = { ...(three[1] as Json), signature: "00".repeat(64) + "1b" };
      expectError(await reveal(1, token, verifierId, [three[0], forged, three[2], null]), "TOO_FEW_SIGNATURES", tooFew);
      expect(
        (await Promise.all(network.nodes.map((node) => node.store.reveal(commitmentOf(token))))).every(
          (reveal) => reveal === undefined,
        ),
      ).to.equal(true);
      // A made-up token with no signature anywhere makes no node ask its peers.
      const before = network.nodes[1]!.peerSignatureRequests;
      expectError(
        await reveal(2, await oidc.mint({ email: verifierId, nonce: "x" }), verifierId, []),
        "TOO_FEW_SIGNATURES",
        tooFew,
      );
      expect(network.nodes[1]!.peerSignatureRequests).to.equal(before);
    });

    it("fetches the signatures a reveal lacks from the peers that issued them", async function () {
      const verifierId = "fetch@example.com";
      network.decideAssignment("dev", verifierId);
      const token = await oidc.mint({ email: verifierId });
      const all = (await commit(token, 78n, [1, 2, 3, 4, 5])).map((a) => a.result);
      const answer = await reveal(5, token, verifierId, all.slice(0, 2));
      expect(answer.result).to.have.property("keys");
      expect(network.nodes[4]!.peerSignatureRequests).to.equal(1);
    });

    it("refuses a token the verifier refuses, from another epoch, or whose issuer's keys are unreachable", async function () {
      const verifierId = "tok@example.com";
      network.decideAssignment("dev", verifierId);
      const login = async (token: string, id = verifierId, verifier = "dev") => {
        const signatures = (await commit(token, 79n, [1, 2, 3, 4], verifier)).map((a) => a.result);
        return reveal(1, token, id, signatures, verifier);
      };
      expectError(await login(await oidc.mint({ email: verifierId }), "mallory@example.com"), "TOKEN_REFUSED", {
        code: -32602,
        message: "Error occurred while verifying params",
        data: "WRONG_VERIFIER_ID: the token is for another verifier_id",
      });
      network.nodes[0]!.window = { issuedBefore: Math.floor(Date.now() / 1000) - 120 };
      expect((await login(await oidc.mint({ email: verifierId, nonce: "e" }))).error?.data).to.equal(
        "OTHER_EPOCH: the token was issued after the handover began; log in at the next epoch",
      );
      network.nodes[0]!.window = {};
      const down = await login(await oidc.mint({ email: verifierId, nonce: "d" }), verifierId, "down");
      expect(down.error?.data).to.match(/^JWKS_UNAVAILABLE: the issuer's keys are unavailable/);
      expectError(down, "TOKEN_KEYS_UNAVAILABLE", {
        code: -32603,
        message: "Error occurred while verifying params",
        data: down.error!.data!,
      });
      // None of them was answered: the token can still be revealed with the right verifier_id.
      expect(network.nodes[0]!.store.size).to.equal(3);
    });

    it("assigns a key at login to a verified user without one; refuses a node that holds no share of it yet", async function () {
      const verifierId = "nokey@example.com";
      const token = await oidc.mint({ email: verifierId });
      const signatures = (await commit(token, 80n, [1, 2, 3, 4])).map((a) => a.result);
      network.nodes[1]!.withoutShares = true;
      expectError(await reveal(2, token, verifierId, signatures), "SHARE_MISSING", {
        code: -32603,
        message: "Internal error",
        data: "this node does not hold a share of the key yet; retry",
      });
      expect(network.assignmentsDecided).to.equal(1);
      expect((await reveal(1, token, verifierId, signatures)).result).to.have.property("keys");
      expect(network.assignmentsDecided).to.equal(1);
    });
  });

  describe("the KeyAssign faucet is closed by default (issue 19, item 3)", function () {
    it("refuses KeyAssign for a made-up user without a signer, and assigns nothing", async function () {
      const closed = serverFor(network.nodes[0]!, { keyAssignMode: undefined });
      servers.push(closed);
      for (let i = 0; i < 5; i++) {
        const answer = (
          await post(
            closed,
            JSON.stringify({ jsonrpc: "2.0", id: 1, method: "KeyAssign", params: user(`made-up-${i}@example.com`) }),
          )
        ).json<Answer>();
        expectError(answer, "KEY_ASSIGN_NEEDS_SIGNER", {
          code: -32603,
          message: "Internal error",
          data: "KeyAssign needs a signer's signature and this node has none configured; a user gets a key at its first login",
        });
      }
      expect(network.assignmentsDecided).to.equal(0);
      expect(network.freeKeys).to.equal(4);
    });

    it("assigns at login once per user, through the replicated assignment, with the source passed on", async function () {
      servers = network.nodes.map((node) => serverFor(node, { keyAssignMode: undefined }));
      const verifierId = "newcomer@example.com";
      const token = await oidc.mint({ email: verifierId });
      const signatures = (await commit(token, 86n, [1, 2, 3, 4, 5])).map((a) => a.result);
      const answers = await Promise.all([1, 2, 3, 4, 5].map((node) => reveal(node, token, verifierId, signatures)));
      expect(answers.map((a) => a.error?.data)).to.deep.equal([undefined, undefined, undefined, undefined, undefined]);
      expect(network.assignmentsDecided).to.equal(1);
      const keys = answers.map((a) => JSON.stringify((a.result as { keys: Json[] }).keys[0]!.PublicKey));
      expect(new Set(keys).size).to.equal(1);
      // Whichever nodes submitted the assignment (the others found it decided) passed the client's source on.
      const sources = network.nodes.flatMap((node) => (node.lastAssignSource ? [node.lastAssignSource] : []));
      expect(sources.length).to.be.greaterThan(0);
      expect(new Set(sources)).to.deep.equal(new Set(["127.0.0.1"]));
      // A token that does not verify for the claimed user assigns nothing.
      const other = await oidc.mint({ email: "someone@example.com" });
      const signed = (await commit(other, 87n, [1, 2, 3, 4])).map((a) => a.result);
      expect((await reveal(1, other, "mallory@example.com", signed)).error?.data).to.match(/^WRONG_VERIFIER_ID/);
      expect(network.assignmentsDecided).to.equal(1);
      expect(network.lookup("dev", "mallory@example.com")).to.equal(undefined);
    });

    it("limits assignments at login per source, as KeyAssign", async function () {
      servers[0] = serverFor(network.nodes[0]!, { keyAssignMode: undefined, keyAssignPerSecond: 1 });
      const outcomes: (string | undefined)[] = [];
      for (let i = 0; i < 3; i++) {
        const verifierId = `burst${i}@example.com`;
        const token = await oidc.mint({ email: verifierId });
        const signatures = (await commit(token, 88n + BigInt(i), [1, 2, 3, 4])).map((a) => a.result);
        const answer = await reveal(1, token, verifierId, signatures, "dev", { ip: "10.1.1.1" });
        outcomes.push(answer.error?.data);
      }
      expect(outcomes).to.deep.equal([undefined, undefined, "too many key assignments; retry later"]);
      expect(network.assignmentsDecided).to.equal(2);
    });
  });

  /** Lets pending requests run until `condition` holds (it must, or the test fails). */
  async function until(condition: () => boolean): Promise<void> {
    for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 2));
    expect(condition()).to.equal(true);
  }

  describe("abuse: what a ShareRequest can make a node do (issue 19)", function () {
    /** A signature entry in node `node`'s name over well-formed data for `token`, signed by no one. */
    const fakeEntry = (node: number, token: string, tempSecret = 3n, overrides: Partial<Json> = {}) => {
      const p = G.multiply(tempSecret);
      const key = network.nodeKeys[node - 1]!;
      const now = Math.floor(Date.now() / 1000);
      return {
        data: ["mug00", commitmentOf(token), hex64(p.x), hex64(p.y), "dev", now, ...OWN_DOMAIN].join("\x1c"),
        signature: "11".repeat(64) + "1b",
        nodepubx: key.x.toString(16),
        nodepuby: key.y.toString(16),
        ...overrides,
      };
    };

    it("checks at most one signature per node, and none that fails a cheap check (4n entries of garbage)", async function () {
      const meter = newApiMeter();
      const server = serverFor(network.nodes[0]!, {}, meter);
      servers.push(server);
      const token = await oidc.mint({ email: "victim@example.com" });
      const request = (entries: unknown[]) =>
        post(
          server,
          JSON.stringify({
            jsonrpc: "2.0",
            id: 1,
            method: "ShareRequest",
            params: {
              item: [
                {
                  idtoken: token,
                  nodesignatures: entries,
                  verifieridentifier: "dev",
                  verifier_id: "victim@example.com",
                },
              ],
            },
          }),
        );
      // 4n entries, four per node, all well-formed but wrongly signed: n checks, not 4n twice.
      const many = [1, 2, 3, 4, 5].flatMap((node) => [1, 2, 3, 4].map(() => fakeEntry(node, token)));
      expect((await request(many)).json<Answer>().error?.data).to.match(/^Not enough valid signatures/);
      expect(meter.signatureChecks).to.equal(5);
      // Wrong prefix, another commitment, another verifier, a stale time, a malformed key: no check at all.
      const stale = Math.floor(Date.now() / 1000) - 100_000;
      const cheapFailures = [1, 2, 3, 4, 5].map((node) => {
        const entry = fakeEntry(node, token);
        const parts = entry.data.split("\x1c");
        const variants = [
          ["mug01", ...parts.slice(1)],
          [parts[0], commitmentOf("other"), ...parts.slice(2)],
          [...parts.slice(0, 4), "down", ...parts.slice(5)],
          [...parts.slice(0, 5), stale, ...parts.slice(6)],
          [parts[0], parts[1], "zz", ...parts.slice(3)],
        ];
        return { ...entry, data: variants[node - 1]!.join("\x1c") };
      });
      expect((await request(cheapFailures)).json<Answer>().error?.data).to.match(/^Not enough valid signatures/);
      expect(meter.signatureChecks).to.equal(5);
      // Fewer than q candidates on any key: nothing can reach the quorum, so nothing is checked.
      await request([fakeEntry(1, token), fakeEntry(2, token), fakeEntry(3, token), fakeEntry(4, token, 9n)]);
      expect(meter.signatureChecks).to.equal(5);
      expect(network.nodes[0]!.peerSignatureRequests).to.equal(0);
    });

    it("refuses, unchecked and saying so, node signatures of another deployment, another epoch or the old form", async function () {
      const meter = newApiMeter();
      servers[0] = serverFor(network.nodes[0]!, {}, meter);
      const verifierId = "replay@example.com";
      network.decideAssignment("dev", verifierId);
      const token = await oidc.mint({ email: verifierId });
      const p = G.multiply(86n);
      const now = Math.floor(Date.now() / 1000);
      // Real signatures of this network's node keys, over data that names another deployment block (the same chain
      // id and address: a restarted local chain), another epoch, or nothing (the old Torus form).
      const signedBy = (domain: string[]) =>
        [1, 2, 3, 4, 5].map((node) => {
          const data = ["mug00", commitmentOf(token), hex64(p.x), hex64(p.y), "dev", now, ...domain].join("\x1c");
          const key = network.nodeKeys[node - 1]!;
          const signature = signTorus(network.nodeSecrets[node - 1]!, data);
          return { data, signature, nodepubx: key.x.toString(16), nodepuby: key.y.toString(16) };
        });
      const otherBlock = commitmentDomainFields({ ...FAKE_DEPLOYMENT, deploymentBlockHash: "0x" + "d2".repeat(32) }, 1);
      const otherEpoch = commitmentDomainFields(FAKE_DEPLOYMENT, 2);
      for (const [domain, what] of [
        [otherBlock, "another deployment"],
        [otherEpoch, "another epoch"],
        [[], "the old form"],
      ] as const) {
        const answer = await reveal(1, token, verifierId, signedBy([...domain]));
        expectError(answer, "SIGNATURES_OF_ANOTHER_DOMAIN", {
          code: -32602,
          message: "Internal error",
          data:
            "Not enough valid signatures on the same data: 4 are needed, and 5 signature(s) name another deployment " +
            "or epoch, or none (signed by an older node version); this network is chain 31337, NodeList " +
            `${FAKE_DEPLOYMENT.nodeList.toLowerCase()}, deployment block ${FAKE_DEPLOYMENT.deploymentBlockHash}, epoch 1`,
        });
        expect(meter.signatureChecks, what).to.equal(0);
      }
      // The same signatures over this network's domain log in.
      expect((await reveal(1, token, verifierId, signedBy(OWN_DOMAIN))).result).to.have.property("keys");
    });

    it("bounds what one batch of 16 garbage ShareRequests costs a fresh source (was 16 × 4n × 2 checks)", async function () {
      const meter = newApiMeter();
      const server = serverFor(network.nodes[0]!, { failedShareRequestsPerSecond: 5 }, meter);
      servers.push(server);
      const batch = await Promise.all(
        Array.from({ length: 16 }, async (_, i) => {
          const token = await oidc.mint({ email: "victim@example.com", nonce: `b${i}` });
          const entries = [1, 2, 3, 4, 5].flatMap((node) => [1, 2, 3, 4].map(() => fakeEntry(node, token)));
          return {
            jsonrpc: "2.0",
            id: i,
            method: "ShareRequest",
            params: {
              item: [
                { idtoken: token, nodesignatures: entries, verifieridentifier: "dev", verifier_id: "v@example.com" },
              ],
            },
          };
        }),
      );
      const answers = (await post(server, JSON.stringify(batch), { ip: "192.0.2.7" })).json<Answer[]>();
      const refused = answers.filter((a) => a.error?.data?.startsWith("too many ShareRequests")).length;
      // The burst (2 × 5) is charged, each request checking at most n = 5 signatures; the rest are refused unchecked.
      expect(refused).to.equal(6);
      expect(meter.signatureChecks).to.equal(10 * 5);
      expect(meter.peerAsks).to.equal(0);
    });

    it("verifies each signature once, and its own not at all, on a login", async function () {
      const meter = newApiMeter();
      servers[0] = serverFor(network.nodes[0]!, {}, meter);
      const verifierId = "once@example.com";
      network.decideAssignment("dev", verifierId);
      const token = await oidc.mint({ email: verifierId });
      const signatures = (await commit(token, 81n, [1, 2, 3, 4])).map((a) => a.result);
      expect((await reveal(1, token, verifierId, signatures)).result).to.have.property("keys");
      expect(meter.signatureChecks).to.equal(3);
      expect(meter.peerAsks).to.equal(0);
    });

    it("asks peers only for a commitment it signed itself, holding a valid signature, a few asks at a time", async function () {
      const meter = newApiMeter();
      servers[0] = serverFor(network.nodes[0]!, { peerAsksPerSource: 2, peerAsksTotal: 3 }, meter);
      const node1 = network.nodes[0]!;
      // Signed by node 2 only: node 1 never signed it, so it asks nobody (it used to ask every peer).
      const elsewhere = await oidc.mint({ email: "a@example.com" });
      const byNode2 = (await commit(elsewhere, 82n, [2])).map((a) => a.result);
      expectError(await reveal(1, elsewhere, "a@example.com", byNode2), "TOO_FEW_SIGNATURES", {
        code: -32602,
        message: "Internal error",
        data: "Not enough valid signatures on the same data: 4 are needed",
      });
      // Signed here, but the request holds no valid signature: no ask either.
      const mine = await oidc.mint({ email: "b@example.com" });
      await commit(mine, 83n, [1]);
      await reveal(1, mine, "b@example.com", [fakeEntry(2, mine, 83n)]);
      expect(node1.peerSignatureRequests).to.equal(0);

      // Peers that hang: one source holds at most 2 asks, the node at most 3.
      const release: (() => void)[] = [];
      node1.peerSignaturesWith = () => new Promise((resolve) => release.push(() => resolve([])));
      const tokens = await Promise.all([1, 2, 3, 4].map((i) => oidc.mint({ email: "b@example.com", nonce: `h${i}` })));
      const signed = await Promise.all(tokens.map(async (token) => (await commit(token, 84n, [1]))[0]!.result));
      const pending = [0, 1].map((i) => reveal(1, tokens[i]!, "b@example.com", [signed[i]], "dev", { ip: "10.0.0.1" }));
      await until(() => node1.peerSignatureRequests === 2);
      expectError(
        await reveal(1, tokens[2]!, "b@example.com", [signed[2]], "dev", { ip: "10.0.0.1" }),
        "SIGNATURE_FETCHES_BUSY",
        {
          code: -32603,
          message: "Internal error",
          data: "too many signature fetches from peers under way; retry later with every signature you got",
        },
      );
      const other = reveal(1, tokens[2]!, "b@example.com", [signed[2]], "dev", { ip: "10.0.0.2" });
      await until(() => node1.peerSignatureRequests === 3);
      expect(
        (await reveal(1, tokens[3]!, "b@example.com", [signed[3]], "dev", { ip: "10.0.0.3" })).error?.data,
      ).to.match(/^too many signature fetches/);
      release.forEach((r) => r());
      await Promise.all([...pending, other]);
      expect(meter.peerAsks).to.equal(3);
    });

    it("refuses a source whose ShareRequests keep failing, before any check, but never a login this node signed", async function () {
      const meter = newApiMeter();
      servers[0] = serverFor(network.nodes[0]!, { failedShareRequestsPerSecond: 1 }, meter);
      const verifierId = "rl@example.com";
      network.decideAssignment("dev", verifierId);
      const junk = await oidc.mint({ email: verifierId, nonce: "junk" });
      const entries = [1, 2, 3, 4, 5].map((node) => fakeEntry(node, junk));
      const ip = "2001:db8:1:2::7";
      for (let i = 0; i < 2; i++)
        expect((await reveal(1, junk, verifierId, entries, "dev", { ip })).error?.data).to.match(/^Not enough/);
      expect(meter.signatureChecks).to.equal(10);
      // The bucket (burst 2) is empty for the whole /64: refused before any signature is checked.
      expectError(
        await reveal(1, junk, verifierId, entries, "dev", { ip: "2001:db8:1:2::8" }),
        "TOO_MANY_FAILED_SHARE_REQUESTS",
        {
          code: -32603,
          message: "Internal error",
          data: "too many ShareRequests without valid signatures from your address; retry later",
        },
      );
      expect(meter.signatureChecks).to.equal(10);
      // Another /64 is not refused.
      expect((await reveal(1, junk, verifierId, entries, "dev", { ip: "2001:db8:1:3::8" })).error?.data).to.match(
        /^Not enough/,
      );
      // A real login from the refused source, for a commitment node 1 signed, is served.
      const token = await oidc.mint({ email: verifierId });
      const signatures = (await commit(token, 85n, [1, 2, 3, 4])).map((a) => a.result);
      expect((await reveal(1, token, verifierId, signatures, "dev", { ip })).result).to.have.property("keys");
    });
  });

  describe("refusal states", function () {
    it("a node that does not serve refuses every method but Ping, saying why", async function () {
      network.nodes[0]!.refusal = "epoch 2 is taking over from epoch 1: the handover is in progress";
      const refused = {
        code: -32603,
        message: "Internal error",
        data: "this node refuses to serve: epoch 2 is taking over from epoch 1: the handover is in progress",
      };
      const valid: [string, Json][] = [
        ["VerifierLookupRequest", user("a@b.c")],
        ["KeyAssign", user("a@b.c")],
        ["KeyLookupRequest", { pub_key_X: "1", pub_key_Y: "2" }],
        [
          "CommitmentRequest",
          {
            messageprefix: "mug00",
            tokencommitment: "ab".repeat(32),
            temppubx: "1",
            temppuby: "2",
            verifieridentifier: "dev",
          },
        ],
        ["ShareRequest", { item: [{ idtoken: "a.b.c", verifieridentifier: "dev", verifier_id: "a@b.c" }] }],
      ];
      for (const [method, params] of valid) expectError(await call(method, params), "NOT_SERVING", refused);
      // Said before the params are checked, as the node always did.
      expectError(await call("KeyAssign", { verifier: 5 }), "NOT_SERVING", refused);
      expect((await call("Ping", {})).result).to.have.property("message");
      expect(network.assignmentsDecided).to.equal(0);
      expect(network.records).to.equal(0);
    });

    it("a frozen state refuses new users only: known users keep their key, lookups go on", async function () {
      await call("KeyAssign", user("known@example.com"));
      network.nodes[0]!.frozenFor = 2;
      expectError(await call("KeyAssign", user("new@example.com")), "HANDING_OVER", {
        code: -32603,
        message: "Internal error",
        data: "the network is handing over to epoch 2; retry after the handover",
      });
      expect((await call("KeyAssign", user("known@example.com"))).result).to.have.property("keys");
      expect((await call("VerifierLookupRequest", user("known@example.com"))).result).to.have.property("keys");
      expect(network.assignmentsDecided).to.equal(1);
    });
  });

  describe("operator endpoints", function () {
    it("/healthz is 200 while serving and 503 with the reason otherwise; /status and /metrics read the node", async function () {
      const healthy = await servers[0]!.inject({ method: "GET", url: "/healthz" });
      expect(healthy.statusCode).to.equal(200);
      expect(healthy.json()).to.deep.equal({ ok: true, epoch: 1, height: 7 });
      network.nodes[0]!.refusal = "epoch 1 is starting";
      const refusing = await servers[0]!.inject({ method: "GET", url: "/healthz" });
      expect(refusing.statusCode).to.equal(503);
      expect(refusing.json()).to.deep.equal({ ok: false, epoch: 1, height: 7, refusing: "epoch 1 is starting" });
      const status = (await servers[0]!.inject({ method: "GET", url: "/status" })).json<Json>();
      expect(status).to.include({
        epoch: 1,
        index: 1,
        n: 5,
        k: 3,
        t: 1,
        refusing: "epoch 1 is starting",
        cryptoBackend: "noble",
      });
      const metrics = await servers[0]!.inject({ method: "GET", url: "/metrics" });
      expect(metrics.headers["content-type"]).to.match(/^text\/plain; version=0.0.4/);
      expect(metrics.body).to.match(/^torus_keys_free 4$/m);
      expect(metrics.body).to.match(/^torus_peer_messages_rejected_total 3$/m);
      expect(metrics.body).to.match(/^torus_p2p_malformed_frames_total 3$/m);
      expect(metrics.body).to.match(/^torus_p2p_inbound_dropped_total 4$/m);
      expect(metrics.body).to.match(/^torus_crypto_backend_info\{backend="noble"\} 1$/m);
      expect(metrics.body).to.match(/^torus_check_jobs_main_thread_total 0$/m);
    });

    it("reports how fast the free-key buffer drains, in /status and /metrics", async function () {
      let now = 1_000_000;
      for (let i = 0; i < 6; i++) network.addKey();
      const app = buildApiServer({
        service: network.nodes[0]!,
        status: fakeStatusSource(network.nodes[0]!),
        settings,
        log: { error: () => undefined },
        drain: new DrainMeter(() => now),
      });
      servers.push(app);
      const keys = async () => (await app.inject({ method: "GET", url: "/status" })).json<{ keys: Json }>().keys;
      expect(await keys()).to.include({ assignedPerMinute: 0, minutesUntilEmpty: null });
      for (let i = 0; i < 5; i++) network.decideAssignment("dev", `drain${i}@example.com`);
      now += 60_000;
      expect(await keys()).to.include({ free: 5, assignedPerMinute: 5, minutesUntilEmpty: 1 });
      const metrics = await app.inject({ method: "GET", url: "/metrics" });
      expect(metrics.body).to.match(/^torus_keys_assigned_per_minute 5$/m);
    });
  });

  // Last: mocha runs a describe's own tests before its nested ones, and this one needs all of them to have run.
  describe("the error table", function () {
    it("answered every error of the table somewhere in this suite", function () {
      const names = Object.keys(API_ERRORS) as ApiErrorName[];
      expect(names.filter((name) => !seen.has(name))).to.deep.equal([]);
    });
  });
});
