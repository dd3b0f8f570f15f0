/**
 * The development issuer's sign-in, over HTTP without a browser: discovery lists the endpoints; `GET /authorize`
 * serves the email page for a well-formed request and refuses the rest (to the person when the redirect URI cannot be
 * trusted, to the DApp otherwise); the posted form redirects back with an ID token carrying the nonce, or shows the
 * page again for a bad email; nothing the request carries is echoed unescaped.
 */
import { expect } from "chai";
import { decodeJwt } from "jose";

import { freePort } from "../../scripts/lib/chain-process.ts";
import { DEV_AUDIENCE, startDevOidc, type DevOidc } from "../../scripts/lib/dev-oidc.ts";

const REDIRECT = "http://127.0.0.1:5557/";

describe("the dev issuer's authorization endpoint (implicit flow, email page)", function () {
  let oidc: DevOidc;

  before(async function () {
    oidc = await startDevOidc(await freePort());
  });

  after(async function () {
    await oidc.stop();
  });

  const request = (overrides: Record<string, string | undefined> = {}) => {
    const params = {
      client_id: DEV_AUDIENCE,
      redirect_uri: REDIRECT,
      response_type: "id_token",
      scope: "openid email",
      state: "state-123",
      nonce: "nonce-456",
      ...overrides,
    };
    return new URLSearchParams(
      Object.entries(params).filter((entry): entry is [string, string] => entry[1] !== undefined),
    );
  };
  const get = (params: URLSearchParams) =>
    fetch(`${oidc.authorizationEndpoint}?${params.toString()}`, { redirect: "manual" });
  const post = (params: URLSearchParams) =>
    fetch(oidc.authorizationEndpoint, { method: "POST", body: params, redirect: "manual" });
  /** The answer in a redirect's fragment. */
  const answerOf = (response: Response) => {
    expect(response.status).to.equal(303);
    const location = new URL(response.headers.get("location")!);
    expect(`${location.origin}${location.pathname}`).to.equal(REDIRECT);
    return new URLSearchParams(location.hash.slice(1));
  };

  it("lists the authorization endpoint and the implicit flow in its discovery document", async function () {
    const discovery = (await (await fetch(`${oidc.issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(discovery.issuer).to.equal(oidc.issuer);
    expect(discovery.authorization_endpoint).to.equal(`${oidc.issuer}/authorize`);
    expect(discovery.token_endpoint).to.equal(`${oidc.issuer}/token`);
    expect(discovery.jwks_uri).to.equal(`${oidc.issuer}/jwks`);
    expect(discovery.response_types_supported).to.deep.equal(["id_token"]);
  });

  it("serves the email page, marked as a development issuer, with the request in hidden fields", async function () {
    const response = await get(request());
    expect(response.status).to.equal(200);
    expect(response.headers.get("content-type")).to.match(/^text\/html/);
    expect(response.headers.get("content-security-policy")).to.include("default-src 'none'");
    const html = await response.text();
    expect(html).to.include("Development issuer");
    expect(html).to.match(/<input id="email" name="email" type="email"[^>]*data-testid="email"/);
    expect(html).to.match(/<label for="email">/);
    expect(html).to.include('name="nonce" value="nonce-456"');
    expect(html).to.include('name="state" value="state-123"');
    // Enter submits the form with its first submit button, which must be Continue, not Cancel.
    expect(html.indexOf("Continue")).to.be.lessThan(html.indexOf("Cancel"));
  });

  it("redirects back with an ID token for the email, carrying the nonce, and the state", async function () {
    const answer = answerOf(await post(request({ email: "carol@example.com" })));
    expect(answer.get("state")).to.equal("state-123");
    const claims = decodeJwt(answer.get("id_token")!);
    expect(claims).to.include({ iss: oidc.issuer, aud: DEV_AUDIENCE, email: "carol@example.com", nonce: "nonce-456" });
    expect(claims.email_verified).to.equal(true);
  });

  it("shows the page again for a bad email, escaped, and sends nothing back", async function () {
    const response = await post(request({ email: '<img src=x onerror="alert(1)">' }));
    expect(response.status).to.equal(400);
    const html = await response.text();
    expect(html).to.include("is not an email address");
    expect(html).to.not.include("<img");
    expect(html).to.include('aria-invalid="true"');
    expect((await post(request({ email: "" }))).status).to.equal(400);
  });

  it("answers a cancel with access_denied", async function () {
    const answer = answerOf(await post(request({ cancel: "1" })));
    expect(answer.get("error")).to.equal("access_denied");
    expect(answer.get("state")).to.equal("state-123");
    expect(answer.has("id_token")).to.equal(false);
  });

  it("sends errors of a trusted request back to the DApp: no nonce, another response type, no openid scope", async function () {
    for (const [overrides, error] of [
      [{ nonce: undefined }, "invalid_request"],
      [{ response_type: "code" }, "unsupported_response_type"],
      [{ scope: "email" }, "invalid_scope"],
    ] as const) {
      for (const send of [get, post]) {
        const answer = answerOf(await send(request({ ...overrides, email: "carol@example.com" })));
        expect(answer.get("error")).to.equal(error);
        expect(answer.has("id_token")).to.equal(false);
      }
    }
  });

  it("never redirects to a URI it cannot trust: another host, no URI, another client", async function () {
    for (const overrides of [
      { redirect_uri: "https://attacker.example/callback" },
      { redirect_uri: "http://127.0.0.1.attacker.example/" },
      { redirect_uri: "javascript:alert(1)" },
      { redirect_uri: `${REDIRECT}#fragment` },
      { redirect_uri: undefined },
      { client_id: "someone-else" },
      { state: "x".repeat(3000) },
    ]) {
      for (const send of [get, post]) {
        const response = await send(request({ ...overrides, email: "carol@example.com" }));
        expect(response.status, JSON.stringify(overrides)).to.equal(400);
        expect(response.headers.get("location")).to.equal(null);
        expect(await response.text()).to.include("cannot be served");
      }
    }
  });

  it("still mints tokens for scripts at POST /token", async function () {
    const response = await fetch(oidc.tokenEndpoint, { method: "POST", body: JSON.stringify({ email: "d@e.f" }) });
    const { id_token: token } = (await response.json()) as { id_token: string };
    expect(decodeJwt(token)).to.include({ iss: oidc.issuer, email: "d@e.f" });
    const tooLarge = await fetch(oidc.tokenEndpoint, { method: "POST", body: "x".repeat(5000) });
    expect(tooLarge.status).to.equal(413);
  });
});
