/**
 * The demo DApp: "Sign in" sends the browser to the devnet's identity provider; back here, the page checks the answer,
 * runs the SDK's commit–reveal login against the network's nodes (showing each node's steps), shows the address, and
 * signs messages with the rebuilt key. The key lives in this module's memory only.
 */
import { LoginError, login, revealQuorum } from "@torus-threshold-network/sdk";

import { byId, show } from "../shared/dom.ts";
import { loadDevnet, type Devnet } from "./devnet-description.ts";
import { explain, type Explanation } from "./explain-error.ts";
import { checkClaims, readClaims } from "./id-token.ts";
import { signAndVerify } from "./message-signing.ts";
import { NodeProgress } from "./node-progress.ts";
import { startSignIn, takeSignInAnswer, type PendingSignIn } from "./sign-in.ts";

/** The signed-in user, with the key the login rebuilt: never stored, never sent, dropped at sign-out. */
let session: { email: string; address: string; privateKey: bigint } | undefined;

const signInButton = byId<HTMLButtonElement>("sign-in");
const signOutButton = byId<HTMLButtonElement>("sign-out");
const errorBox = byId("login-error");
const account = byId("account");
const progressBox = byId("progress");
const summary = byId("progress-summary");
const message = byId<HTMLTextAreaElement>("message");
const signatureBox = byId("signature-box");
const verdict = byId("signature-valid");

function showError({ headline, detail }: Explanation): void {
  byId("error-headline").textContent = headline;
  byId("error-detail").textContent = detail;
  show(errorBox, true);
}

// Whatever escapes the handlers below is still told in words, never as a stack trace.
window.addEventListener("error", (event) => showError(explain(event.error ?? event.message)));
window.addEventListener("unhandledrejection", (event) => showError(explain(event.reason)));

function describe(devnet: Devnet): string {
  const { epoch, nodes, oidc } = devnet.description;
  return `Epoch ${epoch.id}: ${nodes.length} nodes (k = ${epoch.k}, t = ${epoch.t}); identity provider ${oidc.issuer}.`;
}

async function signIn(devnet: Devnet, { idToken, pending }: { idToken: string; pending: PendingSignIn }) {
  const { description, network } = devnet;
  const email = checkClaims(readClaims(idToken), {
    issuer: description.oidc.issuer,
    clientId: description.oidc.clientId,
    nonce: pending.nonce,
    now: Math.floor(Date.now() / 1000),
  });
  const progress = new NodeProgress(byId<HTMLTableSectionElement>("progress-rows"), description.nodes);
  const q = revealQuorum(network.endpoints.length, network.t);
  const k = description.epoch.k;
  const tell = () => {
    const { signed, shares } = progress.counts();
    summary.textContent = `${signed} of ${network.endpoints.length} nodes signed (a login needs ${q}); ${shares} key shares received (${k} rebuild the key).`;
  };
  show(progressBox, true);
  summary.textContent = `Signing in ${email}…`;
  const started = performance.now();
  try {
    const result = await login(
      network,
      { verifier: description.oidc.verifier, verifierId: email, idToken },
      {
        onProgress: (event) => {
          progress.update(event);
          tell();
        },
      },
    );
    session = { email, address: result.address, privateKey: result.privateKey };
  } catch (error) {
    if (error instanceof LoginError && ["TOO_FEW_SIGNATURES", "WRONG_DEPLOYMENT"].includes(error.code))
      progress.notRevealed();
    throw error;
  }
  const loginMs = performance.now() - started;
  const totalSeconds = (Date.now() - pending.startedAt) / 1000;
  byId("account-email").textContent = session.email;
  byId("address").textContent = session.address;
  byId("account-timing").textContent =
    `${totalSeconds.toFixed(1)} s from "Sign in" to this address, of which the login at the nodes took ` +
    `${Math.round(loginMs)} ms.`;
  message.value = `Signed in to the demo DApp as ${session.email} at ${new Date().toISOString()}`;
  show(account, true);
  show(signInButton, false);
  show(signOutButton, true);
}

function signOut(): void {
  session = undefined;
  show(account, false);
  show(progressBox, false);
  show(signatureBox, false);
  show(signOutButton, false);
  show(signInButton, true);
  signInButton.focus();
}

async function signMessage(): Promise<void> {
  if (!session) return;
  delete verdict.dataset.valid;
  const { signature, recovered, valid } = await signAndVerify(session.privateKey, session.address, message.value);
  byId("signature").textContent = signature;
  verdict.textContent = valid
    ? `✓ The signature verifies: it recovers to your address ${recovered}.`
    : `✗ The signature does not verify: it recovers to ${recovered}, not to your address ${session.address}.`;
  verdict.className = `verdict ${valid ? "ok" : "bad"}`;
  // Set last, and only here: a test that waits for data-valid reads a finished check.
  verdict.dataset.valid = String(valid);
  show(signatureBox, true);
}

async function main(): Promise<void> {
  let devnet: Devnet;
  try {
    devnet = await loadDevnet();
  } catch (error) {
    byId("network-line").textContent = "Not connected to a network.";
    return showError(explain(error));
  }
  byId("network-line").textContent = describe(devnet);
  signInButton.disabled = false;
  signInButton.addEventListener("click", () => {
    show(errorBox, false);
    signInButton.disabled = true;
    startSignIn(devnet.description.oidc, Date.now()).catch((error: unknown) => {
      signInButton.disabled = false;
      showError(explain(error));
    });
  });
  signOutButton.addEventListener("click", signOut);
  byId<HTMLFormElement>("sign-form").addEventListener("submit", (event) => {
    event.preventDefault();
    signMessage().catch((error: unknown) => showError(explain(error)));
  });
  // A changed message needs a new signature: the old verdict no longer applies.
  message.addEventListener("input", () => {
    show(signatureBox, false);
    delete verdict.dataset.valid;
  });

  let answer: ReturnType<typeof takeSignInAnswer>;
  try {
    answer = takeSignInAnswer();
  } catch (error) {
    return showError(explain(error));
  }
  if (!answer) return;
  signInButton.disabled = true;
  try {
    await signIn(devnet, answer);
  } catch (error) {
    showError(explain(error));
  } finally {
    signInButton.disabled = false;
  }
}

void main();
