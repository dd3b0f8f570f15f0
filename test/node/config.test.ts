import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import { ConfigError, loadConfig, parseConfig, verifierSetHash } from "../../node/config.ts";
import { DEV_VERIFIER_CONFIG as VERIFIER, KEYLESS_NODE_CONFIG } from "../support/node-config.ts";

const valid = { nodeKey: "11".repeat(32), ...KEYLESS_NODE_CONFIG };

describe("node configuration", function () {
  it("accepts a valid config and fills the defaults", function () {
    const config = parseConfig(valid, "/srv/node");
    expect(config.api).to.deep.equal({
      host: "127.0.0.1",
      port: 7001,
      declaredIp: "127.0.0.1:7001",
      keyAssignPerSecond: 50,
      commitmentsPerSecond: 10,
      openCommitmentsPerSource: 1000,
      failedShareRequestsPerSecond: 5,
      keyAssignMode: "signer",
      maxConnections: 1024,
      trustProxy: false,
      epochClockSkewSeconds: 60,
    });
    expect(config.dataDir).to.equal("/srv/node/data");
    expect(config.keygen).to.deep.equal({ batchSize: 4, keyBuffer: 64, refillMark: 32, resendWindowSeconds: 600 });
    expect(config.crypto).to.deep.equal({
      backend: "native",
      allowSlowFallback: false,
      workers: Math.max(0, availableParallelism() - 1),
    });
    expect(config.storage).to.deep.equal({ kind: "embedded" });
  });

  it("takes a PostgreSQL database for storage, from the file or from TORUS_POSTGRES_URL", async function () {
    const url = "postgres://torus:secret@db.internal:5432/node1";
    expect(parseConfig({ ...valid, storage: { kind: "postgres", url } }).storage).to.deep.equal({
      kind: "postgres",
      url,
    });
    const dir = await mkdtemp(path.join(tmpdir(), "config-"));
    try {
      await writeFile(path.join(dir, "node.json"), JSON.stringify(valid));
      const config = await loadConfig(path.join(dir, "node.json"), { TORUS_POSTGRES_URL: url });
      expect(config.storage).to.deep.equal({ kind: "postgres", url });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("takes crypto.backend noble or native, crypto.allowSlowFallback and crypto.workers", function () {
    const config = parseConfig({ ...valid, crypto: { backend: "noble", allowSlowFallback: true, workers: 0 } });
    expect(config.crypto).to.deep.equal({ backend: "noble", allowSlowFallback: true, workers: 0 });
    expect(parseConfig({ ...valid, crypto: { workers: 3 } }).crypto.workers).to.equal(3);
  });

  it("takes a reverse proxy's addresses for trustProxy", function () {
    const config = parseConfig({ ...valid, api: { port: 1, trustProxy: ["10.0.0.1", "fd00::/8"] } });
    expect(config.api.trustProxy).to.deep.equal(["10.0.0.1", "fd00::/8"]);
    expect(parseConfig({ ...valid, api: { port: 1, trustProxy: true } }).api.trustProxy).to.equal(true);
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["a short node key", { nodeKey: "11" }, /config\.nodeKey must be a 32-byte hex private key/],
    [
      "a chain URL that is not http",
      { chain: { ...valid.chain, rpcUrl: "ftp://x" } },
      /config\.chain\.rpcUrl must be http\(s\)/,
    ],
    [
      "a bad contract address",
      { chain: { ...valid.chain, nodeList: "0x12" } },
      /config\.chain\.nodeList must be a contract address/,
    ],
    ["a port out of range", { api: { port: 70000 } }, /config\.api\.port must be an integer in \[1, 65535\]/],
    [
      "a commitment quota above the store's cap",
      { api: { port: 1, openCommitmentsPerSource: 200_001 } },
      /config\.api\.openCommitmentsPerSource must be an integer in \[1, 200000\]/,
    ],
    [
      "a trustProxy that is neither a boolean nor a list",
      { api: { port: 1, trustProxy: "yes" } },
      /config\.api\.trustProxy must be true, false or a list of proxy addresses/,
    ],
    [
      "a trustProxy entry that is no address",
      { api: { port: 1, trustProxy: ["10.0.0.1", "proxy.local"] } },
      /config\.api\.trustProxy\[1\] must be an IP address or CIDR/,
    ],
    [
      "no connection allowed",
      { api: { port: 1, maxConnections: 0 } },
      /config\.api\.maxConnections must be an integer/,
    ],
    [
      "a zero rate of failed ShareRequests",
      { api: { port: 1, failedShareRequestsPerSecond: 0 } },
      /config\.api\.failedShareRequestsPerSecond must be an integer in \[1, 100000\]/,
    ],
    [
      "a listen address that is not a multiaddr",
      { p2p: { listen: "0.0.0.0:9" } },
      /config\.p2p\.listen must be a multiaddr/,
    ],
    [
      "the 'none' algorithm",
      { verifiers: [{ ...VERIFIER, algorithms: ["none"] }] },
      /config\.verifiers\[0\]\.algorithms\[0\] must be one of/,
    ],
    [
      "a KeyAssign signer key off the curve",
      { api: { port: 1, keyAssignSigner: { pubKeyX: "1", pubKeyY: "2" } } },
      /config\.api\.keyAssignSigner is not a point of secp256k1/,
    ],
    [
      "a KeyAssign signer key that is not hex",
      { api: { port: 1, keyAssignSigner: { pubKeyX: "xyz", pubKeyY: "2" } } },
      /config\.api\.keyAssignSigner\.pubKeyX must be hex/,
    ],
    ["an HMAC algorithm", { verifiers: [{ ...VERIFIER, algorithms: ["HS256"] }] }, /no HMAC/],
    ["a verifier named twice", { verifiers: [VERIFIER, VERIFIER] }, /names a verifier twice/],
    [
      "a JWKS over plain http from another host",
      { verifiers: [{ ...VERIFIER, jwksUri: "http://issuer.example.com/jwks" }] },
      /config\.verifiers\[0\]\.jwksUri must be https \(http only on loopback\)/,
    ],
    [
      "an issuer over plain http from another host",
      { verifiers: [{ ...VERIFIER, issuer: "http://10.0.0.7" }] },
      /config\.verifiers\[0\]\.issuer must be https \(http only on loopback\)/,
    ],
    [
      "an issuer that is not a URL",
      { verifiers: [{ ...VERIFIER, issuer: "accounts" }] },
      /config\.verifiers\[0\]\.issuer must be a URL/,
    ],
    [
      "emailsVerifiedByProvider that is not a boolean",
      { verifiers: [{ ...VERIFIER, emailsVerifiedByProvider: "yes" }] },
      /config\.verifiers\[0\]\.emailsVerifiedByProvider must be true or false/,
    ],
    [
      "an unknown curve backend",
      { crypto: { backend: "wasm" } },
      /config\.crypto\.backend must be "native" or "noble"/,
    ],
    [
      "allowSlowFallback that is not a boolean",
      { crypto: { allowSlowFallback: "yes" } },
      /config\.crypto\.allowSlowFallback must be true or false/,
    ],
    [
      "check workers that are not a whole number",
      { crypto: { workers: 1.5 } },
      /config\.crypto\.workers must be an integer in \[0, 256\], got 1.5/,
    ],
    ["a negative number of check workers", { crypto: { workers: -1 } }, /config\.crypto\.workers must be/],
    [
      "an unknown storage kind",
      { storage: { kind: "leveldb" } },
      /config\.storage\.kind must be "embedded" or "postgres"/,
    ],
    ["PostgreSQL without a URL", { storage: { kind: "postgres" } }, /config\.storage\.url must be a non-empty string/],
    [
      "a PostgreSQL URL of another scheme",
      { storage: { kind: "postgres", url: "mysql://h/db" } },
      /config\.storage\.url must start with postgres:\/\//,
    ],
    [
      "a PostgreSQL URL without a database",
      { storage: { kind: "postgres", url: "postgres://h:5432" } },
      /config\.storage\.url must name the database/,
    ],
    [
      "a URL for the embedded engine",
      { storage: { kind: "embedded", url: "postgres://h/db" } },
      /config\.storage\.url is for "kind": "postgres" only/,
    ],
    [
      "a missing audience",
      { verifiers: [{ ...VERIFIER, audience: "" }] },
      /config\.verifiers\[0\]\.audience must be a non-empty string/,
    ],
  ];
  it("takes an identity provider over https anywhere, and over http on loopback only", function () {
    for (const [issuer, jwksUri] of [
      ["https://accounts.google.com", "https://www.googleapis.com/oauth2/v3/certs"],
      ["http://127.0.0.1:5555", "http://127.0.0.1:5555/jwks"],
      ["http://localhost:5555", "http://[::1]:5555/jwks"],
    ]) {
      const config = parseConfig({ ...valid, verifiers: [{ ...VERIFIER, issuer, jwksUri }] });
      expect([config.verifiers[0]!.issuer, config.verifiers[0]!.jwksUri]).to.deep.equal([issuer, jwksUri]);
    }
  });

  for (const [what, change, message] of bad) {
    it(`refuses ${what}, naming the field`, function () {
      expect(() => parseConfig({ ...valid, ...change })).to.throw(ConfigError, message);
    });
  }

  it("reads the key from a file and lets the environment override fields", async function () {
    const dir = await mkdtemp(path.join(tmpdir(), "config-"));
    try {
      await writeFile(path.join(dir, "node.key"), "0x" + "22".repeat(32) + "\n", { mode: 0o600 });
      const { nodeKey: _, ...rest } = valid;
      await writeFile(path.join(dir, "node.json"), JSON.stringify({ ...rest, nodeKeyFile: "node.key" }));
      const config = await loadConfig(path.join(dir, "node.json"), {
        TORUS_API_PORT: "7100",
        TORUS_CHAIN_RPC_URL: "http://127.0.0.1:9999",
        TORUS_CRYPTO_BACKEND: "noble",
      });
      expect(config.crypto.backend).to.equal("noble");
      expect(config.nodeKey).to.equal("0x" + "22".repeat(32));
      expect(config.api.port).to.equal(7100);
      expect(config.chain.rpcUrl).to.equal("http://127.0.0.1:9999");
      const error = await loadConfig(path.join(dir, "missing.json")).catch((e: unknown) => e);
      expect(error)
        .to.be.instanceOf(ConfigError)
        .with.property("message")
        .that.matches(/cannot read/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("hashes the verifier list independently of its order, and differently when a field differs", function () {
    const other = { ...VERIFIER, name: "google" };
    expect(verifierSetHash([VERIFIER, other])).to.equal(verifierSetHash([other, VERIFIER]));
    expect(verifierSetHash([VERIFIER])).to.not.equal(verifierSetHash([{ ...VERIFIER, audience: "other" }]));
  });
});
