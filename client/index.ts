/**
 * The DApp SDK for a threshold key network of this project (or any node speaking the Torus legacy JSON-RPC), published
 * as a package of its own (client/package.json, client/README.md).
 *
 * @example
 * const network = await networkFromNodeList({ rpcUrl, nodeList });
 * const { address } = await getOrAssignKey(network, { verifier: "google", verifierId: "alice@example.com" });
 * const { privateKey } = await login(network, { verifier: "google", verifierId: "alice@example.com", idToken });
 *
 * `login` is the commit–reveal of the seeds, done safely: it commits keccak256(idToken) with a fresh temporary key to
 * every node, checks the nodes' signatures itself (and that they name this network's deployment and epoch), and
 * reveals the token only once q = ⌈(n + t + 1)/2⌉ distinct nodes signed its own key — if q became unreachable it stops
 * without revealing (ask for a fresh token). It then
 * decrypts k shares, interpolates the private key and checks it against the public key every node reported.
 *
 * Every exported name is the package's public surface: its declarations are generated from this file (client/build.ts)
 * and must not mention a type of a bundled dependency, which the package does not ship.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex } from "@noble/hashes/utils.js";

import { COMMITMENT_PREFIX, commitmentDataDomain, revealQuorum as quorum } from "../node/auth/commit-reveal.ts";
import { addressFromPublicKey } from "../node/crypto/address.ts";
import { commitmentDomainFields } from "../node/crypto/domain.ts";
import { eciesDecrypt, eciesFromLegacyShare } from "../node/crypto/ecies.ts";
import { bytesToBigInt, randomNonZeroScalar, systemRng, mod } from "../node/crypto/field.ts";
import { lagrangeCoefficients } from "../node/crypto/lagrange.ts";
import { mulG } from "../node/crypto/generators.ts";
import { pointFromCoordinates } from "../node/crypto/point.ts";
import { verifyTorus } from "../node/crypto/signature.ts";
import { JsonRpcClient, type RpcOutcome } from "./jrpc.ts";
import { outcomeReason, reporter, type LoginProgress } from "./login-progress.ts";
import type { Network } from "./network.ts";

export { networkFromDescription, type Deployment, type Network, type NetworkDescription } from "./network.ts";
export { networkFromNodeList, NodeListError, type NodeListSource } from "./node-list.ts";
export { JsonRpcClient, type RpcOutcome } from "./jrpc.ts";
export type { LoginProgress } from "./login-progress.ts";

/** A user's key as the nodes report it; the private key never leaves the nodes except as shares to its owner. */
export interface KeyInfo {
  /** The key's index in the network (the order keys were generated in). */
  keyIndex: number;
  /** The public key, as 64-digit lowercase hex coordinates. */
  publicKey: { x: string; y: string };
  /** The Ethereum address of the public key, EIP-55 checksummed. */
  address: string;
}

/** What {@link login} returns: the user's private key, checked against the public key the nodes reported. */
export interface LoginResult {
  /** The secp256k1 private key, in [1, q). */
  privateKey: bigint;
  /** Its public key, as 64-digit lowercase hex coordinates. */
  publicKey: { x: string; y: string };
  /** Its Ethereum address, EIP-55 checksummed (the one {@link getOrAssignKey} reports). */
  address: string;
}

/** Options of {@link getOrAssignKey} and {@link login}. */
export interface SdkOptions {
  /** Per-request timeout in milliseconds (default 10 s). */
  timeoutMs?: number;
  /** How long to wait for an assignment to show up at a majority, in milliseconds (default 15 s). */
  assignTimeoutMs?: number;
  /**
   * The KeyAssign signer's URL (torus.js's `signerHost`, e.g. a devnet's `signerHost`): nodes assign keys only on
   * its signature. Without it `getOrAssignKey` cannot assign, and a new user gets a key at its first `login`.
   */
  signer?: string;
  /** The fetch to use for every request (default the global one). */
  fetch?: typeof fetch;
}

/** Options of {@link login}: the {@link SdkOptions} and a progress listener. */
export interface LoginOptions extends SdkOptions {
  /**
   * Hears each node's steps as they happen (committing, signed or why not, revealing, share received or why not), for
   * a DApp that shows its users what the network does. A listener that throws does not stop the login.
   */
  onProgress?: (event: LoginProgress) => void;
}

/**
 * Why {@link login} or {@link getOrAssignKey} failed: `code` says what (and, for a login, whether the ID token was
 * revealed); the message names what the nodes answered.
 */
export class LoginError extends Error {
  override readonly name = "LoginError";
  constructor(
    /**
     * - `TOO_FEW_SIGNATURES`: fewer than q nodes signed the commitment; the token was not revealed (get a fresh one).
     * - `WRONG_DEPLOYMENT`: nodes signed for another deployment or epoch (an outdated {@link Network}?); not revealed.
     * - `TOO_FEW_SHARES`: fewer than k shares arrived or decrypted.
     * - `KEY_MISMATCH`: no k shares give the public key the nodes reported.
     * - `NOT_ASSIGNED`: no key could be assigned in time (no signer given, or no free key yet).
     * - `NO_MAJORITY`: no majority of the nodes agrees on the user's key (too many nodes down or misbehaving).
     */
    readonly code:
      "TOO_FEW_SIGNATURES" | "WRONG_DEPLOYMENT" | "TOO_FEW_SHARES" | "KEY_MISMATCH" | "NOT_ASSIGNED" | "NO_MAJORITY",
    message: string,
  ) {
    super(message);
  }
}

/**
 * The number of node signatures on one temporary key a login needs before it reveals its token, ⌈(n + t + 1)/2⌉:
 * any two such sets share an honest node (4 of 5 nodes at t = 1, 6 of 9 at t = 2).
 */
export function revealQuorum(n: number, t: number): number {
  return quorum(n, t);
}

const majority = (n: number) => Math.floor(n / 2) + 1;

/** The same answer from a majority of nodes (compared as JSON), or undefined. */
function majorityOf<T>(outcomes: RpcOutcome[], pick: (o: RpcOutcome) => T | undefined): T | undefined {
  const counts = new Map<string, { value: T; count: number }>();
  for (const outcome of outcomes) {
    const value = pick(outcome);
    if (value === undefined) continue;
    const key = JSON.stringify(value);
    const entry = counts.get(key) ?? { value, count: 0 };
    entry.count++;
    counts.set(key, entry);
  }
  return [...counts.values()].find((e) => e.count >= majority(outcomes.length))?.value;
}

interface LookupResult {
  keys: { key_index: string; pub_key_X: string; pub_key_Y: string; address: string }[];
}

function toKeyInfo(result: LookupResult): KeyInfo {
  const key = result.keys[0]!;
  return {
    keyIndex: Number.parseInt(key.key_index, 16),
    publicKey: { x: key.pub_key_X.padStart(64, "0"), y: key.pub_key_Y.padStart(64, "0") },
    address: key.address,
  };
}

/**
 * The key of (verifier, verifierId), assigning one if the user has none: the account-resolver API. A user's key is
 * the one a majority of the nodes reports; an assignment (with `options.signer` only) goes through the nodes' BFT
 * network and is idempotent, so two calls never give one user two keys.
 *
 * @throws {@link LoginError} `NO_MAJORITY` or `NOT_ASSIGNED`.
 * @example
 * const { address } = await getOrAssignKey(network, { verifier: "dev", verifierId: "alice@example.com" }, { signer });
 */
export async function getOrAssignKey(
  network: Network,
  user: { verifier: string; verifierId: string },
  options: SdkOptions = {},
): Promise<KeyInfo> {
  const rpc = new JsonRpcClient(options.timeoutMs, options.fetch);
  const params = { verifier: user.verifier, verifier_id: user.verifierId };
  const lookup = async () => {
    const outcomes = await rpc.all(network.endpoints, "VerifierLookupRequest", params);
    const found = majorityOf(outcomes, (o) => (o.result ? (o.result as LookupResult) : undefined));
    const unassigned = majorityOf(outcomes, (o) =>
      o.error?.data?.includes("has not yet been assigned") ? true : undefined,
    );
    return { found, unassigned };
  };
  const first = await lookup();
  let found = first.found;
  if (found) return toKeyInfo(found);
  if (!first.unassigned) throw new LoginError("NO_MAJORITY", "the nodes do not agree on this user's key");
  // KeyAssign at one node (the next one if it fails); it is idempotent, so a retry never makes a second key.
  const deadline = Date.now() + (options.assignTimeoutMs ?? 15_000);
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    const i = attempt % network.endpoints.length;
    const outcome = await keyAssign(rpc, network.endpoints[i]!, network.nodePublicKeys[i]!, params, options);
    if (outcome.result) {
      ({ found } = await lookup());
      if (found) return toKeyInfo(found);
    }
    await new Promise((resolve) => setTimeout(resolve, outcome.result ? 250 : 500));
  }
  throw new LoginError("NOT_ASSIGNED", "no key could be assigned in time (no free key yet? no signer?)");
}

/**
 * Low level: one KeyAssign at one node, signed by the signer for that node when there is one (the signer signs the
 * request as it will be sent, and its three fields are merged into the body, as torus.js does it). Use
 * {@link getOrAssignKey} unless you need one node's own answer.
 */
export async function keyAssign(
  rpc: JsonRpcClient,
  endpoint: string,
  node: { x: string; y: string },
  params: unknown,
  options: SdkOptions,
): Promise<RpcOutcome> {
  const request = rpc.request("KeyAssign", params);
  if (options.signer === undefined) return rpc.send(endpoint, request);
  let signed: Record<string, unknown>;
  try {
    const response = await (options.fetch ?? fetch)(options.signer, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        pubKeyX: node.x.replace(/^0+(?=.)/, ""),
        pubKeyY: node.y.replace(/^0+(?=.)/, ""),
      },
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    if (!response.ok) return { failed: `signer: HTTP ${response.status}` };
    signed = (await response.json()) as Record<string, unknown>;
  } catch (error) {
    return { failed: `signer: ${(error as Error).message}` };
  }
  return rpc.send(endpoint, { ...request, ...signed });
}

interface NodeSignature {
  signature: string;
  data: string;
  nodepubx: string;
  nodepuby: string;
}

interface ShareKey {
  Index: string;
  PublicKey: { X: string; Y: string };
  Share: string;
  Metadata: { iv: string; ephemPublicKey: string; mac: string; mode: string };
}

/**
 * Logs a user in with an ID token of the verifier's OIDC provider: returns the private key of (verifier, verifierId),
 * checked against its public key. A user without a key gets one (the nodes assign it at the reveal). Use each token
 * once: after a failure, get a fresh token.
 *
 * @throws {@link LoginError} with a code saying what failed and whether the token was revealed.
 * @example
 * const { privateKey, address } = await login(network, { verifier: "dev", verifierId: "alice@example.com", idToken });
 */
export async function login(
  network: Network,
  user: { verifier: string; verifierId: string; idToken: string },
  options: LoginOptions = {},
): Promise<LoginResult> {
  const rpc = new JsonRpcClient(options.timeoutMs, options.fetch);
  const report = reporter(options.onProgress, network.endpoints, network.indexes);
  const n = network.endpoints.length;
  const q = revealQuorum(n, network.t);
  const k = majority(n);
  const tempKey = randomNonZeroScalar(systemRng);
  // Through the installed curve backend (node/crypto/backend.ts): noble in browsers, native if a Node program installed it.
  const tempPub = mulG(tempKey).toAffine();
  const temppubx = tempPub.x.toString(16).padStart(64, "0");
  const temppuby = tempPub.y.toString(16).padStart(64, "0");
  const commitment = bytesToHex(keccak_256(new TextEncoder().encode(user.idToken)));
  const nodeKeys = network.nodePublicKeys.map((p, i) =>
    pointFromCoordinates(BigInt("0x" + p.x), BigInt("0x" + p.y), `node ${i}`),
  );

  // Commit: a signature counts only if it is the node's, over our commitment and our temporary key, in our network.
  const commitParams = {
    messageprefix: COMMITMENT_PREFIX,
    tokencommitment: commitment,
    temppubx,
    temppuby,
    verifieridentifier: user.verifier,
  };
  const domain = commitmentDomainFields(network.deployment, network.epoch);
  type Verdict = { signature: NodeSignature } | { otherDomain: string; reason: string } | { reason: string };
  const checkCommitment = (outcome: RpcOutcome, i: number): Verdict => {
    const result = outcome.result as NodeSignature | undefined;
    if (!result || typeof result.data !== "string") return { reason: outcomeReason(outcome) };
    const [prefix, tc, x, y, verifier] = result.data.split("\x1c");
    const ours =
      prefix === COMMITMENT_PREFIX &&
      tc === commitment &&
      x === temppubx &&
      y === temppuby &&
      verifier === user.verifier;
    if (!ours) return { reason: "it signed other data than this commitment" };
    const named = commitmentDataDomain(result.data) ?? [];
    if (named.length !== domain.length || named.some((field, j) => field !== domain[j])) {
      const names = named.length > 0 ? named.join(" / ") : "no deployment";
      return {
        otherDomain: `${network.endpoints[i]} names ${names}`,
        reason: `it signed for another deployment or epoch (${names})`,
      };
    }
    if (!verifyTorus(nodeKeys[i]!, result.data, result.signature))
      return { reason: "its signature does not verify with its key" };
    return { signature: result };
  };
  const commits = await Promise.all(
    network.endpoints.map(async (endpoint, i) => {
      report(i, "committing");
      const outcome = await rpc.call(endpoint, "CommitmentRequest", commitParams);
      const verdict = checkCommitment(outcome, i);
      if ("signature" in verdict) report(i, "signed");
      else report(i, "not-signed", verdict.reason);
      return { outcome, verdict };
    }),
  );
  const outcomes = commits.map((c) => c.outcome);
  const signatures = commits.flatMap(({ verdict }) => ("signature" in verdict ? [verdict.signature] : []));
  const otherDomain = commits.flatMap(({ verdict }) => ("otherDomain" in verdict ? [verdict.otherDomain] : []));
  if (signatures.length < q && otherDomain.length > 0) {
    // Never reveal a token to nodes of another network: their signatures are no quorum here.
    throw new LoginError(
      "WRONG_DEPLOYMENT",
      `only ${signatures.length} of the ${q} node signatures a login needs name this network (chain / NodeList / ` +
        `deployment block / epoch ${domain.join(" / ")}): ${otherDomain.join("; ")}; the token was not revealed — ` +
        `check the network description (a redeployed NodeList or a new epoch?)`,
    );
  }
  if (signatures.length < q) {
    // Never reveal without q signatures on our key: a front-runner could then get shares encrypted to its own key.
    const errors = [
      ...new Set(
        outcomes.flatMap((o) => (o.error ? [String(o.error.data ?? o.error.message)] : o.failed ? [o.failed] : [])),
      ),
    ];
    const why = errors.length > 0 ? `; the nodes answered: ${errors.join(" | ")}` : "";
    throw new LoginError(
      "TOO_FEW_SIGNATURES",
      `only ${signatures.length} of the ${q} node signatures a login needs; the token was not revealed — get a fresh token and retry${why}`,
    );
  }

  // Reveal.
  const shareParams = {
    encrypted: "yes",
    item: [
      {
        idtoken: user.idToken,
        nodesignatures: signatures,
        verifieridentifier: user.verifier,
        verifier_id: user.verifierId,
      },
    ],
  };
  const answers = await Promise.all(
    network.endpoints.map(async (endpoint, i) => {
      report(i, "revealing");
      const answer = await rpc.call(endpoint, "ShareRequest", shareParams);
      if (!answer.result) report(i, "no-share", outcomeReason(answer));
      return answer;
    }),
  );
  const publicKeys = answers.map((a) => (a.result as { keys?: ShareKey[] } | undefined)?.keys?.[0]?.PublicKey);
  const expected = majorityPublicKey(publicKeys);
  if (!expected) {
    answers.forEach((a, i) => {
      if (a.result) report(i, "no-share", "no majority of the nodes reports the same key");
    });
    // Say why: the nodes' own errors (a token of another epoch, an unassigned user…) are what a developer needs.
    const errors = [...new Set(answers.flatMap((a) => (a.error ? [String(a.error.data ?? a.error.message)] : [])))];
    const why = errors.length > 0 ? `; the nodes answered: ${errors.join(" | ")}` : "";
    throw new LoginError("NO_MAJORITY", `the nodes do not agree on the public key${why}`);
  }
  const publicKey = pointFromCoordinates(BigInt("0x" + expected.X), BigInt("0x" + expected.Y), "public key");
  const shares: { index: bigint; value: bigint }[] = [];
  answers.forEach((answer, i) => {
    if (!answer.result) return;
    const key = (answer.result as { keys?: ShareKey[] } | undefined)?.keys?.[0];
    if (!key) return report(i, "no-share", "its answer holds no share");
    if (key.PublicKey.X !== expected.X || key.PublicKey.Y !== expected.Y)
      return report(i, "no-share", "it reports another key than the majority");
    try {
      const plaintext = eciesDecrypt(tempKey, eciesFromLegacyShare(key.Share, key.Metadata, `node ${i + 1}`));
      shares.push({ index: BigInt(network.indexes[i]!), value: mod(bytesToBigInt(plaintext)) });
      report(i, "share-received");
    } catch {
      // A share that does not decrypt is skipped; k good ones suffice.
      report(i, "no-share", "its share does not decrypt (a wrong MAC)");
    }
  });
  if (shares.length < k)
    throw new LoginError("TOO_FEW_SHARES", `only ${shares.length} of the ${k} shares needed arrived`);
  // Any k shares should do; if one is bad (a Byzantine node), try other subsets.
  for (const subset of subsets(shares, k)) {
    const lambdas = lagrangeCoefficients(subset.map((s) => s.index));
    const privateKey = subset.reduce((acc, s, j) => mod(acc + lambdas[j]! * s.value), 0n);
    if (privateKey !== 0n && mulG(privateKey).equals(publicKey)) {
      const hex = (v: bigint) => v.toString(16).padStart(64, "0");
      return {
        privateKey,
        publicKey: { x: hex(publicKey.x), y: hex(publicKey.y) },
        address: addressFromPublicKey(publicKey),
      };
    }
  }
  throw new LoginError("KEY_MISMATCH", "no k shares give the public key the nodes reported");
}

function majorityPublicKey(keys: ({ X: string; Y: string } | undefined)[]): { X: string; Y: string } | undefined {
  const counts = new Map<string, number>();
  for (const key of keys) if (key) counts.set(`${key.X}:${key.Y}`, (counts.get(`${key.X}:${key.Y}`) ?? 0) + 1);
  const winner = [...counts].find(([, count]) => count >= majority(keys.length));
  if (!winner) return undefined;
  const [X, Y] = winner[0].split(":") as [string, string];
  return { X, Y };
}

function* subsets<T>(items: readonly T[], size: number, start = 0, prefix: T[] = []): Generator<T[]> {
  if (prefix.length === size) {
    yield prefix;
    return;
  }
  for (let i = start; i <= items.length - (size - prefix.length); i++)
    yield* subsets(items, size, i + 1, [...prefix, items[i]!]);
}
