import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";
import { JsonRpcProvider, Wallet } from "ethers";

import { DEPLOYMENT_BINDING_FILE } from "../../node/store/deployment-binding.ts";
import { freePort, startChain, type ChainProcess } from "../../scripts/lib/chain-process.ts";
import { deployNodeList } from "../../scripts/lib/operations.ts";
import { runTorusNode } from "../support/torus-node-run.ts";

// The operator's path: a plain key encrypted with `torus-node keystore import` (ethers' default scrypt cost), a
// password file beside it, a config naming both. The key is whitelisted nowhere, so a node that unlocked it binds its
// data directory to the key's address and stops at the whitelist check; one that did not stops before it.
describe("a torus-node process runs from an encrypted keystore (README: running a node with a keystore)", function () {
  this.timeout(180_000);
  let dir: string;
  let chain: ChainProcess;
  let config: string;
  let nodeList: string;
  const key = Wallet.createRandom();
  const file = (name: string) => path.join(dir, name);

  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "node-keystore-"));
    chain = await startChain({ port: await freePort(), logFile: file("chain.log") });
    const provider = new JsonRpcProvider(chain.url);
    nodeList = await (await deployNodeList(await provider.getSigner(0))).getAddress();
    provider.destroy();
    await writeFile(file("node.key"), key.privateKey + "\n", { mode: 0o600 });
    await writeFile(file("node-key.password"), "a long passphrase\n", { mode: 0o600 });
    config = file("node.json");
    await writeFile(
      config,
      JSON.stringify({
        nodeKeystore: "node-key.json",
        nodeKeyPasswordFile: "node-key.password",
        chain: { rpcUrl: chain.url, nodeList, pollingIntervalMs: 100 },
        api: { port: await freePort() },
        p2p: { listen: `/ip4/127.0.0.1/tcp/${await freePort()}` },
        dataDir: "data",
        verifiers: [],
      }),
    );
  });

  after(async function () {
    await chain?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("imports a key into a 0600 keystore with `torus-node keystore import`", async function () {
    const run = await runTorusNode([
      "keystore",
      "import",
      "--key-file",
      file("node.key"),
      "--out",
      file("node-key.json"),
      "--password-file",
      file("node-key.password"),
    ]);
    expect(run.code, run.output).to.equal(0);
    expect(run.output).to.contain(`wrote ${file("node-key.json")}, the keystore of node key ${key.address}`);
    expect((await stat(file("node-key.json"))).mode & 0o777).to.equal(0o600);
    expect(await readFile(file("node-key.json"), "utf8")).to.not.contain(key.privateKey.slice(2));
  });

  it("refuses a wrong password with the specific error, before it writes anything", async function () {
    const run = await runTorusNode(["start", "--config", config], { TORUS_NODE_KEY_PASSWORD: "not the passphrase" });
    expect(run.code, run.output).to.equal(1);
    expect(run.output).to.contain(
      `torus-node: wrong password for the node keystore ${file("node-key.json")}: the password from ` +
        `TORUS_NODE_KEY_PASSWORD does not open it`,
    );
    await stat(file("data")).then(
      () => expect.fail("the node created its data directory"),
      (error: NodeJS.ErrnoException) => expect(error.code).to.equal("ENOENT"),
    );
  });

  it("answers `torus-node status` without unlocking the keystore", async function () {
    const run = await runTorusNode(["status", "--config", config], { TORUS_NODE_KEY_PASSWORD: "not the passphrase" });
    expect(run.code, run.output).to.equal(1);
    expect(run.output).to.match(/^torus-node: no node answers at 127\.0\.0\.1:\d+/);
  });

  it("refuses a password file that others may read", async function () {
    await chmod(file("node-key.password"), 0o644);
    try {
      const run = await runTorusNode(["start", "--config", config]);
      expect(run.code, run.output).to.equal(1);
      expect(run.output).to.contain(
        `torus-node: the password file (config.nodeKeyPasswordFile) ${file("node-key.password")} is open to other ` +
          `users (mode 0644)`,
      );
    } finally {
      await chmod(file("node-key.password"), 0o600);
    }
  });

  it("unlocks the keystore with its password file and runs as the key's node", async function () {
    const run = await runTorusNode(["start", "--config", config]);
    expect(run.code, run.output).to.equal(1);
    expect(run.output).to.contain(`node key ${key.address} is not whitelisted in any epoch of ${nodeList}`);
    const binding = JSON.parse(await readFile(path.join(file("data"), DEPLOYMENT_BINDING_FILE), "utf8")) as {
      nodeAddress: string;
    };
    expect(binding.nodeAddress).to.equal(key.address);
  });
});
