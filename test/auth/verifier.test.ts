import { expect } from "chai";
import { SignJWT, exportSPKI, generateKeyPair } from "jose";

import { TokenError, TokenVerifier, type TokenErrorCode } from "../../node/auth/verifier.ts";
import type { VerifierConfig } from "../../node/config.ts";
import { freePort } from "../../scripts/lib/chain-process.ts";
import { DEV_AUDIENCE, startDevOidc, type DevOidc } from "../../scripts/lib/dev-oidc.ts";

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("ID-token verification", function () {
  let oidc: DevOidc;
  let config: VerifierConfig;
  let verifier: TokenVerifier;
  const email = "alice@example.com";

  before(async () => {
    oidc = await startDevOidc(await freePort());
    config = {
      name: "dev",
      issuer: oidc.issuer,
      jwksUri: oidc.jwksUri,
      audience: DEV_AUDIENCE,
      verifierIdClaim: "email",
      maxTokenAgeSeconds: 600,
      algorithms: ["RS256"],
    };
    verifier = new TokenVerifier(config);
  });
  after(async () => oidc.stop());

  async function refusal(token: string, id = email): Promise<TokenErrorCode> {
    const error = await verifier.verify(token, id).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error, "the token was accepted").to.be.instanceOf(TokenError);
    return (error as TokenError).code;
  }

  it("accepts a valid token and returns the verifier id", async function () {
    const token = await oidc.mint({ email });
    expect((await verifier.verify(token, email)).verifierId).to.equal(email);
  });

  it("refuses each bad token with its own error code, fetching the JWKS at most once", async function () {
    const fetchesBefore = oidc.jwksFetches;
    const now = Math.floor(Date.now() / 1000);
    const valid = await oidc.mint({ email });
    const [header, payload, signature] = valid.split(".") as [string, string, string];
    const { privateKey: otherKey, publicKey: otherPublic } = await generateKeyPair("RS256");
    const rsaPublicPem = await exportSPKI(otherPublic);
    const cases: [string, string | Promise<string>, TokenErrorCode][] = [
      ["alg none", `${b64({ alg: "none", typ: "JWT" })}.${payload}.`, "MALFORMED_TOKEN"],
      ["alg none with a signature segment", `${b64({ alg: "none" })}.${payload}.${signature}`, "ALGORITHM_NOT_ALLOWED"],
      [
        "HS256 signed with the RSA public key as the secret",
        new SignJWT({ email, iss: oidc.issuer, aud: DEV_AUDIENCE })
          .setProtectedHeader({ alg: "HS256" })
          .setIssuedAt()
          .setExpirationTime("5m")
          .sign(new TextEncoder().encode(rsaPublicPem)),
        "ALGORITHM_NOT_ALLOWED",
      ],
      [
        "an unknown kid",
        new SignJWT({ email })
          .setProtectedHeader({ alg: "RS256", kid: "nobody" })
          .setIssuer(oidc.issuer)
          .setAudience(DEV_AUDIENCE)
          .setIssuedAt()
          .setExpirationTime("5m")
          .sign(otherKey),
        "UNKNOWN_KEY",
      ],
      ["a wrong issuer", oidc.mint({ email, iss: "https://accounts.google.com" }), "WRONG_ISSUER"],
      ["a wrong audience", oidc.mint({ email, aud: "someone-else" }), "WRONG_AUDIENCE"],
      ["an expired token", oidc.mint({ email }, { issuedAt: now - 400, expiresInSeconds: 300 }), "EXPIRED"],
      ["nbf in the future", oidc.mint({ email, nbf: now + 3600 }), "NOT_YET_VALID"],
      [
        "a token older than the maximum age",
        oidc.mint({ email }, { issuedAt: now - 900, expiresInSeconds: 3600 }),
        "TOO_OLD",
      ],
      [
        "a tampered payload",
        `${header}.${b64({ ...JSON.parse(Buffer.from(payload, "base64url").toString()), email: "mallory@example.com" })}.${signature}`,
        "BAD_SIGNATURE",
      ],
      ["padding appended", `${header}.${payload}.${signature}=`, "NON_CANONICAL_TOKEN"],
      ["whitespace", ` ${valid}`, "NON_CANONICAL_TOKEN"],
      ["a garbage string", "not-a-token", "MALFORMED_TOKEN"],
    ];
    for (const [what, token, code] of cases) expect(await refusal(await token), what).to.equal(code);
    expect(await refusal(valid, "bob@example.com"), "another verifier_id").to.equal("WRONG_VERIFIER_ID");
    for (const [what, claims] of [
      ["an unverified email", { email_verified: false }],
      ["no email_verified claim", { email_verified: undefined }],
      ['email_verified "true" as a string', { email_verified: "true" }],
    ] as const)
      expect(await refusal(await oidc.mint({ email, ...claims })), what).to.equal("EMAIL_NOT_VERIFIED");
    for (const [what, claims] of [
      ["several audiences without azp", { aud: [DEV_AUDIENCE, "other-client"] }],
      ["several audiences issued to another client", { aud: [DEV_AUDIENCE, "other-client"], azp: "other-client" }],
    ] as const)
      expect(await refusal(await oidc.mint({ email, ...claims })), what).to.equal("WRONG_AUTHORIZED_PARTY");
    expect(await refusal(valid, "ALICE@example.com"), "verifier ids are case-sensitive").to.equal("WRONG_VERIFIER_ID");
    expect(oidc.jwksFetches - fetchesBefore, "JWKS fetches").to.be.at.most(1);
  });

  it("accepts several audiences issued to this client, and an unverified email where the provider vouches for it", async function () {
    const token = await oidc.mint({ email, aud: [DEV_AUDIENCE, "other-client"], azp: DEV_AUDIENCE });
    expect((await verifier.verify(token, email)).verifierId).to.equal(email);
    const unverified = await oidc.mint({ email, email_verified: false });
    const vouching = new TokenVerifier({ ...config, emailsVerifiedByProvider: true });
    expect((await vouching.verify(unverified, email)).verifierId).to.equal(email);
    // A verifier keyed by `sub` does not read the email at all.
    const bySub = new TokenVerifier({ ...config, verifierIdClaim: "sub" });
    expect((await bySub.verify(unverified, email)).verifierId).to.equal(email);
  });

  it("refuses a token whose last base64url character carries stray bits (a second spelling)", async function () {
    const token = await oidc.mint({ email });
    const [h, p, s] = token.split(".") as [string, string, string];
    // 256-byte RS256 signature: 342 base64url chars, the last one holds 2 meaningful bits; flip an unused bit.
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const last = alphabet.indexOf(s.at(-1)!);
    const other = `${h}.${p}.${s.slice(0, -1)}${alphabet[last ^ 1]}`;
    expect(Buffer.from(other.split(".")[2]!, "base64url").equals(Buffer.from(s, "base64url"))).to.equal(true);
    expect(await refusal(other)).to.equal("NON_CANONICAL_TOKEN");
  });

  it("serves a token in one epoch only: by its issue time against the epoch's window", async function () {
    const now = Math.floor(Date.now() / 1000);
    const token = await oidc.mint({ email }, { issuedAt: now - 30, expiresInSeconds: 600 });
    const code = (window: { issuedAfter?: number; issuedBefore?: number }) =>
      verifier.verify(token, email, window).then(
        () => "OK",
        (error: TokenError) => error.code,
      );
    // The old epoch during a handover: only tokens issued before its newest block time plus the skew.
    expect(await code({ issuedBefore: now })).to.equal("OK");
    expect(await code({ issuedBefore: now - 30 })).to.equal("OTHER_EPOCH");
    // The new epoch: only tokens issued after the completion block's time plus the skew.
    expect(await code({ issuedAfter: now - 31 })).to.equal("OK");
    expect(await code({ issuedAfter: now - 30 })).to.equal("OTHER_EPOCH");
    // With the old epoch's bound at or below the new one's, no issue time passes both.
    const completion = now - 30;
    expect([await code({ issuedBefore: completion }), await code({ issuedAfter: completion })]).to.deep.equal([
      "OTHER_EPOCH",
      "OTHER_EPOCH",
    ]);
  });
});
