/**
 * Local verification of OIDC ID tokens (no call to the provider per token): the signature against the issuer's JWKS
 * (cached, fetched at most once per cooldown so bad tokens cannot cause fetch storms), an allow-list of algorithms
 * (never `none`, never HMAC), `iss`, `aud`, `exp`, `nbf`/`iat` with bounded clock skew, a maximum token age, and the
 * claim that names the user. One credential must have exactly one token string, because the commit–reveal keys its
 * records by keccak256(token): only canonical compact JWS is accepted (each segment the unpadded base64url encoding
 * of its bytes, no whitespace, no padding, no stray bits), and ECDSA signatures only in low-s form.
 */
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from "jose";

import type { VerifierConfig } from "../config.ts";

export type TokenErrorCode =
  | "MALFORMED_TOKEN"
  | "NON_CANONICAL_TOKEN"
  | "ALGORITHM_NOT_ALLOWED"
  | "UNKNOWN_KEY"
  | "BAD_SIGNATURE"
  | "WRONG_ISSUER"
  | "WRONG_AUDIENCE"
  | "EXPIRED"
  | "NOT_YET_VALID"
  | "TOO_OLD"
  | "WRONG_VERIFIER_ID"
  | "MISSING_CLAIM"
  | "OTHER_EPOCH"
  /** The verifier id is an email the provider has not verified (`email_verified` is not true). */
  | "EMAIL_NOT_VERIFIED"
  /** The token names several audiences and its authorized party (`azp`) is not this verifier's client. */
  | "WRONG_AUTHORIZED_PARTY"
  /** The issuer's keys could not be fetched: retryable, and a token that failed so is not marked used. */
  | "JWKS_UNAVAILABLE";

export class TokenError extends Error {
  override readonly name = "TokenError";
  constructor(
    readonly code: TokenErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Clock skew allowed on exp, nbf and iat. */
export const CLOCK_SKEW_SECONDS = 60;
const MAX_TOKEN_CHARS = 16 * 1024;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const P384_ORDER = 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n;
const P521_ORDER =
  0x01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n;

/** True iff `segment` is exactly the unpadded base64url encoding of the bytes it decodes to. */
function canonicalBase64Url(segment: string): boolean {
  if (!BASE64URL.test(segment)) return false;
  return Buffer.from(Buffer.from(segment, "base64url").toString("base64url")).equals(Buffer.from(segment));
}

function lowS(signature: Buffer, alg: string): boolean {
  const [half, order] =
    alg === "ES256"
      ? [32, P256_ORDER]
      : alg === "ES384"
        ? [48, P384_ORDER]
        : alg === "ES512"
          ? [66, P521_ORDER]
          : [0, 0n];
  if (half === 0) return true;
  if (signature.length !== 2 * half) return false;
  const s = BigInt("0x" + signature.subarray(half).toString("hex"));
  return s <= order / 2n;
}

/**
 * Which tokens an epoch may serve, by issue time (unix seconds, the skew already added by the caller), so that no
 * token is served by two epochs: during a handover the old epoch serves only tokens issued before the newest block
 * time it has seen plus the skew, and the new one only tokens issued after the completion block's time plus the skew.
 */
export interface EpochWindow {
  issuedAfter?: number;
  issuedBefore?: number;
}

export interface VerifiedToken {
  verifierId: string;
  payload: JWTPayload;
}

export class TokenVerifier {
  readonly #jwks: ReturnType<typeof createRemoteJWKSet>;

  constructor(
    readonly config: VerifierConfig,
    private readonly now: () => number = () => Date.now(),
  ) {
    // jose's remote JWKS: a 5 s timeout, and at most one refetch per 30 s cooldown even for unknown `kid`s.
    this.#jwks = createRemoteJWKSet(new URL(config.jwksUri), {
      timeoutDuration: 5000,
      cooldownDuration: 30_000,
      cacheMaxAge: 10 * 60_000,
    });
  }

  /** Checks the token and returns the verifier id it proves; throws TokenError with a specific code otherwise. */
  async verify(token: string, verifierId: string, window: EpochWindow = {}): Promise<VerifiedToken> {
    const { config } = this;
    if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_CHARS) {
      throw new TokenError("MALFORMED_TOKEN", "the token is missing or too long");
    }
    const segments = token.split(".");
    if (segments.length !== 3)
      throw new TokenError("MALFORMED_TOKEN", "the token is not a compact JWS (three segments)");
    if (segments.some((segment) => segment.length === 0)) {
      throw new TokenError("MALFORMED_TOKEN", "a token segment is empty (an unsigned token)");
    }
    if (!segments.every(canonicalBase64Url)) {
      throw new TokenError(
        "NON_CANONICAL_TOKEN",
        "the token is not in canonical base64url (padding, whitespace or stray bits)",
      );
    }
    let header: { alg?: unknown };
    try {
      header = JSON.parse(Buffer.from(segments[0]!, "base64url").toString("utf8")) as { alg?: unknown };
    } catch {
      throw new TokenError("MALFORMED_TOKEN", "the token header is not JSON");
    }
    if (typeof header.alg !== "string" || !config.algorithms.includes(header.alg)) {
      throw new TokenError(
        "ALGORITHM_NOT_ALLOWED",
        `algorithm ${String(header.alg)} is not allowed for verifier ${config.name}`,
      );
    }
    if (!lowS(Buffer.from(segments[2]!, "base64url"), header.alg)) {
      throw new TokenError("NON_CANONICAL_TOKEN", "the ECDSA signature is not in low-s form");
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#jwks, {
        issuer: config.issuer,
        audience: config.audience,
        algorithms: config.algorithms,
        clockTolerance: CLOCK_SKEW_SECONDS,
        maxTokenAge: config.maxTokenAgeSeconds,
        currentDate: new Date(this.now()),
        requiredClaims: ["iat", "exp"],
      }));
    } catch (error) {
      throw toTokenError(error);
    }
    const claimed = payload[config.verifierIdClaim];
    if (typeof claimed !== "string" || claimed.length === 0) {
      throw new TokenError("MISSING_CLAIM", `the token has no "${config.verifierIdClaim}" claim`);
    }
    // Case-sensitive, as the Torus node compared (torus.js#23: clients must not lower-case verifier ids).
    if (claimed !== verifierId) throw new TokenError("WRONG_VERIFIER_ID", "the token is for another verifier_id");
    // OIDC Core §5.1: an email claim is only the user's if the provider verified it; otherwise anyone who signs up at
    // the provider with someone else's address would hold that person's key.
    if (config.verifierIdClaim === "email" && !config.emailsVerifiedByProvider && payload.email_verified !== true)
      throw new TokenError("EMAIL_NOT_VERIFIED", "the token's email is not verified by its provider");
    // OIDC Core §2: with several audiences, azp names the client the token was issued to; it must be ours, or a token
    // issued to another client that lists us among its audiences would log in here.
    if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== config.audience)
      throw new TokenError("WRONG_AUTHORIZED_PARTY", "the token names several audiences and another authorized party");
    const iat = payload.iat!;
    if (window.issuedAfter !== undefined && iat <= window.issuedAfter)
      throw new TokenError("OTHER_EPOCH", "the token was issued before this epoch took over; get a fresh token");
    if (window.issuedBefore !== undefined && iat >= window.issuedBefore)
      throw new TokenError("OTHER_EPOCH", "the token was issued after the handover began; log in at the next epoch");
    return { verifierId: claimed, payload };
  }
}

function toTokenError(error: unknown): TokenError {
  if (error instanceof errors.JWTExpired) {
    // jose reports a token older than the maximum age as an expired "iat".
    return error.claim === "iat"
      ? new TokenError("TOO_OLD", "the token is older than this verifier's maximum token age")
      : new TokenError("EXPIRED", "the token has expired");
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case "iss":
        return new TokenError("WRONG_ISSUER", "the token is from another issuer");
      case "aud":
        return new TokenError("WRONG_AUDIENCE", "the token is for another audience");
      case "nbf":
        return new TokenError("NOT_YET_VALID", "the token is not valid yet");
      case "iat":
        return new TokenError(
          error.reason === "check_failed" ? "TOO_OLD" : "NOT_YET_VALID",
          `the token's iat fails: ${error.message}`,
        );
      default:
        return new TokenError("MISSING_CLAIM", `claim ${error.claim}: ${error.message}`);
    }
  }
  if (error instanceof errors.JWKSNoMatchingKey)
    return new TokenError("UNKNOWN_KEY", "no key of the issuer matches the token");
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return new TokenError("BAD_SIGNATURE", "the token signature is invalid");
  if (error instanceof errors.JOSEAlgNotAllowed)
    return new TokenError("ALGORITHM_NOT_ALLOWED", "the algorithm is not allowed");
  if (
    error instanceof errors.JWKSTimeout ||
    error instanceof errors.JWKSInvalid ||
    error instanceof errors.JOSENotSupported
  ) {
    return new TokenError("JWKS_UNAVAILABLE", `the issuer's keys are unavailable: ${(error as Error).message}`);
  }
  if (error instanceof errors.JWTInvalid || error instanceof errors.JWSInvalid) {
    return new TokenError("MALFORMED_TOKEN", `the token is malformed: ${(error as Error).message}`);
  }
  if (error instanceof TypeError || (error as { code?: string }).code === "ECONNREFUSED") {
    return new TokenError("JWKS_UNAVAILABLE", `the issuer's keys are unavailable: ${(error as Error).message}`);
  }
  return new TokenError("BAD_SIGNATURE", `the token was refused: ${(error as Error).message}`);
}
