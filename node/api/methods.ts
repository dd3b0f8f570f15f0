/**
 * The Torus legacy JSON-RPC methods (torus-node-v0.10.4.md §2; torus-js-client.md §2, §9): names, parameters,
 * result fields, hex conventions and error strings as the Torus node had them, so that `@toruslabs/torus.js@8.0.1`
 * works unchanged. Results that clients compare across nodes are built only from replicated state, so they are byte
 * for byte the same on every node. Where Torus had known flaws the wire stays the same and the behaviour is fixed:
 * KeyAssign is idempotent, commitments and reveals survive restarts, a commitment is not burned before its token is
 * checked, and ShareRequest needs q = ⌈(n + t + 1)/2⌉ signatures on one temporary key.
 *
 * The methods see the node only through KeyService (service.ts); their params were checked against params.ts before
 * they run, so they check only what needs the node's state. They never sign anything but commitment data, and never
 * answer a reveal without a quorum of signatures and a verified token.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex } from "@noble/hashes/utils.js";

import {
  commitmentData,
  commitmentDecision,
  keyWithQuorum,
  otherDomainEntries,
  revealQuorum,
  screenEntries,
  verifiedSigners,
  type Candidate,
  type SignatureRules,
} from "../auth/commit-reveal.ts";
import { CLOCK_SKEW_SECONDS, TokenError, TokenVerifier } from "../auth/verifier.ts";
import { addressFromPublicKey } from "../crypto/address.ts";
import { commitmentDomainFields } from "../crypto/domain.ts";
import { eciesEncrypt, eciesToLegacyShare } from "../crypto/ecies.ts";
import { toLegacyHex } from "../crypto/encoding.ts";
import { bigIntToBytes, systemRng } from "../crypto/field.ts";
import { pointFromCoordinates } from "../crypto/point.ts";
import { createTorusVerifier } from "../crypto/signature.ts";
import { rpcError } from "./errors.ts";
import { method, type Method } from "./jrpc.ts";
import { anyParams, commitmentParams, publicKeyParams, shareRequestParams, userParams } from "./params.ts";
import { RateLimiter, sourceOf } from "./rate-limit.ts";
import type { ApiSettings, Assignment, AssignOutcome, KeyService } from "./service.ts";

/** How long a client waits: for its assignment to be decided, and for peers to return missing signatures. */
export interface MethodTimeouts {
  keyAssignMs: number;
  peerSignaturesMs: number;
}

export const DEFAULT_TIMEOUTS: MethodTimeouts = { keyAssignMs: 10_000, peerSignaturesMs: 1500 };

/**
 * What requests made the node do, counted where the work is done, so that tests and benches can assert the cost of a
 * request (signature checks, peer asks) instead of timing it.
 */
export interface ApiMeter {
  /** ECDSA verifications of node signatures in ShareRequests. */
  signatureChecks: number;
  /** Signature fetches from peers started for ShareRequests. */
  peerAsks: number;
}

export const newApiMeter = (): ApiMeter => ({ signatureChecks: 0, peerAsks: 0 });

/** Limits the API applies when the operator's settings leave them out. */
export const DEFAULT_LIMITS = {
  /** ShareRequests per second a source may send that fail before any signature is valid (or with none valid). */
  failedShareRequestsPerSecond: 5,
  /** Signature fetches under way at once, per source and for the whole node. */
  peerAsksPerSource: 2,
  peerAsksTotal: 32,
  /**
   * Open commitments per source: a login opens one per node and reveals it within seconds, so a thousand covers a
   * large NAT, while a 200,000-record store needs 200 sources to fill.
   */
  openCommitmentsPerSource: 1000,
};

const hex64 = (value: bigint) => value.toString(16).padStart(64, "0");

export function createMethods(
  service: KeyService,
  settings: ApiSettings,
  timeouts: MethodTimeouts = DEFAULT_TIMEOUTS,
  meter: ApiMeter = newApiMeter(),
): Map<string, Method> {
  const verifiers = new Map(settings.verifiers.map((v) => [v.name, new TokenVerifier(v)]));
  const maxTokenAgeSeconds = Math.max(...settings.verifiers.map((v) => v.maxTokenAgeSeconds), 60);
  // Records live as long as a token can be accepted: its maximum age plus the skew on both ends.
  const recordLifetimeMs = (maxTokenAgeSeconds + 2 * CLOCK_SKEW_SECONDS) * 1000;
  const { nodeKeys, n, t } = service.epoch;
  const nodeVerifiers = nodeKeys.map((key) => {
    const verify = createTorusVerifier(key);
    return (data: string | Uint8Array, signature: unknown) => {
      meter.signatureChecks++;
      return verify(data, signature);
    };
  });
  const self = service.self.publicKey;
  const selfAddress = addressFromPublicKey(self);
  const quorum = revealQuorum(n, t);
  // What this node's commitment signatures name, and what every signature a reveal counts must name.
  const domainFields = commitmentDomainFields(service.deployment, service.epoch.number);
  const [chainId, nodeList, blockHash, epochNumber] = domainFields;
  const domainText = `chain ${chainId}, NodeList ${nodeList}, deployment block ${blockHash}, epoch ${epochNumber}`;
  const openPerSource = settings.openCommitmentsPerSource ?? DEFAULT_LIMITS.openCommitmentsPerSource;
  const assignLimiter = new RateLimiter(settings.keyAssignPerSecond, settings.keyAssignPerSecond * 2);
  const commitLimiter = new RateLimiter(settings.commitmentsPerSecond, settings.commitmentsPerSecond * 2);
  const failedShareRate = settings.failedShareRequestsPerSecond ?? DEFAULT_LIMITS.failedShareRequestsPerSecond;
  const failedShareLimiter = new RateLimiter(failedShareRate, failedShareRate * 2);
  const peerAsks = {
    perSource: settings.peerAsksPerSource ?? DEFAULT_LIMITS.peerAsksPerSource,
    total: settings.peerAsksTotal ?? DEFAULT_LIMITS.peerAsksTotal,
    running: new Map<string, number>(),
    all: 0,
  };

  /** Every method but Ping needs a node that serves its epoch; Ping answers whatever the node's state. */
  const whileServing = () => {
    const why = service.refusing();
    return why === undefined ? undefined : rpcError("NOT_SERVING", why);
  };
  const always = () => undefined;
  const supported = (verifier: string) => {
    if (!verifiers.has(verifier)) throw rpcError("VERIFIER_NOT_SUPPORTED");
  };
  const keysResult = ({ keyIndex, publicKey }: Assignment) => {
    const x = BigInt("0x" + publicKey.x);
    const y = BigInt("0x" + publicKey.y);
    return {
      keys: [
        {
          key_index: toLegacyHex(BigInt(keyIndex)),
          pub_key_X: toLegacyHex(x),
          pub_key_Y: toLegacyHex(y),
          address: addressFromPublicKey(pointFromCoordinates(x, y, "public key")),
        },
      ],
    };
  };
  const lookup = async (params: { verifier: string; verifier_id: string }) => {
    const { verifier, verifier_id: verifierId } = params;
    if (verifierId.length === 0) throw rpcError("VERIFIER_ID_EMPTY");
    supported(verifier);
    return { verifier, verifierId, assignment: await service.lookup(verifier, verifierId) };
  };
  const signatureRules = (): SignatureRules => ({
    nodeKeys,
    verifiers: nodeVerifiers,
    quorum,
    nowSeconds: Math.floor(Date.now() / 1000),
    maxAgeSeconds: maxTokenAgeSeconds + CLOCK_SKEW_SECONDS,
    domainFields,
  });
  const commitmentAnswer = (signature: string, data: string) => ({
    signature,
    data,
    nodepubx: toLegacyHex(self.x),
    nodepuby: toLegacyHex(self.y),
  });

  const methods = new Map<string, Method>();

  methods.set(
    "Ping",
    method(always, anyParams, () => ({ message: selfAddress })),
  );

  methods.set(
    "VerifierLookupRequest",
    method(whileServing, userParams, async (params) => {
      const { assignment } = await lookup(params);
      if (!assignment) throw rpcError("NOT_ASSIGNED");
      return keysResult(assignment);
    }),
  );

  /**
   * Assigns the next free key through the BFT network and waits for the decision. Shared by KeyAssign and by a
   * login of a user without a key; quotas per source, like every method's.
   */
  const assignKey = async (verifier: string, verifierId: string, source: string): Promise<Assignment> => {
    const nextEpoch = service.handingOverTo();
    if (nextEpoch !== undefined) throw rpcError("HANDING_OVER", nextEpoch);
    if (!assignLimiter.take(source)) throw rpcError("TOO_MANY_ASSIGNMENTS");
    if (service.freeKeys() === 0) throw rpcError("NO_FREE_KEY");
    const signal = AbortSignal.timeout(timeouts.keyAssignMs);
    let outcome: AssignOutcome;
    try {
      outcome = await service.assign(verifier, verifierId, signal, source);
    } catch (error) {
      if (signal.aborted) throw rpcError("ASSIGN_TIMED_OUT");
      // Refused before it was ordered, e.g. as a duplicate of a transaction another node's client got decided.
      const existing = await service.lookup(verifier, verifierId);
      if (existing) return existing;
      throw rpcError("BROADCAST_FAILED", (error as Error).message);
    }
    if (outcome.code === "FROZEN") throw rpcError("HANDING_OVER", outcome.nextEpoch);
    if (outcome.code === "NO_FREE_KEY") throw rpcError("NO_FREE_KEY");
    if (outcome.code !== "OK") throw rpcError("ASSIGN_FAILED");
    return { keyIndex: outcome.keyIndex, publicKey: outcome.publicKey };
  };
  // Without a signer, "signer" mode leaves KeyAssign closed: keys are then assigned only at a verified login.
  const keyAssignOpen = settings.keyAssignMode === "open" || settings.keyAssignSigner !== undefined;

  methods.set(
    "KeyAssign",
    method(whileServing, userParams, async (params, { ip }) => {
      const { verifier, verifierId, assignment } = await lookup(params);
      if (assignment) return keysResult(assignment); // idempotent
      if (!keyAssignOpen) throw rpcError("KEY_ASSIGN_NEEDS_SIGNER");
      return keysResult(await assignKey(verifier, verifierId, sourceOf(ip)));
    }),
  );

  methods.set(
    "KeyLookupRequest",
    method(whileServing, publicKeyParams, async (params) => {
      const x = BigInt("0x" + params.pub_key_X);
      const y = BigInt("0x" + params.pub_key_Y);
      const found = await service.keyByPublicKey({ x: hex64(x), y: hex64(y) });
      if (!found) throw rpcError("NO_LOG_OF_PUBLIC_KEY");
      if (!found.owner) throw rpcError("NO_ASSIGNMENT_FOR_PUBLIC_KEY");
      return {
        Index: toLegacyHex(BigInt(found.keyIndex)),
        PublicKey: { X: toLegacyHex(x), Y: toLegacyHex(y) },
        Threshold: 1,
        Verifiers: { [found.owner.verifier]: [found.owner.verifierId] },
      };
    }),
  );

  methods.set(
    "CommitmentRequest",
    method(whileServing, commitmentParams, async (params, { ip }) => {
      const commitment = params.tokencommitment.toLowerCase();
      const verifier = params.verifieridentifier;
      supported(verifier);
      const tempX = BigInt("0x" + params.temppubx);
      const tempY = BigInt("0x" + params.temppuby);
      try {
        pointFromCoordinates(tempX, tempY, "temporary public key");
      } catch {
        throw rpcError("TEMP_KEY_NOT_A_POINT");
      }
      const tempPubX = hex64(tempX);
      const tempPubY = hex64(tempY);
      const request = { tempPubX, tempPubY, verifier };
      /** The answer when the commitment is known already: the same signature again, or a duplicate. */
      const known = async () => {
        // A commitment signed once and evicted at the cap is a duplicate for good: no second key is ever signed for it.
        if (await service.commitments.evicted(commitment)) throw rpcError("DUPLICATE_TOKEN");
        const existing = await service.commitments.commitment(commitment);
        const revealed = (await service.commitments.reveal(commitment)) !== undefined;
        const decision = commitmentDecision(existing, revealed, request);
        if (decision === "duplicate") throw rpcError("DUPLICATE_TOKEN");
        return decision === "repeat" ? commitmentAnswer(existing!.signature, existing!.data) : undefined;
      };
      const answer = await known();
      if (answer) return answer;
      const source = sourceOf(ip);
      if (!commitLimiter.take(source)) throw rpcError("TOO_MANY_COMMITMENTS");
      if ((await service.commitments.openCommitments(source)) >= openPerSource)
        throw rpcError("SOURCE_COMMITMENTS_FULL", openPerSource);
      const data = commitmentData(
        commitment,
        tempPubX,
        tempPubY,
        verifier,
        Math.floor(Date.now() / 1000),
        domainFields,
      );
      const signature = service.sign(data);
      const record = { commitment, ...request, data, signature, source, expiresAt: Date.now() + recordLifetimeMs };
      // The store checks again as it records: of two requests racing for one commitment, one is recorded and the
      // other answered from its record, so no second key is ever signed for a commitment (this signature is dropped).
      switch (await service.commitments.addCommitment(record, openPerSource)) {
        case "added":
          return commitmentAnswer(signature, data);
        case "taken": {
          // Recorded by a racing request: answered from its record (refused if that expired since: always safe).
          const repeat = await known();
          if (repeat) return repeat;
          throw rpcError("DUPLICATE_TOKEN");
        }
        case "quota":
          throw rpcError("SOURCE_COMMITMENTS_FULL", openPerSource);
        case "full":
          throw rpcError("COMMITMENTS_FULL");
      }
    }),
  );

  /**
   * The peers' signatures on a commitment, with the asks under way capped per source and in total: an ask holds a
   * request open for up to `peerSignaturesMs` and sends n − 1 messages, so a source must not hold many at once.
   */
  const askPeers = async (source: string, verifier: string, commitment: string) => {
    const mine = peerAsks.running.get(source) ?? 0;
    if (mine >= peerAsks.perSource || peerAsks.all >= peerAsks.total) throw rpcError("SIGNATURE_FETCHES_BUSY");
    peerAsks.running.set(source, mine + 1);
    peerAsks.all++;
    meter.peerAsks++;
    try {
      return await service.peerSignatures(verifier, commitment, AbortSignal.timeout(timeouts.peerSignaturesMs));
    } finally {
      peerAsks.all--;
      const left = peerAsks.running.get(source)! - 1;
      if (left === 0) peerAsks.running.delete(source);
      else peerAsks.running.set(source, left);
    }
  };

  methods.set(
    "ShareRequest",
    method(whileServing, shareRequestParams, async (params, { ip }) => {
      const item = params.item[0];
      const { idtoken: idToken, verifieridentifier: verifierName, verifier_id: verifierId } = item;
      supported(verifierName);
      const commitment = bytesToHex(keccak_256(new TextEncoder().encode(idToken)));
      // An identical retry (its answer was lost) gets the same answer.
      const previous = await service.commitments.reveal(commitment);
      if (previous) return previous.response;

      // A request for a commitment this node signed is a login under way: never refused for its source's failures.
      // Any other request must reach the quorum with the signatures it carries, and a source whose requests keep
      // failing is refused before any signature is checked.
      const own = await service.commitments.commitment(commitment);
      const signedHere = own !== undefined && own.verifier === verifierName;
      const source = sourceOf(ip);
      if (!signedHere && !failedShareLimiter.allows(source)) throw rpcError("TOO_MANY_FAILED_SHARE_REQUESTS");
      const rules = signatureRules();
      const entries: unknown[] = Array.isArray(item.nodesignatures) ? item.nodesignatures.slice(0, 4 * n) : [];
      // Signatures that would have counted but name another deployment or epoch (or none): the client holds another
      // network's signatures, or a node of an older version signed, and should hear so rather than "too few".
      const failed = (considered: readonly unknown[] = entries) => {
        if (!signedHere) failedShareLimiter.take(source);
        const foreign = otherDomainEntries(considered, commitment, verifierName, rules);
        return foreign > 0
          ? rpcError("SIGNATURES_OF_ANOTHER_DOMAIN", foreign, quorum, domainText)
          : rpcError("TOO_FEW_SIGNATURES", quorum);
      };
      const candidates = screenEntries(entries, commitment, verifierName, rules);
      // Without peers to ask, a key short of q candidates cannot reach the quorum: no signature is worth checking.
      const perKey = new Map<string, number>();
      for (const c of candidates) perKey.set(c.keyId, (perKey.get(c.keyId) ?? 0) + 1);
      if (!signedHere && ![...perKey.values()].some((count) => count >= quorum)) throw failed();
      // This node's own signature is compared with its record instead of verified.
      const ownIndex = service.self.index - 1;
      const isOwn = (c: Candidate) => c.node === ownIndex && c.data === own?.data && c.signature === own.signature;
      const signers = verifiedSigners(candidates, rules, isOwn);
      let tempKey = keyWithQuorum(signers, quorum);
      let considered = entries;
      if (!tempKey && signedHere && signers.size > 0) {
        // Too few signatures on one key (torus.js forwards only the first answers it got): ask the peers for the
        // signatures they already issued on this commitment. Nothing new is signed, so safety is unchanged. Only for
        // a commitment this node signed itself and with a valid signature in hand, so a made-up token never makes a
        // node broadcast.
        const fromPeers = await askPeers(source, verifierName, commitment);
        const valid = new Set([...signers.values()].flatMap((set) => [...set]));
        const asAnswers = fromPeers.flatMap((p) => {
          const key = nodeKeys[p.node - 1];
          return key && !valid.has(p.node - 1)
            ? [{ ...p, nodepubx: toLegacyHex(key.x), nodepuby: toLegacyHex(key.y) }]
            : [];
        });
        considered = [...entries, ...asAnswers];
        for (const [keyId, nodes] of verifiedSigners(
          screenEntries(asAnswers, commitment, verifierName, rules),
          rules,
        )) {
          const set = signers.get(keyId) ?? new Set<number>();
          for (const node of nodes) set.add(node);
          signers.set(keyId, set);
        }
        tempKey = keyWithQuorum(signers, quorum);
      }
      if (!tempKey) throw failed(considered);
      try {
        await verifiers.get(verifierName)!.verify(idToken, verifierId, service.tokenWindow());
      } catch (error) {
        if (!(error instanceof TokenError)) throw error;
        const name = error.code === "JWKS_UNAVAILABLE" ? "TOKEN_KEYS_UNAVAILABLE" : "TOKEN_REFUSED";
        throw rpcError(name, error.code, error.message);
      }
      // A user without a key gets one now: the token is verified and q nodes signed one temporary key, so the user
      // holds the quorum before the token was sent, and only a real user of a supported verifier costs a key.
      const assignment =
        (await service.lookup(verifierName, verifierId)) ?? (await assignKey(verifierName, verifierId, source));
      const share = await service.keyShare(assignment.keyIndex);
      if (share === undefined) throw rpcError("SHARE_MISSING");
      // 32 bytes, big-endian: torus.js left-pads the hex ciphertext to 64 characters, so a share must never encrypt to
      // a single AES block.
      const encrypted = eciesEncrypt(tempKey, bigIntToBytes(share, 32), systemRng);
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
      await service.commitments.addReveal({ commitment, response, expiresAt: Date.now() + recordLifetimeMs });
      return response;
    }),
  );

  return methods;
}
