/**
 * The DApp's checks of the ID token its provider sent back, before the token goes anywhere (OpenID Connect Core
 * §3.2.2.11): issued by the network's issuer, for this DApp, with this sign-in's nonce, not expired. The nodes check
 * the signature against the issuer's keys, and the rest again; these checks are what lets the page say in words why a
 * token is not for this network, and never hand a foreign or replayed token to the nodes.
 */

export interface IdTokenClaims {
  iss: string;
  aud: string | string[];
  exp: number;
  nonce?: string;
  email?: string;
}

/** A reason for the person, in words; never a stack trace. */
export class SignInError extends Error {
  override readonly name = "SignInError";
  constructor(
    readonly headline: string,
    detail: string,
  ) {
    super(detail);
  }
}

function base64UrlDecode(text: string): string {
  const padded = text
    .replace(/-/g, "+")
    .replace(/_/g, "/")
    .padEnd(Math.ceil(text.length / 4) * 4, "=");
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The token's claims, unverified (the nodes verify the signature). */
export function readClaims(idToken: string): IdTokenClaims {
  const parts = idToken.split(".");
  let claims: unknown;
  try {
    if (parts.length !== 3) throw new Error("not three segments");
    claims = JSON.parse(base64UrlDecode(parts[1]!));
  } catch {
    throw new SignInError(
      "The identity provider did not send an ID token",
      "What came back is not a JSON Web Token (header.payload.signature); nothing was sent to the nodes.",
    );
  }
  const c = claims as Partial<IdTokenClaims> | null;
  if (!c || typeof c.iss !== "string" || typeof c.exp !== "number" || c.aud === undefined)
    throw new SignInError(
      "The ID token is incomplete",
      "It lacks its issuer (iss), audience (aud) or expiry (exp); nothing was sent to the nodes.",
    );
  return c as IdTokenClaims;
}

export interface Expected {
  issuer: string;
  clientId: string;
  nonce: string;
  /** Seconds since the epoch. */
  now: number;
}

/** Checks the claims against what this sign-in expects; returns the user's email. */
export function checkClaims(claims: IdTokenClaims, expected: Expected): string {
  if (claims.iss !== expected.issuer)
    throw new SignInError(
      "This ID token is from another issuer",
      `It was issued by ${claims.iss}, but this network's nodes accept tokens of ${expected.issuer} only. ` +
        "The token was not sent to the nodes.",
    );
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(expected.clientId))
    throw new SignInError(
      "This ID token is for another application",
      `Its audience is ${audiences.join(", ")}, not ${expected.clientId}. The token was not sent to the nodes.`,
    );
  if (claims.nonce !== expected.nonce)
    throw new SignInError(
      "This ID token does not belong to this sign-in",
      "It does not carry the nonce this page sent to the provider (a token from an earlier sign-in, or from " +
        "someone else?). The token was not sent to the nodes; sign in again.",
    );
  if (claims.exp <= expected.now) throw new SignInError("This ID token has expired", "Sign in again for a fresh one.");
  if (typeof claims.email !== "string" || claims.email === "")
    throw new SignInError(
      "The ID token names no email address",
      "The network's verifier identifies users by their email; the token has none.",
    );
  return claims.email;
}
