/**
 * The sign-in a DApp runs with an OpenID Connect provider (the implicit flow, as with Google or Auth0): the page reads
 * the provider's discovery document, sends the browser to its authorization endpoint with a fresh `state` and
 * `nonce` (kept in sessionStorage, which lives as long as the tab), and on the way back takes the ID token from the
 * URL's fragment, removes it from the address bar and the history, and checks that the answer belongs to the
 * sign-in it started (`state`) before anything else.
 */
import { SignInError } from "./id-token.ts";

const PENDING_KEY = "devnet-dapp.pending-sign-in";

/** What the page remembers across the provider's page: only random values and a time, never a token or a key. */
export interface PendingSignIn {
  state: string;
  nonce: string;
  /** When the person pressed "Sign in" (ms since the epoch), to show how long the whole sign-in took. */
  startedAt: number;
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

/** Looks up the provider's authorization endpoint and sends the browser there, in the same tab. */
export async function startSignIn(oidc: { issuer: string; clientId: string }, startedAt: number): Promise<void> {
  const discoveryUrl = `${oidc.issuer}/.well-known/openid-configuration`;
  let endpoint: string;
  try {
    const response = await fetch(discoveryUrl, { signal: AbortSignal.timeout(5000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const discovery = (await response.json()) as { issuer?: unknown; authorization_endpoint?: unknown };
    // OpenID Connect Discovery §4.3: the document must name the issuer it was fetched for.
    if (discovery.issuer !== oidc.issuer) throw new Error(`it names another issuer (${String(discovery.issuer)})`);
    if (typeof discovery.authorization_endpoint !== "string") throw new Error("it names no authorization_endpoint");
    endpoint = discovery.authorization_endpoint;
  } catch (error) {
    throw new SignInError(
      "The identity provider cannot be reached",
      `Its discovery document ${discoveryUrl} could not be read: ${(error as Error).message}.`,
    );
  }
  const pending: PendingSignIn = { state: randomToken(), nonce: randomToken(), startedAt };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const url = new URL(endpoint);
  url.search = new URLSearchParams({
    response_type: "id_token",
    response_mode: "fragment",
    client_id: oidc.clientId,
    redirect_uri: `${location.origin}${location.pathname}`,
    scope: "openid email",
    state: pending.state,
    nonce: pending.nonce,
  }).toString();
  location.assign(url.toString());
}

/**
 * The provider's answer in the URL's fragment, if the page was opened with one: the ID token and the sign-in it
 * answers. The fragment is removed at once, so that the token stays neither in the address bar nor in the history.
 */
export function takeSignInAnswer(): { idToken: string; pending: PendingSignIn } | undefined {
  const answer = new URLSearchParams(location.hash.slice(1));
  if (!answer.has("id_token") && !answer.has("error")) return undefined;
  history.replaceState(null, "", `${location.pathname}${location.search}`);
  const stored = sessionStorage.getItem(PENDING_KEY);
  // One answer per sign-in: a reload or a replayed link finds nothing to match.
  sessionStorage.removeItem(PENDING_KEY);
  let pending: PendingSignIn | undefined;
  try {
    pending = stored === null ? undefined : (JSON.parse(stored) as PendingSignIn);
  } catch {
    pending = undefined;
  }
  if (!pending)
    throw new SignInError(
      "This sign-in answer was not expected",
      "This tab did not start a sign-in, or it already used this answer (after a reload?). Sign in again.",
    );
  if (answer.get("state") !== pending.state)
    throw new SignInError(
      "This sign-in answer is not for the sign-in this page started",
      "Its state does not match (a forged or stale link?). Nothing was sent to the nodes; sign in again.",
    );
  const error = answer.get("error");
  if (error === "access_denied")
    throw new SignInError(
      "Sign-in cancelled",
      "You cancelled at the identity provider; nothing was sent to the nodes.",
    );
  if (error !== null)
    throw new SignInError(
      "The identity provider refused the sign-in",
      `It answered ${error}${answer.has("error_description") ? `: ${answer.get("error_description")}` : ""}.`,
    );
  return { idToken: answer.get("id_token")!, pending };
}
