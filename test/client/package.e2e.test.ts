/**
 * The SDK as a DApp gets it. `npm pack` in client/ builds the package (its prepack script), and the tarball installs
 * without the registry (it has no dependencies) in a folder outside the repository. From there, against one devnet of
 * five node processes: a Node script run by the machine's own Node (≥ 20, where the tests run on 22) imports the
 * package by its name, reads the node set from the NodeList and logs in; a browser bundle of an entry importing it by
 * its name holds no Node built-in and logs in inside a sandbox with only browser globals; and a strict consumer
 * project compiles an example against the installed declarations, under Node's and under bundlers' resolution.
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

import { expect } from "chai";
import { build } from "esbuild";

import { getOrAssignKey, networkFromDescription, type KeyInfo, type Network } from "../../client/index.ts";
import { addressFromPublicKey } from "../../node/crypto/address.ts";
import { G } from "../../node/crypto/point.ts";
import { freePort } from "../../scripts/lib/chain-process.ts";
import { Devnet, VERIFIER_NAME } from "../../scripts/lib/devnet-processes.ts";
import { fromSandbox, runInBrowserSandbox } from "../support/browser-sandbox.ts";
import { run, runOk, systemNode, writeConsumer } from "../support/sdk-consumer.ts";

const CLIENT = new URL("../../client/", import.meta.url).pathname;
const TSC = new URL("../../node_modules/typescript/bin/tsc", import.meta.url).pathname;

/** What the consumer's login.mjs prints. */
interface NodeRun {
  node: string;
  resolved: string;
  fromChain: Network;
  fromDescription: Network;
  key: KeyInfo;
  session: { privateKey: string; publicKey: { x: string; y: string }; address: string };
}

/** The part of the SDK the browser test calls, as seen from outside the sandbox. */
interface BrowserSdk {
  networkFromDescription(description: unknown): Network;
  getOrAssignKey(network: Network, user: unknown, options: unknown): Promise<KeyInfo>;
  login(network: Network, user: unknown): Promise<{ privateKey: bigint; address: string }>;
}

describe("the SDK package: packed, installed outside the repository, used from Node, a browser and tsc", function () {
  this.timeout(300_000);
  let tmp: string;
  let app: string;
  let sdk: string;
  let installed: string;
  let devnet: Devnet | undefined;
  let described: Awaited<ReturnType<Devnet["describe"]>>;

  before(async function () {
    sdk = (JSON.parse(await readFile(path.join(CLIENT, "package.json"), "utf8")) as { name: string }).name;
    tmp = await mkdtemp(path.join(tmpdir(), "sdk-package-"));
    app = path.join(tmp, "app");
    installed = path.join(app, "node_modules", ...sdk.split("/"));
    const packAndInstall = async () => {
      await runOk("npm", ["pack", "--pack-destination", tmp], CLIENT);
      const tarballs = (await readdir(tmp)).filter((file) => file.endsWith(".tgz"));
      expect(tarballs, "npm pack made one tarball").to.have.length(1);
      await writeConsumer(app, sdk);
      await runOk("npm", ["install", "--offline", "--no-audit", "--no-fund", path.join(tmp, tarballs[0]!)], app);
    };
    const startDevnet = async () => {
      const dir = await mkdtemp(path.join(tmp, "devnet-"));
      // Two users need two keys: a small buffer leaves the CPU to the builds and the logins.
      devnet = await Devnet.start({ dir, n: 5, chainPort: await freePort(), keyBuffer: 8 });
      await devnet.waitForKeys(4, 120_000);
      described = await devnet.describe(true);
      await devnet.waitUntilTokensServed(BigInt(described.epoch.id));
    };
    // Both take a while; neither may be left running when the other fails, so both are awaited before a rethrow.
    const outcomes = await Promise.allSettled([packAndInstall(), startDevnet()]);
    for (const outcome of outcomes) if (outcome.status === "rejected") throw outcome.reason;
  });

  after(async function () {
    await devnet?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it("holds the bundles, the declarations, the bundled licenses and its README: no source, no dependency", async function () {
    const files = await readdir(installed, { recursive: true });
    expect(files).to.include.members([
      "README.md",
      "package.json",
      "dist/browser.js",
      "dist/node.js",
      "dist/types/client/index.d.ts",
      "dist/THIRD-PARTY-LICENSES.txt",
    ]);
    expect(files.filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts"))).to.deep.equal([]);
    const manifest = JSON.parse(await readFile(path.join(installed, "package.json"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(manifest.dependencies ?? {}).to.deep.equal({});
    expect(manifest.sideEffects).to.equal(false);
    // The offline install brought nothing but the SDK.
    const modules = (await readdir(path.join(app, "node_modules"))).filter((name) => !name.startsWith("."));
    expect(modules).to.deep.equal([sdk.split("/")[0]]);
    expect(await readFile(path.join(installed, "dist/THIRD-PARTY-LICENSES.txt"), "utf8")).to.match(/@noble\/curves@/);
  });

  it("logs in from Node ≥ 20 by the package name, with the node set read from the NodeList", async function () {
    const node = systemNode();
    const version = (await runOk(node, ["--version"], app)).trim().replace(/^v/, "");
    expect(Number(version.split(".")[0]), `${node} is Node ${version}`).to.be.at.least(20);
    const user = { verifier: VERIFIER_NAME, verifierId: "node-dapp@example.com" };
    const idToken = await devnet!.oidc.mint({ email: user.verifierId });
    const input = JSON.stringify({ description: described, user, idToken });
    const out = JSON.parse(await runOk(node, ["login.mjs", input], app)) as NodeRun;

    expect(out.node).to.equal(version);
    expect(out.resolved).to.equal(pathToFileURL(path.join(installed, "dist/node.js")).href);
    // The chain says what the devnet's description says (the reader gives the NodeList address in lowercase).
    const expected = out.fromDescription;
    expect(out.fromChain).to.deep.equal({
      ...expected,
      deployment: { ...expected.deployment, nodeList: expected.deployment.nodeList.toLowerCase() },
    });
    expect(out.session.address).to.equal(out.key.address);
    expect(addressFromPublicKey(G.multiply(BigInt("0x" + out.session.privateKey)))).to.equal(out.key.address);
    // The repository's SDK finds the key the package assigned.
    expect(await getOrAssignKey(networkFromDescription(described), user)).to.deep.equal(out.key);
  });

  it("bundles for the browser by the package name, without Node built-ins, and logs in from a sandbox", async function () {
    const result = await build({
      stdin: { contents: `export * from "${sdk}";`, resolveDir: app, sourcefile: "dapp.js" },
      absWorkingDir: app,
      bundle: true,
      platform: "browser",
      format: "iife",
      globalName: "SDK",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    // esbuild took the package's browser entry, and nothing else.
    expect(Object.keys(result.metafile.inputs).sort()).to.deep.equal([
      "dapp.js",
      `node_modules/${sdk}/dist/browser.js`,
    ]);
    const iife = result.outputFiles[0]!.text;
    expect(iife).to.not.match(/["']node:/);
    expect(iife).to.not.match(/\bBuffer\b/);

    const user = { verifier: VERIFIER_NAME, verifierId: "browser-dapp@example.com" };
    const idToken = await devnet!.oidc.mint({ email: user.verifierId });
    // The sandbox's network is the real one: the page's fetch reaches the devnet's nodes and signer (CORS allows it).
    const browser = runInBrowserSandbox<BrowserSdk>(iife, (url, init) => fetch(url, init));
    const { key, session } = await fromSandbox(async () => {
      const network = browser.networkFromDescription(described);
      const key = await browser.getOrAssignKey(network, user, { signer: described.signerHost });
      return { key, session: await browser.login(network, { ...user, idToken }) };
    });
    expect(session.address).to.equal(key.address);
    expect(addressFromPublicKey(G.multiply(session.privateKey))).to.equal(key.address);
    expect((await getOrAssignKey(networkFromDescription(described), user)).address).to.equal(key.address);
  });

  it("type-checks a strict consumer's example against the installed declarations (node16 and bundler)", async function () {
    const checks = await Promise.all(
      ["node16", "bundler"].map((resolution) => run(process.execPath, [TSC, "-p", `tsconfig.${resolution}.json`], app)),
    );
    for (const [i, { code, stdout, stderr }] of checks.entries()) {
      expect(stdout + stderr, `tsconfig.${["node16", "bundler"][i]}.json`).to.equal("");
      expect(code).to.equal(0);
    }
  });
});
