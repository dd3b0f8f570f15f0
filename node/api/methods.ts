/**
 * The Torus legacy JSON-RPC methods (torus-node-v0.10.4.md §2; torus-js-client.md §2, §9): names, parameters,
 * result fields, hex conventions and error strings as the Torus node had them, so that `@toruslabs/torus.js@8.0.1`
 * works unchanged. Results that clients compare across nodes are built only from replicated state, so they are byte
 * for byte the same on every node. Where Torus had known flaws the wire stays the same and the behaviour is fixed:
 * KeyAssign is idempotent, commitments and reveals survive restarts, a commitment is not burned before its token is
 * checked, and ShareRequest needs q = ⌈(n + t + 1)/2⌉ signatures on one temporary key.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex } from "@noble/hashes/utils.js";

import { assignTx } from "../app/transactions.ts";
import {
  COMMITMENT_PREFIX,
  commitmentData,
  commitmentDecision,
  countSigners,
  quorumKey,
  revealQuorum,
  type SignatureRules,
} from "../auth/commit-reveal.ts";
import { CLOCK_SKEW_SECONDS, TokenError, TokenVerifier } from "../auth/verifier.ts";
import { addressFromPublicKey } from "../crypto/address.ts";
import { eciesEncrypt, eciesToLegacyShare } from "../crypto/ecies.ts";
import { parseLegacyHex, toLegacyHex } from "../crypto/encoding.ts";
import { bigIntToBytes, systemRng } from "../crypto/field.ts";
import { pointFromCoordinates } from "../crypto/point.ts";
import { createTorusVerifier } from "../crypto/signature.ts";
import type { TorusNode } from "../node.ts";
import { INTERNAL_ERROR, INVALID_PARAMS, RpcError, type Method } from "./jrpc.ts";
import { RateLimiter } from "./rate-limit.ts";

const MAX_ID_CHARS = 512;
const KEY_ASSIGN_TIMEOUT_MS = 10_000;

function string(params: Record<string, unknown>, field: string, max = MAX_ID_CHARS): string {
  const value = params[field];
  if (typeof value !== "string") throw new RpcError(INVALID_PARAMS, "Invalid params", `${field} must be a string`);
  if (value.length > max) throw new RpcError(INVALID_PARAMS, "Invalid params", `${field} is too long`);
  return value;
}

export function createMethods(node: TorusNode): Map<string, Method> {
  const verifiers = new Map(node.config.verifiers.map((v) => [v.name, new TokenVerifier(v)]));
  const maxTokenAgeSeconds = Math.max(...node.config.verifiers.map((v) => v.maxTokenAgeSeconds), 60);
  // Records live as long as a token can be accepted: its maximum age plus the skew on both ends.
  const recordLifetimeMs = (maxTokenAgeSeconds + 2 * CLOCK_SKEW_SECONDS) * 1000;
  const nodeKeys = node.epoch.nodes.map((n) => pointFromCoordinates(n.pubKx, n.pubKy, `node ${n.index}`));
  const nodeVerifiers = nodeKeys.map(createTorusVerifier);
  const self = nodeKeys[node.index - 1]!;
  const selfAddress = addressFromPublicKey(self);
  const assignLimiter = new RateLimiter(node.config.api.keyAssignPerSecond, node.config.api.keyAssignPerSecond * 2);
  const commitLimiter = new RateLimiter(node.config.api.commitmentsPerSecond, node.config.api.commitmentsPerSecond * 2);

  const serving = () => {
    if (node.refusing)
      throw new RpcError(INTERNAL_ERROR, "Internal error", `this node refuses to serve: ${node.refusing}`);
  };
  const supported = (verifier: string) => {
    if (!verifiers.has(verifier)) throw new RpcError(INVALID_PARAMS, "Input error", "Verifier not supported");
  };
  const keysResult = (keyIndex: number, publicKey: { x: string; y: string }) => {
    const point = pointFromCoordinates(BigInt("0x" + publicKey.x), BigInt("0x" + publicKey.y), "public key");
    return {
      keys: [
        {
          key_index: toLegacyHex(BigInt(keyIndex)),
          pub_key_X: toLegacyHex(BigInt("0x" + publicKey.x)),
          pub_key_Y: toLegacyHex(BigInt("0x" + publicKey.y)),
          address: addressFromPublicKey(point),
        },
      ],
    };
  };
  const lookup = (params: Record<string, unknown>) => {
    const verifier = string(params, "verifier");
    const verifierId = string(params, "verifier_id");
    if (verifierId.length === 0) throw new RpcError(INVALID_PARAMS, "Input error", "VerifierID is empty");
    supported(verifier);
    return { verifier, verifierId, assignment: node.app.lookup(verifier, verifierId) };
  };

  const methods = new Map<string, Method>();

  methods.set("Ping", () => ({ message: selfAddress }));

  methods.set("VerifierLookupRequest", (params) => {
    serving();
    const { assignment } = lookup(params);
    if (!assignment)
      throw new RpcError(INVALID_PARAMS, "Input Error", "Verifier + VerifierID has not yet been assigned");
    return keysResult(assignment.keyIndex, assignment.publicKey);
  });

  methods.set("KeyAssign", async (params, { ip }) => {
    serving();
    const { verifier, verifierId, assignment } = lookup(params);
    if (assignment) return keysResult(assignment.keyIndex, assignment.publicKey); // idempotent
    const frozen = node.app.frozen;
    if (frozen) throw handingOver(frozen.nextEpoch);
    if (!assignLimiter.take(ip))
      throw new RpcError(INTERNAL_ERROR, "Internal error", "too many key assignments; retry later");
    if (node.app.freeKeys === 0)
      throw new RpcError(INTERNAL_ERROR, "Internal error", "no generated key is free yet; retry later");
    const result = await Promise.race([
      node.submit(assignTx(verifier, verifierId)).catch((error: Error) => {
        const existing = node.app.lookup(verifier, verifierId);
        if (existing) return { code: "OK" as const, keyIndex: existing.keyIndex, publicKey: existing.publicKey };
        throw new RpcError(INTERNAL_ERROR, "Internal error", `Unable to broadcast: ${error.message}`);
      }),
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new RpcError(INTERNAL_ERROR, "Internal error", "key assignment error: timed out")),
          KEY_ASSIGN_TIMEOUT_MS,
        ).unref(),
      ),
    ]);
    if (result.code === "FROZEN") throw handingOver(result.nextEpoch);
    if (result.code === "NO_FREE_KEY")
      throw new RpcError(INTERNAL_ERROR, "Internal error", "no generated key is free yet; retry later");
    if (result.code !== "OK" || result.keyIndex === undefined || !result.publicKey) {
      throw new RpcError(INTERNAL_ERROR, "Internal error", "key assignment failed");
    }
    return keysResult(result.keyIndex, result.publicKey);
  });

  methods.set("KeyLookupRequest", (params) => {
    serving();
    const x = parseHex(params, "pub_key_X");
    const y = parseHex(params, "pub_key_Y");
    const found = node.app.keyByPublicKey({ x: x.toString(16).padStart(64, "0"), y: y.toString(16).padStart(64, "0") });
    if (!found) throw new RpcError(INVALID_PARAMS, "Input error", "no log of public key");
    if (!found.owner) throw new RpcError(INVALID_PARAMS, "Input error", "no key assignment found for public key");
    return {
      Index: toLegacyHex(BigInt(found.keyIndex)),
      PublicKey: { X: toLegacyHex(x), Y: toLegacyHex(y) },
      Threshold: 1,
      Verifiers: { [found.owner.verifier]: [found.owner.verifierId] },
    };
  });

  methods.set("CommitmentRequest", async (params, { ip }) => {
    serving();
    if (params.messageprefix !== COMMITMENT_PREFIX)
      throw new RpcError(INTERNAL_ERROR, "Internal error", "Incorrect message prefix");
    const commitment = string(params, "tokencommitment", 66).toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(commitment))
      throw new RpcError(INVALID_PARAMS, "Invalid params", "tokencommitment must be 64 hex characters");
    const verifier = string(params, "verifieridentifier");
    supported(verifier);
    const tempX = parseHex(params, "temppubx");
    const tempY = parseHex(params, "temppuby");
    try {
      pointFromCoordinates(tempX, tempY, "temporary public key");
    } catch {
      throw new RpcError(INVALID_PARAMS, "Invalid params", "temppubx, temppuby is not a point of secp256k1");
    }
    const tempPubX = tempX.toString(16).padStart(64, "0");
    const tempPubY = tempY.toString(16).padStart(64, "0");
    const existing = node.commitments.commitment(commitment);
    const decision = commitmentDecision(existing, node.commitments.reveal(commitment) !== undefined, {
      tempPubX,
      tempPubY,
      verifier,
    });
    if (decision === "duplicate") throw new RpcError(INTERNAL_ERROR, "Internal error", "Duplicate token found");
    if (decision === "repeat") {
      const { signature, data } = existing!;
      return { signature, data, nodepubx: toLegacyHex(self.x), nodepuby: toLegacyHex(self.y) };
    }
    if (!commitLimiter.take(ip))
      throw new RpcError(INTERNAL_ERROR, "Internal error", "too many commitments; retry later");
    const data = commitmentData(commitment, tempPubX, tempPubY, verifier, Math.floor(Date.now() / 1000));
    const record = {
      commitment,
      tempPubX,
      tempPubY,
      verifier,
      data,
      signature: node.sign(data),
      expiresAt: Date.now() + recordLifetimeMs,
    };
    if (!node.commitments.addCommitment(record)) {
      throw new RpcError(INTERNAL_ERROR, "Internal error", "this node holds too many open commitments; retry later");
    }
    await node.persistAuth({ kind: "commitment", ...record });
    return { signature: record.signature, data, nodepubx: toLegacyHex(self.x), nodepuby: toLegacyHex(self.y) };
  });

  methods.set("ShareRequest", async (params) => {
    serving();
    const items = params.item;
    if (!Array.isArray(items) || items.length !== 1 || typeof items[0] !== "object" || items[0] === null) {
      throw new RpcError(INVALID_PARAMS, "Invalid params", "item must hold exactly one request");
    }
    const item = items[0] as Record<string, unknown>;
    const idToken = string(item, "idtoken", 16 * 1024);
    const verifierName = string(item, "verifieridentifier");
    const verifierId = string(item, "verifier_id");
    supported(verifierName);
    const commitment = bytesToHex(keccak_256(new TextEncoder().encode(idToken)));
    // An identical retry (its answer was lost) gets the same answer.
    const previous = node.commitments.reveal(commitment);
    if (previous) return previous.response;

    const signatures: unknown[] = Array.isArray(item.nodesignatures)
      ? (item.nodesignatures as unknown[]).slice(0, 4 * node.epoch.n)
      : [];
    const quorum = revealQuorum(node.epoch.n, node.epoch.t);
    let tempKey = quorumKey(signatures, commitment, verifierName, signatureRules());
    // Peers are asked only for a commitment that exists (here, or signed by some node in the request): a made-up
    // token must not make every node broadcast.
    const worthAsking =
      node.commitments.commitment(commitment) !== undefined || signedBySomeNode(signatures, commitment, verifierName);
    if (!tempKey && worthAsking) {
      // Too few signatures on one key (torus.js forwards only the first answers it got): ask the peers for the
      // signatures they already issued on this commitment. Nothing new is signed, so safety is unchanged.
      const fromPeers = await node.requestPeerSignatures(verifierName, commitment);
      tempKey = quorumKey(
        [
          ...signatures,
          ...fromPeers.map((p) => ({
            ...p,
            nodepubx: toLegacyHex(nodeKeys[p.node - 1]!.x),
            nodepuby: toLegacyHex(nodeKeys[p.node - 1]!.y),
          })),
        ],
        commitment,
        verifierName,
        signatureRules(),
      );
    }
    if (!tempKey) {
      throw new RpcError(
        INVALID_PARAMS,
        "Internal error",
        `Not enough valid signatures on the same data: ${quorum} are needed`,
      );
    }
    const tokenVerifier = verifiers.get(verifierName)!;
    try {
      await tokenVerifier.verify(idToken, verifierId, node.tokenWindow());
    } catch (error) {
      if (error instanceof TokenError) {
        const code = error.code === "JWKS_UNAVAILABLE" ? INTERNAL_ERROR : INVALID_PARAMS;
        throw new RpcError(code, "Error occurred while verifying params", `${error.code}: ${error.message}`);
      }
      throw error;
    }
    const assignment = node.app.lookup(verifierName, verifierId);
    if (!assignment)
      throw new RpcError(INVALID_PARAMS, "Input Error", "Verifier + VerifierID has not yet been assigned");
    const key = await node.findKey(assignment.keyIndex);
    if (!key)
      throw new RpcError(INTERNAL_ERROR, "Internal error", "this node does not hold a share of the key yet; retry");
    // 32 bytes, big-endian: torus.js left-pads the hex ciphertext to 64 characters, so a share must never encrypt to
    // a single AES block.
    const encrypted = eciesEncrypt(tempKey, bigIntToBytes(BigInt("0x" + key.share), 32), systemRng);
    const response = {
      keys: [
        {
          Index: toLegacyHex(BigInt(assignment.keyIndex)),
          PublicKey: {
            X: toLegacyHex(BigInt("0x" + assignment.publicKey.x)),
            Y: toLegacyHex(BigInt("0x" + assignment.publicKey.y)),
          },
          Threshold: 1,
          Verifiers: { [verifierName]: [verifierId] },
          ...eciesToLegacyShare(encrypted),
        },
      ],
    };
    node.commitments.addReveal({ commitment, response, expiresAt: Date.now() + recordLifetimeMs });
    await node.persistAuth({ kind: "reveal", commitment, response, expiresAt: Date.now() + recordLifetimeMs });
    return response;
  });

  const signatureRules = (): SignatureRules => ({
    nodeKeys,
    verifiers: nodeVerifiers,
    quorum: revealQuorum(node.epoch.n, node.epoch.t),
    nowSeconds: Math.floor(Date.now() / 1000),
    maxAgeSeconds: maxTokenAgeSeconds + CLOCK_SKEW_SECONDS,
  });
  const signedBySomeNode = (entries: readonly unknown[], commitment: string, verifier: string) =>
    countSigners(entries, commitment, verifier, signatureRules()).size > 0;

  return methods;
}

/** New users wait while the state is frozen for the handover (the next epoch assigns them). */
function handingOver(nextEpoch: number): RpcError {
  return new RpcError(
    INTERNAL_ERROR,
    "Internal error",
    `the network is handing over to epoch ${nextEpoch}; retry after the handover`,
  );
}

function parseHex(params: Record<string, unknown>, field: string): bigint {
  try {
    return parseLegacyHex(params[field], field, { maxBytes: 32 });
  } catch (error) {
    throw new RpcError(INVALID_PARAMS, "Invalid params", (error as Error).message);
  }
}
