/**
 * A local OpenID Connect issuer for development and tests only: a discovery document, a JWKS, and `POST /token`,
 * which mints an RS256 ID token for the JSON body `{"email": …}` without any login. Never expose it.
 */
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";

import { SignJWT, exportJWK, generateKeyPair } from "jose";

export const DEV_AUDIENCE = "torus-devnet";

export interface DevOidc {
  issuer: string;
  jwksUri: string;
  tokenEndpoint: string;
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
    if (request.method === "GET" && request.url === "/.well-known/openid-configuration") {
      return send(200, {
        issuer,
        jwks_uri: `${issuer}/jwks`,
        token_endpoint: `${issuer}/token`,
        id_token_signing_alg_values_supported: ["RS256"],
      });
    }
    if (request.method === "GET" && request.url === "/jwks") {
      jwksFetches++;
      return send(200, { keys: [jwk] });
    }
    if (request.method === "POST" && request.url === "/token") {
      let body = "";
      request.on("data", (chunk: Buffer) => {
        body += chunk.toString();
        if (body.length > 4096) request.destroy();
      });
      request.on("end", () => {
        let email: unknown;
        try {
          email = (JSON.parse(body) as { email?: unknown }).email;
        } catch {
          return send(400, { error: 'body must be JSON {"email": …}' });
        }
        if (typeof email !== "string" || !/^[^\s@]+@[^\s@]+$/.test(email))
          return send(400, { error: "email is required" });
        void mint({ email }).then((idToken) => send(200, { id_token: idToken, token_type: "Bearer" }));
      });
      return;
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
    mint,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
