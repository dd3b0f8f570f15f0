/**
 * The development issuer's authorization endpoint, the sign-in a real provider has (OpenID Connect's implicit flow,
 * `response_type=id_token`, answered in the redirect URI's fragment, as Google's and Auth0's are): a DApp sends the
 * browser to `GET /authorize?client_id=…&redirect_uri=…&state=…&nonce=…`, the person types an email (no password:
 * it is a development issuer and the page says so), and the browser goes back to the DApp in the same tab with
 * `#id_token=…&state=…`. The token carries the `nonce`, which the DApp checks with `state`.
 *
 * This file is the request's checks and the pages; dev-oidc.ts serves them.
 */

/** An authorization request whose redirect URI may be trusted with an answer (an error one too). */
export interface AuthorizationRequest {
  clientId: string;
  redirectUri: URL;
  /** The DApp's opaque value, returned as is (it ties the answer to the sign-in the DApp started). */
  state: string | undefined;
  /** Put into the ID token, so that the DApp can tell its own token from a replayed one. */
  nonce: string;
}

/** What a request's parameters give: a request to answer, an error for the DApp, or a page for the person only. */
export type ParsedAuthorization =
  | { request: AuthorizationRequest }
  /** The redirect URI is fine and the client known: the error goes back to the DApp (RFC 6749 §4.2.2.1). */
  | { redirectError: { request: Omit<AuthorizationRequest, "nonce">; error: string; description: string } }
  /** No redirect URI or client to trust: never redirect, tell the person (RFC 6749 §4.2.2.1 too). */
  | { pageError: string };

const MAX_PARAMETER = 2048;
export const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+$/;

/** Checks the parameters of `GET /authorize` (and of the form posted back, whose hidden fields anyone can change). */
export function parseAuthorization(params: URLSearchParams, audience: string): ParsedAuthorization {
  for (const [name, value] of params) {
    if (value.length > MAX_PARAMETER) return { pageError: `the parameter ${name} is longer than ${MAX_PARAMETER}` };
  }
  const clientId = params.get("client_id");
  if (clientId === null) return { pageError: "the request names no client_id" };
  if (clientId !== audience)
    return { pageError: `unknown client_id "${clientId}": this development issuer serves "${audience}" only` };
  const raw = params.get("redirect_uri");
  if (raw === null) return { pageError: "the request names no redirect_uri" };
  let redirectUri: URL;
  try {
    redirectUri = new URL(raw);
  } catch {
    return { pageError: `redirect_uri "${raw}" is not a URL` };
  }
  // A provider redirects only to the URIs a client registered; the devnet's clients are pages on this machine.
  if (!["http:", "https:"].includes(redirectUri.protocol) || !isLoopback(redirectUri.hostname) || redirectUri.hash)
    return {
      pageError:
        `redirect_uri "${raw}" is not allowed: this development issuer sends tokens only to pages on this machine ` +
        `(http://127.0.0.1:…, http://localhost:… or http://[::1]:…, without a fragment)`,
    };
  const state = params.get("state") ?? undefined;
  const back = { clientId, redirectUri, state };
  const fail = (error: string, description: string) => ({ redirectError: { request: back, error, description } });
  const responseType = params.get("response_type");
  if (responseType !== "id_token")
    return fail("unsupported_response_type", `response_type must be "id_token" (got "${responseType ?? ""}")`);
  const scopes = (params.get("scope") ?? "").split(" ");
  if (!scopes.includes("openid")) return fail("invalid_scope", 'scope must include "openid"');
  const nonce = params.get("nonce");
  // OpenID Connect Core §3.2.2.1: the implicit flow requires a nonce (it binds the token to the DApp's session).
  if (!nonce) return fail("invalid_request", "the implicit flow requires a nonce");
  return { request: { ...back, nonce } };
}

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/** The redirect URI with the answer in its fragment (`#id_token=…&state=…`, or `#error=…&error_description=…`). */
export function redirectWith(request: Omit<AuthorizationRequest, "nonce">, answer: Record<string, string>): string {
  const fragment = new URLSearchParams(answer);
  if (request.state !== undefined) fragment.set("state", request.state);
  const url = new URL(request.redirectUri);
  url.hash = fragment.toString();
  return url.toString();
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
  :root { color-scheme: light; font-family: system-ui, sans-serif; }
  body { margin: 0; background: #f3f4f6; color: #111827; }
  main { max-width: 26rem; margin: 2rem auto; padding: 0 1rem; }
  .dev { background: #fef3c7; border: 1px solid #d97706; border-radius: .5rem; padding: .75rem 1rem; font-size: .9rem; }
  .card { background: #fff; border-radius: .75rem; padding: 1.5rem; margin-top: 1rem; box-shadow: 0 1px 3px #0002; }
  h1 { font-size: 1.35rem; margin: 0 0 .5rem; }
  label { display: block; font-weight: 600; margin: 1rem 0 .35rem; }
  input[type=email] { box-sizing: border-box; width: 100%; font-size: 1rem; padding: .6rem .7rem; border: 1px solid #9ca3af; border-radius: .4rem; }
  input[type=email]:focus { outline: 3px solid #93c5fd; border-color: #2563eb; }
  .buttons { display: flex; gap: .75rem; margin-top: 1.25rem; }
  button { font-size: 1rem; padding: .6rem 1.1rem; border-radius: .4rem; border: 1px solid #2563eb; cursor: pointer; }
  button:focus-visible { outline: 3px solid #93c5fd; }
  .primary { background: #2563eb; color: #fff; }
  .secondary { background: #fff; color: #1f2937; border-color: #9ca3af; }
  .error { color: #b91c1c; margin: .5rem 0 0; }
  .client { color: #4b5563; word-break: break-all; }
`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<p class="dev" role="note"><strong>Development issuer.</strong> This is not a real identity provider: it signs anyone
in as any email address, with no password. It exists for the local devnet only.</p>
${body}
</main>
</body>
</html>
`;
}

/** The sign-in page: one email field (Enter submits), the request's parameters carried in hidden fields. */
export function signInPage(request: AuthorizationRequest, options: { email?: string; error?: string } = {}): string {
  const hidden = {
    client_id: request.clientId,
    redirect_uri: request.redirectUri.toString(),
    response_type: "id_token",
    scope: "openid email",
    nonce: request.nonce,
    ...(request.state !== undefined ? { state: request.state } : {}),
  };
  const fields = Object.entries(hidden)
    .map(([name, value]) => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`)
    .join("\n");
  const error = options.error ? `<p class="error" id="email-error" role="alert">${escapeHtml(options.error)}</p>` : "";
  // The first submit button is the one Enter presses (HTML's implicit submission): "Continue", not "Cancel".
  return page(
    "Sign in — development issuer",
    `<div class="card">
<h1>Sign in</h1>
<p class="client"><strong>${escapeHtml(request.redirectUri.origin)}</strong> asks for your email address.</p>
<form method="post" action="/authorize">
${fields}
<label for="email">Email address</label>
<input id="email" name="email" type="email" required autocomplete="email" autofocus data-testid="email"
  value="${escapeHtml(options.email ?? "")}"${options.error ? ' aria-invalid="true" aria-describedby="email-error"' : ""}>
${error}
<div class="buttons">
<button class="primary" type="submit" data-testid="continue">Continue</button>
<button class="secondary" type="submit" name="cancel" value="1" formnovalidate>Cancel</button>
</div>
</form>
</div>`,
  );
}

/** A refusal shown to the person, when there is no redirect URI to trust with it. */
export function errorPage(message: string): string {
  return page(
    "Sign-in error — development issuer",
    `<div class="card"><h1>This sign-in request cannot be served</h1><p class="error" role="alert">${escapeHtml(message)}</p></div>`,
  );
}
