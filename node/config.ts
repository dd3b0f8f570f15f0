/**
 * The node's configuration: a JSON file, with environment variables overriding single fields (TORUS_NODE_KEY,
 * TORUS_NODE_KEY_FILE, TORUS_NODE_KEYSTORE, TORUS_NODE_KEY_PASSWORD, TORUS_NODE_KEY_PASSWORD_FILE, TORUS_CHAIN_RPC_URL,
 * TORUS_NODE_LIST, TORUS_DATA_DIR, TORUS_API_PORT, TORUS_P2P_LISTEN, TORUS_CRYPTO_BACKEND, TORUS_POSTGRES_URL).
 * Every field is checked; a bad one is a ConfigError that names it, so an operator sees at once what to fix.
 */
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { availableParallelism } from "node:os";
import path from "node:path";

import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";

import { DEFAULT_MAX_RECORDS } from "./auth/commitments.ts";
import { canonicalJson } from "./crypto/encoding.ts";
import { loadNodeKey } from "./chain/node-key-source.ts";
import { pointFromCoordinates } from "./crypto/point.ts";
import { CRYPTO_BACKENDS, type CryptoBackendName, type CryptoConfig } from "./native/select.ts";

/** The default `crypto.workers`: every core but the one the node's event loop runs on. */
export function defaultCheckWorkers(): number {
  return Math.max(0, availableParallelism() - 1);
}

export interface VerifierConfig {
  /** The verifier name clients send (e.g. "google"). */
  name: string;
  issuer: string;
  jwksUri: string;
  audience: string;
  /** The ID-token claim that is the verifier id (e.g. "email" or "sub"). */
  verifierIdClaim: string;
  maxTokenAgeSeconds: number;
  algorithms: string[];
  /**
   * The provider vouches that every email it puts in a token is verified (a workspace domain, say), so tokens need no
   * `email_verified: true`. Default false: with `verifierIdClaim: "email"` an unverified address would let anyone who
   * types someone else's email at such a provider log in as them.
   */
  emailsVerifiedByProvider?: boolean;
}

export interface NodeConfig {
  /** The node's secp256k1 private key (hex), the key registered on-chain. */
  nodeKey: string;
  chain: { rpcUrl: string; nodeList: string; pollingIntervalMs: number };
  api: {
    host: string;
    port: number;
    declaredIp: string;
    /** Per client source (an IPv4 address or an IPv6 /64), as are the other quotas. */
    keyAssignPerSecond: number;
    /** Sized for people logging in (one commitment per node per login), not for a source filling the store. */
    commitmentsPerSecond: number;
    /** Open (unrevealed) commitments a source may hold at once; at most the store's cap. */
    openCommitmentsPerSource: number;
    /** ShareRequests per second a source may send that fail for want of valid signatures. */
    failedShareRequestsPerSecond: number;
    /** Open HTTP connections at once (node/api/server.ts HttpLimits). */
    maxConnections: number;
    /**
     * Quotas key on the socket's address unless this names the reverse proxy in front of the node (true: any, or a
     * list of addresses or CIDRs), whose X-Forwarded-For is then taken. Default false: anyone can write that header.
     */
    trustProxy: boolean | string[];
    /**
     * "signer" (default): a KeyAssign needs `keyAssignSigner`'s signature, and without a signer KeyAssign is closed
     * and users get keys at their first login. "open": anyone may have keys assigned to made-up users.
     */
    keyAssignMode: "signer" | "open";
    /** The public key of a signer whose signature every KeyAssign must carry (torus.js's `signerHost`), if any. */
    keyAssignSigner?: { x: bigint; y: bigint };
    /**
     * The clock skew allowed between token issuers and the chain at an epoch's boundary: a successor epoch accepts
     * only tokens issued after the handover's completion block time plus this, and the old epoch, while it hands
     * over, only tokens issued before the newest block time it saw plus this (so no token is served by both).
     */
    epochClockSkewSeconds: number;
  };
  p2p: { listen: string; announce: string };
  dataDir: string;
  /**
   * Where the public state goes (blocks, app state, commit–reveal records): "embedded" SQLite files under dataDir (the
   * default), or a PostgreSQL database. Secrets stay in dataDir's per-epoch files either way (README, "Storage").
   */
  storage: StorageConfig;
  verifiers: VerifierConfig[];
  /**
   * Key generation keeps `keyBuffer` unassigned keys ahead; it starts refilling when fewer than `refillMark` are
   * (default half the buffer), so that batches run in bursts rather than one per assignment. `resendWindowSeconds`
   * after a batch's keys are published, this node erases the batch's dealing and the rows and columns it received
   * (a peer still finishing the batch asks for those; one down longer than this cannot finish it).
   */
  keygen: { batchSize: number; keyBuffer: number; refillMark: number; resendWindowSeconds: number };
  /**
   * The curve backend (node/native/select.ts): "native" libsecp256k1 by default, refusing to start without it; and
   * `workers`, the threads that check peers' sharings (node/runtime/check-pool.ts): every core but one by default, 0
   * to check on the event loop (several nodes on one machine, like the devnet).
   */
  crypto: CryptoConfig & { workers: number };
  logLevel: string;
}

export type StorageConfig = { kind: "embedded" } | { kind: "postgres"; url: string };

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

const ALGORITHMS = new Set(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]);

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function object(value: unknown, field: string): Json {
  if (!isObject(value)) throw new ConfigError(`${field} must be an object`);
  return value;
}

function missing(message: string): never {
  throw new ConfigError(message);
}

function bool(value: unknown, field: string): boolean {
  if (typeof value !== "boolean") throw new ConfigError(`${field} must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

function string(value: unknown, field: string, pattern?: RegExp, what?: string): string {
  if (typeof value !== "string" || value.length === 0) throw new ConfigError(`${field} must be a non-empty string`);
  if (pattern && !pattern.test(value)) throw new ConfigError(`${field} must be ${what}, got "${value}"`);
  return value;
}

function int(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${field} must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
  }
  return value;
}

function url(value: unknown, field: string): string {
  const text = string(value, field);
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new ConfigError(`${field} must be a URL, got "${text}"`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new ConfigError(`${field} must be http(s)`);
  return text;
}

/** Whether a URL's host is this machine's loopback (a development issuer), where plain http cannot be intercepted. */
function isLoopback(url: URL): boolean {
  const host = url.hostname;
  return host === "localhost" || host === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * An identity provider's URL: https, or http on loopback only. The JWKS fetched over plain http from another host
 * could be replaced on the way, and with it every token the node accepts.
 */
function providerUrl(value: unknown, field: string): string {
  const text = url(value, field);
  const parsed = new URL(text);
  if (parsed.protocol !== "https:" && !isLoopback(parsed))
    throw new ConfigError(`${field} must be https (http only on loopback), got "${text}"`);
  return text;
}

function verifier(value: unknown, field: string): VerifierConfig {
  const v = object(value, field);
  const algorithms = v.algorithms;
  if (!Array.isArray(algorithms) || algorithms.length === 0)
    throw new ConfigError(`${field}.algorithms must be a list`);
  for (const [i, a] of algorithms.entries()) {
    if (typeof a !== "string" || !ALGORITHMS.has(a)) {
      throw new ConfigError(
        `${field}.algorithms[${i}] must be one of ${[...ALGORITHMS].join(", ")} (no "none", no HMAC)`,
      );
    }
  }
  return {
    name: string(v.name, `${field}.name`, /^[A-Za-z0-9._-]{1,64}$/, "1–64 letters, digits, '.', '_' or '-'"),
    issuer: providerUrl(v.issuer, `${field}.issuer`),
    jwksUri: providerUrl(v.jwksUri, `${field}.jwksUri`),
    audience: string(v.audience, `${field}.audience`),
    verifierIdClaim: string(v.verifierIdClaim, `${field}.verifierIdClaim`),
    maxTokenAgeSeconds: int(v.maxTokenAgeSeconds, `${field}.maxTokenAgeSeconds`, 1, 86_400),
    algorithms: algorithms as string[],
    ...(v.emailsVerifiedByProvider === undefined
      ? {}
      : { emailsVerifiedByProvider: bool(v.emailsVerifiedByProvider, `${field}.emailsVerifiedByProvider`) }),
  };
}

/** `true`, `false`, or a non-empty list of proxy addresses or CIDRs (IPv4 or IPv6). */
function trustProxy(value: unknown): boolean | string[] {
  const field = "config.api.trustProxy";
  if (typeof value === "boolean") return value;
  if (!Array.isArray(value) || value.length === 0)
    throw new ConfigError(`${field} must be true, false or a list of proxy addresses`);
  return value.map((entry, i) => {
    const text = string(entry, `${field}[${i}]`, /^[0-9A-Fa-f.:]+(\/\d{1,3})?$/, "an IP address or CIDR");
    if (!isIP(text.split("/")[0]!)) throw new ConfigError(`${field}[${i}] must be an IP address or CIDR`);
    return text;
  });
}

/** `{ "kind": "embedded" }` or `{ "kind": "postgres", "url": "postgres://…" }`. */
function storage(value: unknown): StorageConfig {
  const field = "config.storage";
  const v = object(value, field);
  if (v.kind === "embedded") {
    if (v.url !== undefined) throw new ConfigError(`${field}.url is for "kind": "postgres" only`);
    return { kind: "embedded" };
  }
  if (v.kind !== "postgres")
    throw new ConfigError(`${field}.kind must be "embedded" or "postgres", got ${JSON.stringify(v.kind)}`);
  const text = string(v.url, `${field}.url`);
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new ConfigError(`${field}.url must be a URL postgres://user:password@host:port/database`);
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:")
    throw new ConfigError(`${field}.url must start with postgres:// or postgresql://, got "${parsed.protocol}//…"`);
  if (parsed.pathname.length <= 1) throw new ConfigError(`${field}.url must name the database (…/<database>)`);
  return { kind: "postgres", url: text };
}

/** `{ "pubKeyX": hex, "pubKeyY": hex }`, the signer's public key (a point of secp256k1). */
function signerKey(value: unknown): { x: bigint; y: bigint } {
  const field = "config.api.keyAssignSigner";
  const signer = object(value, field);
  const coordinate = (name: string) =>
    BigInt("0x" + string(signer[name], `${field}.${name}`, /^(0x)?[0-9a-fA-F]{1,64}$/, "hex").replace(/^0x/, ""));
  const [x, y] = [coordinate("pubKeyX"), coordinate("pubKeyY")];
  try {
    pointFromCoordinates(x, y, field);
  } catch {
    throw new ConfigError(`${field} is not a point of secp256k1`);
  }
  return { x, y };
}

/** Checks a parsed configuration object (after environment overrides); paths are resolved against `baseDir`. */
export function parseConfig(raw: unknown, baseDir = process.cwd()): NodeConfig {
  const c = object(raw, "config");
  const chain = object(c.chain, "config.chain");
  const api = object(c.api, "config.api");
  const p2p = object(c.p2p, "config.p2p");
  const keygen = object(c.keygen ?? {}, "config.keygen");
  const crypto = object(c.crypto ?? {}, "config.crypto");
  const backend = crypto.backend ?? "native";
  if (!CRYPTO_BACKENDS.includes(backend as CryptoBackendName)) {
    throw new ConfigError(`config.crypto.backend must be "native" or "noble", got ${JSON.stringify(backend)}`);
  }
  if (!Array.isArray(c.verifiers)) throw new ConfigError("config.verifiers must be a list");
  const verifiers = c.verifiers.map((v, i) => verifier(v, `config.verifiers[${i}]`));
  const names = new Set(verifiers.map((v) => v.name));
  if (names.size !== verifiers.length) throw new ConfigError("config.verifiers names a verifier twice");
  const host = string(api.host ?? "127.0.0.1", "config.api.host");
  const keyBuffer = int(keygen.keyBuffer ?? 64, "config.keygen.keyBuffer", 1, 1_000_000);
  const port = int(api.port, "config.api.port", 1, 65_535);
  const listen = string(
    p2p.listen,
    "config.p2p.listen",
    /^\/ip4\/[0-9.]+\/tcp\/\d+$/,
    "a multiaddr /ip4/<ip>/tcp/<port>",
  );
  return {
    nodeKey: string(
      c.nodeKey ??
        missing("no node key: name its keystore in config.nodeKeystore (TORUS_NODE_KEYSTORE) with its password"),
      "config.nodeKey",
      /^(0x)?[0-9a-fA-F]{64}$/,
      "a 32-byte hex private key",
    ),
    chain: {
      rpcUrl: url(chain.rpcUrl, "config.chain.rpcUrl"),
      nodeList: string(chain.nodeList, "config.chain.nodeList", /^0x[0-9a-fA-F]{40}$/, "a contract address"),
      pollingIntervalMs: int(chain.pollingIntervalMs ?? 500, "config.chain.pollingIntervalMs", 50, 60_000),
    },
    api: {
      host,
      port,
      declaredIp: string(api.declaredIp ?? `${host}:${port}`, "config.api.declaredIp", /^[^\s/]+:\d+$/, "host:port"),
      keyAssignPerSecond: int(api.keyAssignPerSecond ?? 50, "config.api.keyAssignPerSecond", 1, 100_000),
      commitmentsPerSecond: int(api.commitmentsPerSecond ?? 10, "config.api.commitmentsPerSecond", 1, 1_000_000),
      openCommitmentsPerSource: int(
        api.openCommitmentsPerSource ?? 1000,
        "config.api.openCommitmentsPerSource",
        1,
        DEFAULT_MAX_RECORDS,
      ),
      failedShareRequestsPerSecond: int(
        api.failedShareRequestsPerSecond ?? 5,
        "config.api.failedShareRequestsPerSecond",
        1,
        100_000,
      ),
      keyAssignMode: string(
        api.keyAssignMode ?? "signer",
        "config.api.keyAssignMode",
        /^(signer|open)$/,
        '"signer" or "open"',
      ) as "signer" | "open",
      maxConnections: int(api.maxConnections ?? 1024, "config.api.maxConnections", 1, 1_000_000),
      trustProxy: trustProxy(api.trustProxy ?? false),
      ...(api.keyAssignSigner === undefined ? {} : { keyAssignSigner: signerKey(api.keyAssignSigner) }),
      epochClockSkewSeconds: int(api.epochClockSkewSeconds ?? 60, "config.api.epochClockSkewSeconds", 0, 3600),
    },
    p2p: { listen, announce: string(p2p.announce ?? listen, "config.p2p.announce") },
    dataDir: path.resolve(baseDir, string(c.dataDir, "config.dataDir")),
    storage: storage(c.storage ?? { kind: "embedded" }),
    verifiers,
    keygen: {
      batchSize: int(keygen.batchSize ?? 4, "config.keygen.batchSize", 1, 256),
      keyBuffer,
      refillMark: int(keygen.refillMark ?? Math.floor(keyBuffer / 2), "config.keygen.refillMark", 0, keyBuffer),
      resendWindowSeconds: int(keygen.resendWindowSeconds ?? 600, "config.keygen.resendWindowSeconds", 0, 604_800),
    },
    crypto: {
      backend: backend as CryptoBackendName,
      allowSlowFallback: bool(crypto.allowSlowFallback ?? false, "config.crypto.allowSlowFallback"),
      workers: int(crypto.workers ?? defaultCheckWorkers(), "config.crypto.workers", 0, 256),
    },
    logLevel: string(
      c.logLevel ?? "info",
      "config.logLevel",
      /^(fatal|error|warn|info|debug|trace|silent)$/,
      "a pino level",
    ),
  };
}

/**
 * Reads the config file, applies the environment overrides, loads the node key (from `nodeKey`, `nodeKeyFile` or the
 * keystore `nodeKeystore`: node/chain/node-key-source.ts), and checks everything. Throws a ConfigError, or a
 * NodeKeyError when the key cannot be loaded (a wrong password, a key file open to others, …).
 */
export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<NodeConfig> {
  return readConfig(file, env, true);
}

/**
 * The configuration without its node key, checked otherwise as `loadConfig` checks it: for `torus-node status`, which
 * needs the API's address only and must not ask for the keystore's password.
 */
export async function loadConfigWithoutKey(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Omit<NodeConfig, "nodeKey">> {
  const { nodeKey: _, ...config } = await readConfig(file, env, false);
  return config;
}

/** A well-formed key that stands in for the one `loadConfigWithoutKey` does not load, and never leaves it. */
const UNLOADED_NODE_KEY = "0x" + "0".repeat(63) + "1";

async function readConfig(file: string, env: NodeJS.ProcessEnv, withKey: boolean): Promise<NodeConfig> {
  let raw: Json;
  try {
    raw = object(JSON.parse(await readFile(file, "utf8")), "config");
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`cannot read ${file}: ${(error as Error).message}`);
  }
  const baseDir = path.dirname(path.resolve(file));
  const set = (obj: string, key: string, value: string | number | undefined) => {
    if (value === undefined) return;
    raw[obj] = { ...(isObject(raw[obj]) ? raw[obj] : {}), [key]: value };
  };
  set("chain", "rpcUrl", env.TORUS_CHAIN_RPC_URL);
  set("chain", "nodeList", env.TORUS_NODE_LIST);
  set("api", "port", env.TORUS_API_PORT === undefined ? undefined : Number(env.TORUS_API_PORT));
  set("p2p", "listen", env.TORUS_P2P_LISTEN);
  set("crypto", "backend", env.TORUS_CRYPTO_BACKEND);
  set("crypto", "workers", env.TORUS_CRYPTO_WORKERS === undefined ? undefined : Number(env.TORUS_CRYPTO_WORKERS));
  if (env.TORUS_DATA_DIR) raw.dataDir = env.TORUS_DATA_DIR;
  if (env.TORUS_POSTGRES_URL) raw.storage = { kind: "postgres", url: env.TORUS_POSTGRES_URL };
  raw.nodeKey = withKey ? await loadNodeKey(raw, env, baseDir) : UNLOADED_NODE_KEY;
  for (const field of ["nodeKeyFile", "nodeKeystore", "nodeKeyPasswordFile"]) delete raw[field];
  return parseConfig(raw, baseDir);
}

/**
 * The hash every node of an epoch compares: clients compare the nodes' answers byte for byte, so nodes that verify
 * tokens differently must not serve side by side.
 */
export function verifierSetHash(verifiers: readonly VerifierConfig[]): string {
  const sorted = [...verifiers].sort((a, b) => (a.name < b.name ? -1 : 1));
  return bytesToHex(sha256(utf8ToBytes(canonicalJson(sorted))));
}
