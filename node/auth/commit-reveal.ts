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

/** How many fields the Torus form of commitment data has; the domain fields follow them. */
const TORUS_FIELDS = 6;

/**
 * The data a node signs for a commitment: the Torus form (torus-node-v0.10.4.md §2; keys as 64 lowercase hex), then
 * the signing domain's fields (node/crypto/domain.ts commitmentDomainFields: chain id, NodeList address, deployment
 * block hash, epoch), so that a signature of a node key reused in another deployment or epoch counts nowhere else.
 * torus.js forwards `data` without reading it.
 */
export function commitmentData(
  commitment: string,
  tempPubX: string,
  tempPubY: string,
  verifier: string,
  timeSeconds: number,
  domainFields: readonly string[],
): string {
  return [COMMITMENT_PREFIX, commitment, tempPubX, tempPubY, verifier, timeSeconds, ...domainFields].join(D1);
}

/** The domain fields of commitment data (empty in the old Torus form), or undefined when it is not commitment data. */
export function commitmentDataDomain(data: string): string[] | undefined {
  const fields = data.split(D1);
  return fields[0] === COMMITMENT_PREFIX && fields.length >= TORUS_FIELDS ? fields.slice(TORUS_FIELDS) : undefined;
}

/** Whether commitment data's domain fields are exactly `expected` (the old form, without them, is not). */
function sameDomain(fields: readonly string[], expected: readonly string[]): boolean {
  return fields.length === expected.length && fields.every((f, i) => f === expected[i]);
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
  /** The domain fields this epoch's signatures carry (node/crypto/domain.ts commitmentDomainFields). */
  domainFields: readonly string[];
}

/** An entry that passed every check but its signature: which node it names, and what it claims that node signed. */
export interface Candidate {
  node: number;
  data: string;
  signature: string;
  /** The temporary key the data names, "x:y" as 64 lowercase hex each. */
  keyId: string;
}

const HEX64 = /^[0-9a-f]{64}$/;

type ScreenRules = Pick<SignatureRules, "nodeKeys" | "nowSeconds" | "maxAgeSeconds" | "domainFields">;

/**
 * An entry read with string operations only: a node key of the epoch, the prefix, this commitment and verifier, a
 * well-formed temporary key and a signing time within the token's age; then whether it names this epoch's domain.
 */
function screenEntry(
  entry: unknown,
  commitment: string,
  verifier: string,
  rules: ScreenRules,
  legacyKeys: readonly string[],
): { candidate: Candidate; ownDomain: boolean } | undefined {
  if (typeof entry !== "object" || entry === null) return undefined;
  const { signature, data, nodepubx, nodepuby } = entry as Record<string, unknown>;
  if (typeof signature !== "string" || signature.length !== 130) return undefined;
  if (typeof data !== "string" || data.length > 1024) return undefined;
  if (typeof nodepubx !== "string" || typeof nodepuby !== "string" || nodepubx.length + nodepuby.length > 130)
    return undefined;
  const x = nodepubx.toLowerCase().replace(/^0+(?=.)/, "");
  const y = nodepuby.toLowerCase().replace(/^0+(?=.)/, "");
  const node = legacyKeys.indexOf(`${x}:${y}`);
  if (node === -1) return undefined;
  const fields = data.split(D1);
  const [prefix, tc, tx, ty, v, time] = fields;
  if (prefix !== COMMITMENT_PREFIX || tc !== commitment || v !== verifier) return undefined;
  if (!tx || !ty || !HEX64.test(tx) || !HEX64.test(ty) || !time || !/^\d{1,12}$/.test(time)) return undefined;
  if (Math.abs(rules.nowSeconds - Number(time)) > rules.maxAgeSeconds) return undefined;
  return {
    candidate: { node, data, signature, keyId: `${tx}:${ty}` },
    ownDomain: sameDomain(fields.slice(TORUS_FIELDS), rules.domainFields),
  };
}

const legacyKeysOf = (rules: Pick<SignatureRules, "nodeKeys">) =>
  rules.nodeKeys.map((k) => `${toLegacyHex(k.x)}:${toLegacyHex(k.y)}`);

/**
 * The entries worth a signature check (see screenEntry), naming this epoch's domain. At most one entry per node (the
 * first that passes): a client can send 4n entries, and each one that reached the ECDSA check cost a full
 * verification, so the checks that cost nothing come first and bound what the expensive one sees to n.
 */
export function screenEntries(
  entries: readonly unknown[],
  commitment: string,
  verifier: string,
  rules: ScreenRules,
): Candidate[] {
  const legacyKeys = legacyKeysOf(rules);
  const taken = new Set<number>();
  const candidates: Candidate[] = [];
  for (const entry of entries) {
    if (taken.size === rules.nodeKeys.length) break;
    const screened = screenEntry(entry, commitment, verifier, rules, legacyKeys);
    if (!screened?.ownDomain || taken.has(screened.candidate.node)) continue;
    taken.add(screened.candidate.node);
    candidates.push(screened.candidate);
  }
  return candidates;
}

/**
 * How many entries would have been worth a check but name another deployment or epoch, or none (the old Torus form
 * of an older node): what a refused ShareRequest says, since the client then has signatures of another network.
 */
export function otherDomainEntries(
  entries: readonly unknown[],
  commitment: string,
  verifier: string,
  rules: ScreenRules,
): number {
  const legacyKeys = legacyKeysOf(rules);
  return entries.filter((entry) => screenEntry(entry, commitment, verifier, rules, legacyKeys)?.ownDomain === false)
    .length;
}

/**
 * Distinct valid signers per temporary key among screened candidates, each signature checked at most once.
 * `known(candidate)` says a signature is valid without checking it (this node's own, compared with its record).
 */
export function verifiedSigners(
  candidates: readonly Candidate[],
  rules: Pick<SignatureRules, "verifiers">,
  known: (candidate: Candidate) => boolean = () => false,
): Map<string, Set<number>> {
  const signersByKey = new Map<string, Set<number>>();
  for (const candidate of candidates) {
    if (!known(candidate) && !rules.verifiers[candidate.node]!(candidate.data, candidate.signature)) continue;
    let signers = signersByKey.get(candidate.keyId);
    if (!signers) signersByKey.set(candidate.keyId, (signers = new Set()));
    signers.add(candidate.node);
  }
  return signersByKey;
}

/**
 * Distinct valid node signers (0-based) per temporary key ("x:y") on this commitment and verifier. Null entries,
 * malformed entries, signatures on other data and repeated signers are skipped; each node counts once.
 */
export function countSigners(
  entries: readonly unknown[],
  commitment: string,
  verifier: string,
  rules: SignatureRules,
): Map<string, Set<number>> {
  return verifiedSigners(screenEntries(entries, commitment, verifier, rules), rules);
}

/** The one temporary key at least q distinct nodes signed, or undefined. */
export function keyWithQuorum(
  signersByKey: ReadonlyMap<string, ReadonlySet<number>>,
  quorum: number,
): Point | undefined {
  const keys = [...signersByKey].filter(([, signers]) => signers.size >= quorum);
  if (keys.length !== 1) return undefined; // none, or (impossible with ≤ t Byzantine nodes) two
  const [x, y] = keys[0]![0].split(":") as [string, string];
  try {
    return pointFromCoordinates(BigInt("0x" + x), BigInt("0x" + y), "temporary public key");
  } catch {
    return undefined;
  }
}

/** The temporary key that at least q distinct nodes signed for this commitment and verifier, or undefined. */
export function quorumKey(
  entries: readonly unknown[],
  commitment: string,
  verifier: string,
  rules: SignatureRules,
): Point | undefined {
  return keyWithQuorum(countSigners(entries, commitment, verifier, rules), rules.quorum);
}
