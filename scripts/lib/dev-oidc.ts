/**
 * A local OpenID Connect issuer for development and tests only: a discovery document, a JWKS, the authorization
 * endpoint a browser signs in at (`GET /authorize`: an email field, no password; see dev-oidc-authorize.ts), and
 * `POST /token`, which mints an RS256 ID token for the JSON body `{"email": …}` without any login, for scripts.
 * Never expose it.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

import { SignJWT, exportJWK, generateKeyPair } from "jose";

import {
  EMAIL_PATTERN,
  errorPage,
  parseAuthorization,
  redirectWith,
  signInPage,
  type ParsedAuthorization,
} from "./dev-oidc-authorize.ts";

export const DEV_AUDIENCE = "torus-devnet";

export interface DevOidc {
  issuer: string;
  jwksUri: string;
  tokenEndpoint: string;
  /** Where a browser signs in (`GET /authorize`, the implicit flow with `response_type=id_token`). */
  authorizationEndpoint: string;
  /** How many times the JWKS was fetched (tests check that verifiers cache it). */
  readonly jwksFetches: number;
  /** Mints an ID token directly (what `POST /token` does). */
  mint(
    claims: { email: string } & Record<string, unknown>,
    options?: { expiresInSeconds?: number; issuedAt?: number },
  ): Promise<string>;
  stop(): Promise<void>;
}

export async function startDevOidc(port: number, host = "127.0.0.1"): Promise<DevOidc> {
  const { privateKey, publicKey } = await generateKeyPair("RS256");
  const kid = `dev-${Date.now().toString(36)}`;
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" };
  const issuer = `http://${host}:${port}`;
  let jwksFetches = 0;
  const mint: DevOidc["mint"] = async (claims, options = {}) => {
    const iat = options.issuedAt ?? Math.floor(Date.now() / 1000);
    // Claims given explicitly (tests set a wrong iss or aud) win over the defaults. A fresh `jti` makes every token
    // unique, as a provider's are: RS256 is deterministic, so two tokens for one user minted in the same second would
    // otherwise be the same token, and its second login a "Duplicate token found".
    const defaults = { iss: issuer, aud: DEV_AUDIENCE, sub: claims.email, email_verified: true, jti: randomUUID() };
    return new SignJWT({ ...defaults, ...claims })
      .setProtectedHeader({ alg: "RS256", kid, typ: "JWT" })
      .setIssuedAt(iat)
      .setExpirationTime(iat + (options.expiresInSeconds ?? 600))
      .sign(privateKey);
  };
  const server: Server = createServer((request, response) => {
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/json", "access-control-allow-origin": "*" });
      response.end(JSON.stringify(body));
    };
    const url = new URL(request.url ?? "/", issuer);
    if (request.method === "GET" && url.pathname === "/.well-known/openid-configuration") {
      return send(200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        jwks_uri: `${issuer}/jwks`,
        token_endpoint: `${issuer}/token`,
        response_types_supported: ["id_token"],
        response_modes_supported: ["fragment"],
        grant_types_supported: ["implicit"],
        subject_types_supported: ["public"],
        scopes_supported: ["openid", "email"],
        claims_supported: ["iss", "sub", "aud", "exp", "iat", "nonce", "email", "email_verified"],
        id_token_signing_alg_values_supported: ["RS256"],
      });
    }
    if (request.method === "GET" && url.pathname === "/jwks") {
      jwksFetches++;
      return send(200, { keys: [jwk] });
    }
    if (request.method === "GET" && url.pathname === "/authorize") {
      const parsed = parseAuthorization(url.searchParams, DEV_AUDIENCE);
      if ("request" in parsed) return sendHtml(response, 200, signInPage(parsed.request));
      return refuse(response, parsed);
    }
    if (request.method === "POST" && url.pathname === "/authorize") {
      return void readBody(request, MAX_FORM, (body) => {
        if (body === undefined) return sendHtml(response, 413, errorPage(`the form is over ${MAX_FORM} bytes`));
        const form = new URLSearchParams(body);
        const parsed = parseAuthorization(form, DEV_AUDIENCE);
        if (!("request" in parsed)) return refuse(response, parsed);
        const { request: authorization } = parsed;
        if (form.has("cancel")) {
          const description = "the person cancelled the sign-in";
          return redirect(
            response,
            redirectWith(authorization, { error: "access_denied", error_description: description }),
          );
        }
        const email = (form.get("email") ?? "").trim();
        if (!EMAIL_PATTERN.test(email) || email.length > 254) {
          const error = email === "" ? "Enter an email address." : `"${email}" is not an email address.`;
          return sendHtml(response, 400, signInPage(authorization, { email, error }));
        }
        void mint({ email, nonce: authorization.nonce }).then((idToken) =>
          redirect(response, redirectWith(authorization, { id_token: idToken, token_type: "Bearer" })),
        );
      });
    }
    if (request.method === "POST" && url.pathname === "/token") {
      return void readBody(request, 4096, (body) => {
        if (body === undefined) return send(413, { error: "the body is over 4096 bytes" });
        let email: unknown;
        try {
          email = (JSON.parse(body) as { email?: unknown }).email;
        } catch {
          return send(400, { error: 'body must be JSON {"email": …}' });
        }
        if (typeof email !== "string" || !EMAIL_PATTERN.test(email)) return send(400, { error: "email is required" });
        void mint({ email }).then((idToken) => send(200, { id_token: idToken, token_type: "Bearer" }));
      });
    }
    send(404, { error: "not found" });
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return {
    issuer,
    get jwksFetches() {
      return jwksFetches;
    },
    jwksUri: `${issuer}/jwks`,
    tokenEndpoint: `${issuer}/token`,
    authorizationEndpoint: `${issuer}/authorize`,
    mint,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const MAX_FORM = 16_384;

/** Reads a request's body; `undefined` when it is over `limit` bytes (the rest is not read). */
function readBody(request: IncomingMessage, limit: number, done: (body: string | undefined) => void): void {
  let body = "";
  let tooLarge = false;
  request.on("data", (chunk: Buffer) => {
    if (tooLarge) return;
    body += chunk.toString();
    tooLarge = body.length > limit;
  });
  request.on("end", () => done(tooLarge ? undefined : body));
}

/** The pages are the issuer's own: no script, no frame, nothing cached (a token passes through the redirects). */
function sendHtml(response: ServerResponse, status: number, html: string): void {
  response.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
  });
  response.end(html);
}

/** 303: the browser follows with a GET, to the DApp's page with the answer in the fragment. */
function redirect(response: ServerResponse, location: string): void {
  response.writeHead(303, { location, "cache-control": "no-store", "referrer-policy": "no-referrer" });
  response.end();
}

function refuse(response: ServerResponse, parsed: Exclude<ParsedAuthorization, { request: unknown }>): void {
  if ("pageError" in parsed) return sendHtml(response, 400, errorPage(parsed.pageError));
  const { request, error, description } = parsed.redirectError;
  redirect(response, redirectWith(request, { error, error_description: description }));
}
