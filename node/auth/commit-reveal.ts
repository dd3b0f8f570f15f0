/**
 * The rules of commit–reveal, free of I/O so that the JSON-RPC methods and the race simulation run the same code.
 *
 * A node signs, for a token commitment, the first temporary key it sees (and the same key again, never another). A
 * reveal is served only when q = ⌈(n + t + 1)/2⌉ distinct nodes of the epoch signed one temporary key for the
 * commitment: two such sets share 2q − n ≥ t + 1 nodes, one of them honest, and an honest node signs one key per
 * commitment, so at most one key can ever hold a quorum.
 */
import { toLegacyHex } from "../crypto/encoding.ts";
import { pointFromCoordinates, type Point } from "../crypto/point.ts";
import type { SignedData } from "../crypto/signature.ts";

export const COMMITMENT_PREFIX = "mug00";
const D1 = "\x1c";

/** The quorum of node signatures a reveal needs: any two such sets share an honest node. */
export function revealQuorum(n: number, t: number): number {
  return Math.ceil((n + t + 1) / 2);
}

/** The Torus-format data a node signs for a commitment (torus-node-v0.10.4.md §2); keys as 64 lowercase hex. */
export function commitmentData(
  commitment: string,
  tempPubX: string,
  tempPubY: string,
  verifier: string,
  timeSeconds: number,
): string {
  return [COMMITMENT_PREFIX, commitment, tempPubX, tempPubY, verifier, timeSeconds].join(D1);
}

/** What a node does with a CommitmentRequest, given what it recorded for the commitment. */
export function commitmentDecision(
  recorded: { tempPubX: string; tempPubY: string; verifier: string } | undefined,
  revealed: boolean,
  request: { tempPubX: string; tempPubY: string; verifier: string },
): "repeat" | "duplicate" | "new" {
  if (recorded) {
    const same =
      recorded.tempPubX === request.tempPubX &&
      recorded.tempPubY === request.tempPubY &&
      recorded.verifier === request.verifier;
    // The same request again gets the same signature; the same commitment with another key is a front-runner.
    return same ? "repeat" : "duplicate";
  }
  return revealed ? "duplicate" : "new";
}

/** The epoch's node keys and what a reveal's signatures are checked against. */
export interface SignatureRules {
  nodeKeys: readonly Point[];
  /** One verifier per node key (precomputed tables: a reveal checks up to n signatures). */
  verifiers: readonly ((data: SignedData, signatureHex: unknown) => boolean)[];
  quorum: number;
  nowSeconds: number;
  /** How far the signed time may be from now (maximum token age plus clock skew). */
  maxAgeSeconds: number;
}

/**
 * Distinct valid node signers per temporary key ("x:y") on this commitment and verifier. Null entries, malformed
 * entries, signatures on other data and repeated signers are skipped; each node counts once.
 */
export function countSigners(
  entries: readonly unknown[],
  commitment: string,
  verifier: string,
  rules: SignatureRules,
): Map<string, Set<number>> {
  const signersByKey = new Map<string, Set<number>>();
  const legacyKeys = rules.nodeKeys.map((k) => [toLegacyHex(k.x), toLegacyHex(k.y)] as const);
  for (const entry of entries) {
    if (typeof entry !== "object" || entry === null) continue;
    const { signature, data, nodepubx, nodepuby } = entry as Record<string, unknown>;
    if (typeof signature !== "string" || typeof data !== "string" || data.length > 1024) continue;
    if (typeof nodepubx !== "string" || typeof nodepuby !== "string") continue;
    const x = nodepubx.toLowerCase().replace(/^0+(?=.)/, "");
    const y = nodepuby.toLowerCase().replace(/^0+(?=.)/, "");
    const node = legacyKeys.findIndex(([kx, ky]) => kx === x && ky === y);
    if (node === -1 || !rules.verifiers[node]!(data, signature)) continue;
    const [prefix, tc, tx, ty, v, time] = data.split(D1);
    if (prefix !== COMMITMENT_PREFIX || tc !== commitment || v !== verifier || !tx || !ty || !time) continue;
    const signedAt = Number(time);
    if (!Number.isSafeInteger(signedAt) || Math.abs(rules.nowSeconds - signedAt) > rules.maxAgeSeconds) continue;
    const keyId = `${tx}:${ty}`;
    let signers = signersByKey.get(keyId);
    if (!signers) signersByKey.set(keyId, (signers = new Set()));
    signers.add(node);
  }
  return signersByKey;
}

/** The temporary key that at least q distinct nodes signed for this commitment and verifier, or undefined. */
export function quorumKey(
  entries: readonly unknown[],
  commitment: string,
  verifier: string,
  rules: SignatureRules,
): Point | undefined {
  const signersByKey = countSigners(entries, commitment, verifier, rules);
  const keys = [...signersByKey].filter(([, signers]) => signers.size >= rules.quorum);
  if (keys.length !== 1) return undefined; // none, or (impossible with ≤ t Byzantine nodes) two
  const [x, y] = keys[0]![0].split(":") as [string, string];
  try {
    return pointFromCoordinates(BigInt("0x" + x), BigInt("0x" + y), "temporary public key");
  } catch {
    return undefined;
  }
}
