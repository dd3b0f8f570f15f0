/**
 * The devnet's web UI in a real Chromium, against `npm start` (five node processes): a person signs in through the
 * development issuer's page and the DApp shows the address the network holds for them, with the key rebuilt in the
 * page and sent nowhere; the page signs an EIP-191 message that verifies; the status page shows the epoch and every
 * node, at 390 px too; with a node killed the sign-in still succeeds and the status page shows that node down; a
 * token of another issuer, and one the nodes refuse, end in words, not a stack trace. Screenshots of every step go to
 * test-output/screenshots/.
 */
import path from "node:path";

import { expect } from "chai";
import { verifyMessage } from "ethers";
import type { Browser, Page, Request } from "playwright-core";

import { getOrAssignKey, login, networkFromDescription, type Network } from "../../client/index.ts";
import { freePort } from "../../scripts/lib/chain-process.ts";
import { startDevOidc, type DevOidc } from "../../scripts/lib/dev-oidc.ts";
import { SCREENSHOTS, launchChromium } from "../support/chromium.ts";
import { npmStart, sleep, type NetworkJson, type NpmStart } from "../support/npm-start.ts";

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
/** What a stack trace on a page would look like: frames ("at f (file:1:2)") or source positions. */
const STACK_TRACE = /\bat \S+ \(|\.(ts|js):\d+:\d+/;

describe("the devnet's web UI in Chromium: sign-in, signing, status, a node down, foreign tokens", function () {
  this.timeout(300_000);
  let devnet: NpmStart;
  let description: NetworkJson;
  let network: Network;
  let browser: Browser;
  let otherIssuer: DevOidc | undefined;
  /** The DApp tab of the first user, kept across the first tests. */
  let page: Page;
  const user = "alice@example.com";
  let aliceAddress: string;

  const shoot = (target: Page, name: string) =>
    target.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });

  /** Errors thrown by a page's scripts: each test must leave none. */
  let pageErrors: string[] = [];

  async function newPage(width = 1000): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height: 900 } });
    const tab = await context.newPage();
    tab.on("pageerror", (error) => pageErrors.push(`${tab.url()}: ${error.message}`));
    return tab;
  }

  /** Opens the DApp and presses "Sign in": resolves on the issuer's page, with its URL. */
  async function toIssuer(tab: Page): Promise<URL> {
    await tab.goto(description.ui);
    // Enabled once the page has read the network description.
    await tab.locator('[data-testid="sign-in"]:enabled').click({ timeout: 10_000 });
    await tab.getByTestId("email").waitFor();
    return new URL(tab.url());
  }

  /** Types the email on an issuer's page and presses Enter; resolves with the DApp's address or error. */
  async function submitEmail(tab: Page, email: string): Promise<{ address?: string; error?: string; ms: number }> {
    await tab.getByTestId("email").fill(email);
    const pressed = Date.now();
    await tab.getByTestId("email").press("Enter");
    const address = tab.getByTestId("address");
    const error = tab.getByTestId("login-error");
    // Whichever the page shows first: the address (its section appears on success) or the error.
    await tab
      .locator('[data-testid="address"]:visible, [data-testid="login-error"]:visible')
      .first()
      .waitFor({ timeout: 60_000 });
    const ms = Date.now() - pressed;
    if (await error.isVisible()) return { error: await error.innerText(), ms };
    return { address: await address.innerText(), ms };
  }

  before(async function () {
    devnet = await npmStart(["--keys", "8"]);
    description = await devnet.description();
    network = networkFromDescription(description);
    browser = await launchChromium();
  });

  afterEach(function () {
    const errors = pageErrors;
    pageErrors = [];
    expect(errors, "scripts of the pages threw").to.deep.equal([]);
  });

  after(async function () {
    await browser?.close();
    await otherIssuer?.stop();
    await devnet?.stop();
  });

  it("npm start serves the UI on 127.0.0.1, prints its URL and writes it to network.json", async function () {
    expect(description.ui).to.match(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(devnet.output()).to.include(`UI         ${description.ui}`);
    const served = (await (await fetch(`${description.ui}network.json`)).json()) as NetworkJson;
    expect(served.chain.nodeList).to.equal(description.chain.nodeList);
    const discovery = (await (
      await fetch(`${description.oidc.issuer}/.well-known/openid-configuration`)
    ).json()) as Record<string, unknown>;
    expect(discovery.authorization_endpoint).to.equal(description.oidc.authorizationEndpoint);

    const tab = await newPage();
    await tab.goto(description.ui);
    await tab.locator('[data-testid="sign-in"]:enabled').waitFor();
    expect(await tab.locator("#network-line").innerText()).to.include(
      `Epoch 1: 5 nodes (k = 3, t = 1); identity provider ${description.oidc.issuer}`,
    );
    expect(await tab.locator("main").innerText()).to.match(/private key .* never leaves it/);
    await shoot(tab, "0-dapp-start");
    await tab.context().close();
  });

  it("a new user signs in through the issuer's page and gets the address the network holds; the key stays in the page", async function () {
    page = await newPage();
    const requests: Request[] = [];
    page.on("request", (request) => requests.push(request));
    const authorize = await toIssuer(page);
    expect(`${authorize.origin}${authorize.pathname}`).to.equal(description.oidc.authorizationEndpoint);
    expect(authorize.searchParams.get("client_id")).to.equal(description.oidc.clientId);
    expect(authorize.searchParams.get("redirect_uri")).to.equal(description.ui);
    expect(authorize.searchParams.get("response_type")).to.equal("id_token");
    expect(authorize.searchParams.get("state")).to.have.length.greaterThan(15);
    expect(authorize.searchParams.get("nonce")).to.have.length.greaterThan(15);
    await shoot(page, "1-issuer-page");

    const { address, error, ms } = await submitEmail(page, user);
    expect(error, "the DApp showed an error").to.equal(undefined);
    expect(address).to.match(ADDRESS);
    aliceAddress = address!;
    const timing = await page.locator("#account-timing").innerText();
    console.log(`      sign-in: ${ms} ms from Enter on the issuer's page to the address; the page says: ${timing}`);
    // The token left the address bar and the history with the fragment.
    expect(page.url()).to.equal(description.ui);
    expect(await page.getByTestId("login-error").isHidden()).to.equal(true);

    // Every node signed and sent its share, row by row.
    const rows = page.getByTestId("node-progress");
    expect(await rows.count()).to.equal(5);
    for (const row of await rows.all()) {
      expect(await row.getAttribute("data-commitment")).to.equal("signed");
      expect(await row.getAttribute("data-share")).to.equal("share-received");
    }

    // The network's own answer, read from Node: the key of this user is at that address.
    const key = await getOrAssignKey(network, { verifier: description.oidc.verifier, verifierId: user });
    expect(key.address).to.equal(aliceAddress);

    // The private key (read here by a login of our own) appears in no request the page sent, nor in its storage.
    const token = (await (
      await fetch(description.oidc.tokenEndpoint, { method: "POST", body: JSON.stringify({ email: user }) })
    ).json()) as { id_token: string };
    const { privateKey } = await login(network, {
      verifier: description.oidc.verifier,
      verifierId: user,
      idToken: token.id_token,
    });
    const secrets = [privateKey.toString(16).padStart(64, "0"), privateKey.toString(16), privateKey.toString()];
    const sent = requests.map((request) => `${request.url()} ${request.postData() ?? ""}`.toLowerCase());
    expect(sent.filter((text) => text.includes("commitmentrequest"))).to.have.length(5);
    for (const secret of secrets) expect(sent.some((text) => text.includes(secret))).to.equal(false);
    const storage = await page.evaluate<string>(
      "JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])",
    );
    for (const secret of secrets) expect(storage).to.not.include(secret);
    await shoot(page, "2-dapp-signed-in");
  });

  it("signs an EIP-191 message with the rebuilt key, and the signature verifies", async function () {
    const message = "I am alice, signing on the devnet";
    await page.locator("#message").fill(message);
    await page.getByTestId("sign-message").click();
    const verdict = page.locator('[data-testid="signature-valid"][data-valid]');
    await verdict.waitFor();
    expect(await verdict.getAttribute("data-valid")).to.equal("true");
    const signature = await page.locator("#signature").innerText();
    expect(verifyMessage(message, signature)).to.equal(aliceAddress);
    // Another message is not what was signed: its recovery gives another address.
    expect(verifyMessage(message + ".", signature)).to.not.equal(aliceAddress);
    // Editing the message withdraws the verdict until it is signed again.
    await page.locator("#message").fill(message + " (edited)");
    expect(await page.getByTestId("signature-valid").getAttribute("data-valid")).to.equal(null);
    await page.getByTestId("sign-message").click();
    await verdict.waitFor();
    expect(await verdict.getAttribute("data-valid")).to.equal("true");
    await shoot(page, "3-dapp-signed-message");
  });

  it("the status page shows the epoch, the key buffer and every node healthy, at 390 px too", async function () {
    const status = await newPage();
    await status.goto(`${description.ui}status`);
    const rows = status.getByTestId("node-row");
    await rows.nth(4).waitFor();
    expect(await rows.count()).to.equal(5);
    for (const row of await rows.all()) expect(await row.getAttribute("data-healthy")).to.equal("true");
    const main = await status.locator("main").innerText();
    expect(main).to.match(/Epoch 1/);
    expect(main).to.match(/Current/);
    for (const node of description.nodes) expect(main).to.include(new URL(node.endpoint).host);
    expect(await status.locator("#buffer-chart polyline").count()).to.equal(1);
    await shoot(status, "4-status");

    for (const [tab, name] of [
      [status, "5-status-390px"],
      [page, "5-dapp-390px"],
    ] as const) {
      await tab.setViewportSize({ width: 390, height: 844 });
      // Nothing wider than the screen: no sideways scrolling on a phone.
      expect(await tab.evaluate<number>("document.documentElement.scrollWidth")).to.be.at.most(390);
      await shoot(tab, name);
    }
    await status.context().close();
  });

  it("with one node killed, the user still signs in, and the status page shows that node down", async function () {
    const victim = description.nodes[description.nodes.length - 1]!;
    process.kill(victim.pid, "SIGKILL");
    while (isAlive(victim.pid)) await sleep(50);

    const status = await newPage();
    await status.goto(`${description.ui}status`);
    const down = status.locator(`[data-testid="node-row"][data-node-index="${victim.index}"][data-healthy="false"]`);
    await down.waitFor({ timeout: 20_000 });
    expect(await down.innerText()).to.match(/down/);
    expect(await down.innerText()).to.match(/no answer/);
    expect(await status.locator('[data-testid="node-row"][data-healthy="true"]').count()).to.equal(4);
    await shoot(status, "6-status-node-down");
    await status.context().close();

    const tab = await newPage();
    await toIssuer(tab);
    const { address, error } = await submitEmail(tab, user);
    expect(error, "the DApp showed an error").to.equal(undefined);
    expect(address).to.equal(aliceAddress);
    const row = tab.locator(`[data-testid="node-progress"][data-node-index="${victim.index}"]`);
    expect(await row.getAttribute("data-commitment")).to.equal("not-signed");
    expect(await row.innerText()).to.match(/no answer/);
    await shoot(tab, "7-dapp-node-down");
    await tab.context().close();
  });

  it("a token from another issuer is refused in words before any node sees it", async function () {
    otherIssuer = await startDevOidc(await freePort());
    const tab = await newPage();
    const nodeRequests: string[] = [];
    const nodeOrigins = new Set(description.nodes.map((node) => new URL(node.endpoint).origin));
    tab.on("request", (request) => {
      if (nodeOrigins.has(new URL(request.url()).origin)) nodeRequests.push(request.url());
    });
    // The same sign-in request (state, nonce, redirect), answered by another provider's page.
    const authorize = await toIssuer(tab);
    await tab.goto(`${otherIssuer.authorizationEndpoint}${authorize.search}`);
    const { address, error } = await submitEmail(tab, user);
    expect(address).to.equal(undefined);
    expect(error).to.match(/another issuer/);
    expect(error).to.include(otherIssuer.issuer);
    expect(error).to.include(description.oidc.issuer);
    expect(error).to.not.match(STACK_TRACE);
    expect(nodeRequests).to.deep.equal([]);
    await shoot(tab, "8-dapp-foreign-issuer");
    await tab.context().close();
  });

  it("a token the nodes refuse (signed with another key) is refused in words, with the nodes' reason", async function () {
    const forger = otherIssuer ?? (otherIssuer = await startDevOidc(await freePort()));
    const tab = await newPage();
    const authorize = await toIssuer(tab);
    // What a provider whose key the nodes do not trust would send: the right issuer, audience and nonce.
    const forged = await forger.mint({
      email: user,
      iss: description.oidc.issuer,
      nonce: authorize.searchParams.get("nonce")!,
    });
    const answer = new URLSearchParams({ id_token: forged, state: authorize.searchParams.get("state")! });
    await tab.goto(`${description.ui}#${answer.toString()}`);
    const error = tab.getByTestId("login-error");
    await error.waitFor({ timeout: 60_000 });
    const text = await error.innerText();
    expect(text).to.match(/The nodes refused the sign-in/);
    expect(text).to.match(/The network said: .*the nodes answered/);
    expect(text).to.not.match(STACK_TRACE);
    expect(await tab.getByTestId("address").isVisible()).to.equal(false);
    await shoot(tab, "9-dapp-refused-token");
    await tab.context().close();
  });

  it("with two nodes down (more than t), the sign-in stops before revealing the token, and says so", async function () {
    const second = description.nodes[description.nodes.length - 2]!;
    process.kill(second.pid, "SIGKILL");
    while (isAlive(second.pid)) await sleep(50);
    const tab = await newPage();
    const requests: string[] = [];
    tab.on("request", (request) => requests.push(request.postData() ?? ""));
    await toIssuer(tab);
    const { address, error } = await submitEmail(tab, user);
    expect(address).to.equal(undefined);
    expect(error).to.match(/Too few nodes signed this sign-in/);
    expect(error).to.match(/Your ID token was not revealed/);
    expect(error).to.match(/only 3 of the 4 node signatures/);
    expect(error).to.not.match(STACK_TRACE);
    // Commitments went out; the token itself (a ShareRequest) never did.
    expect(requests.filter((body) => body.includes("CommitmentRequest"))).to.have.length.greaterThan(0);
    expect(requests.filter((body) => body.includes("ShareRequest"))).to.deep.equal([]);
    const rows = tab.getByTestId("node-progress");
    expect(await rows.filter({ hasText: "not asked: the token was not revealed" }).count()).to.equal(5);
    await shoot(tab, "10-dapp-too-few-nodes");
    await tab.context().close();
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
