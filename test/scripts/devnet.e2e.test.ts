import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";
import { JsonRpcProvider, Wallet } from "ethers";

import { DEPLOYMENT_BINDING_FILE, type DeploymentIdentity } from "../../node/store/deployment-binding.ts";
import { answersJsonRpc, freePort } from "../../scripts/lib/chain-process.ts";
import { DEVNET_MARKER_FILE } from "../../scripts/lib/devnet-dir.ts";
import { connectNodeList, registerNode } from "../../scripts/lib/operations.ts";
import { waitForRetiredDir } from "../support/retired-dir.ts";

const require = createRequire(import.meta.url);
const hardhatCli = path.join(path.dirname(require.resolve("hardhat/package.json")), "dist", "src", "cli.js");

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts a TypeScript script or the Hardhat CLI as a real process, collecting its output (`undefined` unsets). */
function run(args: string[], env: Record<string, string | undefined> = {}): Run {
  const merged = Object.fromEntries(
    Object.entries({ ...process.env, ...env }).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  const child = spawn(process.execPath, args, { env: merged, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitFor(what: string, r: Run, text: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!r.output().includes(text)) {
    if (r.child.exitCode !== null || Date.now() > deadline)
      throw new Error(`no "${text}" from ${what}; output:\n${r.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The deployment binding of a devnet node's data directory. */
async function bindingOf(dir: string, slot: number): Promise<DeploymentIdentity> {
  const file = path.join(dir, "nodes", `node-${slot}`, "data", DEPLOYMENT_BINDING_FILE);
  return JSON.parse(await readFile(file, "utf8")) as DeploymentIdentity;
}

describe("npm start: the local network of real node processes", function () {
  this.timeout(480_000);
  let dir: string;
  let port: number;
  /** The environment of every command: the devnet's directory and chain port, as a developer would export them. */
  let env: Record<string, string | undefined>;
  let first: Run;
  let firstBinding: DeploymentIdentity;
  let devnet: Run;
  const free = ["--api-base", "0", "--p2p-base", "0", "--oidc-port", "0", "--signer-port", "0"];
  free.push("--control-port", "0", "--ui-port", "0");

  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "devnet-"));
    port = await freePort();
    env = { DEVNET_DIR: dir, DEVNET_CHAIN_PORT: String(port), CHAIN_RPC_URL: undefined, NODE_LIST_ADDRESS: undefined };
    // `npm start` twice in one directory: a first devnet that exits once ready, then the one the tests use.
    first = run(["--import", "tsx", "scripts/start.ts", "--keys", "4", "--once", ...free], env);
    expect(await first.exited, first.output()).to.equal(0);
    firstBinding = await bindingOf(dir, 1);
    devnet = run(["--import", "tsx", "scripts/start.ts", "--keys", "12", ...free], env);
    await waitFor("npm start", devnet, "The network keeps running", 150_000);
  });

  after(async function () {
    if (first?.child.exitCode === null) first.child.kill("SIGKILL");
    if (devnet?.child.exitCode === null) devnet.child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  it("starts a second devnet in the same directory from a clean state, and its nodes serve logins", async function () {
    expect(first.output()).to.not.contain("removed the previous devnet");
    expect(devnet.output()).to.contain(`removed the previous devnet's state in ${dir}\n`);
    // A fresh chain repeats chain id, NodeList address and deployment block; the block's hash tells them apart.
    const provider = new JsonRpcProvider(`http://127.0.0.1:${port}`);
    try {
      for (let slot = 1; slot <= 5; slot++) {
        const binding = await bindingOf(dir, slot);
        expect(binding.deploymentBlockHash).to.equal((await provider.getBlock(binding.deploymentBlock))!.hash);
        expect(binding.deploymentBlockHash).to.not.equal(firstBinding.deploymentBlockHash);
        const log = await readFile(path.join(dir, "nodes", `node-${slot}`, "node.log"), "utf8");
        expect(log, `node ${slot} did not start on new data`).to.contain("bound the data directory to this deployment");
      }
    } finally {
      provider.destroy();
    }
    // The demo login of the second devnet is checked below.
  });

  it("prints the current genesis epoch with its five nodes, once their key buffer holds keys", function () {
    const out = devnet.output();
    expect(out).to.match(/key buffer filled in [\d.]+ s/);
    expect(out).to.match(/epoch 1 \(Current, current\): n=5 k=3 t=1 prev=0 next=0/);
    expect(out).to.contain("5/5 nodes listed");
    const demo =
      /demo login demo@example\.com: looked-up address (0x[0-9a-fA-F]{40}), logged-in address (0x[0-9a-fA-F]{40}) \(match/.exec(
        out,
      );
    expect(demo, "no demo login in the output").to.not.equal(null);
    expect(demo![1]).to.equal(demo![2]);
    for (let i = 1; i <= 5; i++)
      expect(out).to.match(new RegExp(`node ${i}: http://127\\.0\\.0\\.1:\\d+/jrpc \\(pid \\d+\\)`));
  });

  it("writes network.json, and node keystores and their passwords readable only by their owner", async function () {
    const network = JSON.parse(await readFile(path.join(dir, "network.json"), "utf8")) as {
      ready: boolean;
      epoch: { id: number; n: number; k: number; t: number };
      nodes: { index: number; endpoint: string; pid: number; address: string }[];
      oidc: { issuer: string; tokenEndpoint: string; verifier: string };
      ui: string;
    };
    expect(network.ready).to.equal(true);
    expect(network.ui).to.match(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(devnet.output()).to.contain(`UI         ${network.ui}`);
    expect(network.epoch).to.deep.equal({ id: 1, n: 5, k: 3, t: 1 });
    expect(network.nodes.map((node) => node.index)).to.deep.equal([1, 2, 3, 4, 5]);
    const token = (await (
      await fetch(network.oidc.tokenEndpoint, { method: "POST", body: JSON.stringify({ email: "dev@example.com" }) })
    ).json()) as { id_token: string };
    expect(token.id_token.split(".")).to.have.length(3);
    for (let i = 1; i <= 5; i++) {
      const nodeDir = path.join(dir, "nodes", `node-${i}`);
      const [keystore, password] = [path.join(nodeDir, "node-key.json"), path.join(nodeDir, "node-key.password")];
      for (const file of [keystore, password])
        expect((await stat(file)).mode & 0o077, `${file} is readable by others`).to.equal(0);
      const wallet = await Wallet.fromEncryptedJson(
        await readFile(keystore, "utf8"),
        (await readFile(password, "utf8")).trim(),
      );
      expect(network.nodes.map((node) => node.address)).to.include(wallet.address);
    }
  });

  it("records the deployment where the Hardhat tasks read it: epoch:status as the README prints it", async function () {
    const { chain } = JSON.parse(await readFile(path.join(dir, "network.json"), "utf8")) as {
      chain: { nodeList: string };
    };
    const deployment = JSON.parse(await readFile(path.join(dir, "deployment.json"), "utf8")) as {
      chainId: string;
      nodeList: string;
      deployedAtBlock: number;
    };
    expect(deployment).to.include({ chainId: "31337", nodeList: chain.nodeList });
    expect(deployment.deployedAtBlock).to.equal((await bindingOf(dir, 1)).deploymentBlock);
    const status = run([hardhatCli, "--network", "localhost", "epoch:status"], env);
    expect(await status.exited, status.output()).to.equal(0);
    expect(status.output()).to.contain("epoch 1 (Current, current): n=5 k=3 t=1");
  });

  it("refuses a directory a running devnet uses, and a non-empty one that is not a devnet's, deleting nothing", async function () {
    const running = run(["--import", "tsx", "scripts/start.ts", "--port", String(await freePort()), ...free], env);
    expect(await running.exited).to.equal(1);
    expect(running.output()).to.contain(`a devnet (npm start, pid ${devnet.child.pid}) still runs from ${dir}`);
    expect(await readdir(dir)).to.include.members([DEVNET_MARKER_FILE, "network.json", "nodes"]);

    const foreign = await mkdtemp(path.join(tmpdir(), "not-a-devnet-"));
    try {
      await writeFile(path.join(foreign, "notes.txt"), "mine");
      const refused = run(["--import", "tsx", "scripts/start.ts", "--dir", foreign, "--port", String(port)]);
      expect(await refused.exited).to.equal(1);
      expect(refused.output()).to.contain(`--dir ${foreign} is not empty and holds no ${DEVNET_MARKER_FILE}`);
      expect(await readdir(foreign)).to.deep.equal(["notes.txt"]);
    } finally {
      await rm(foreign, { recursive: true, force: true });
    }
  });

  it("refuses to start a second network on a port that is taken, with a clear message", async function () {
    const second = run([
      "--import",
      "tsx",
      "scripts/start.ts",
      "--port",
      String(port),
      "--dir",
      path.join(dir, "second"),
      "--ui-port",
      "0",
    ]);
    expect(await second.exited).to.equal(1);
    expect(second.output()).to.contain(`something already answers JSON-RPC at http://127.0.0.1:${port}`);
  });

  it("hands the network over to a new epoch with npm run devnet:transition, and the demo user keeps its address", async function () {
    const before = JSON.parse(await readFile(path.join(dir, "network.json"), "utf8")) as { nodes: { pid: number }[] };
    const transition = run(["--import", "tsx", "scripts/transition.ts", "--dir", dir, "--nodes", "5"]);
    expect(await transition.exited, transition.output()).to.equal(0);
    const out = transition.output();
    expect(out).to.contain("the handover completed: epoch 2 is current");
    expect(out).to.match(/epoch 2 \(Current, current\): n=5 k=3 t=1 prev=1 next=0/);
    const demos = [
      ...devnet
        .output()
        .matchAll(
          /demo login demo@example\.com: looked-up address (0x[0-9a-fA-F]{40}), logged-in address (0x[0-9a-fA-F]{40}) \(match/g,
        ),
    ];
    expect(demos).to.have.length(2);
    expect(demos[1]![2]).to.equal(demos[0]![2]);
    expect(out.trim().split("\n").pop()).to.equal("ok");
    const after = JSON.parse(await readFile(path.join(dir, "network.json"), "utf8")) as {
      epoch: { id: number };
      nodes: { pid: number }[];
      ui: string;
    };
    expect(after.epoch.id).to.equal(2);
    // The web UI stays where it was, and serves the new epoch's description to the DApp.
    const served = (await (await fetch(`${after.ui}network.json`)).json()) as { epoch: { id: number } };
    expect(served.epoch.id).to.equal(2);
    expect(after.nodes.map((n) => n.pid)).to.not.have.members(before.nodes.map((n) => n.pid));

    // A second request while none runs, with a bad node count, is refused with a reason.
    const bad = run(["--import", "tsx", "scripts/transition.ts", "--dir", dir, "--nodes", "0"]);
    expect(await bad.exited).to.equal(1);
    expect(bad.output()).to.contain("error: nodes must be an integer in 1..32");
  });

  it("after a second devnet:transition (1 → 2 → 3), the directories of epochs 1 and 2 keep only RETIRED and chain.sqlite", async function () {
    const transition = run(["--import", "tsx", "scripts/transition.ts", "--dir", dir, "--nodes", "5"]);
    expect(await transition.exited, transition.output()).to.equal(0);
    expect(transition.output()).to.contain("the handover completed: epoch 3 is current");
    // Slots 1–5 ran epoch 1, slots 6–10 epoch 2; each retired node erases its directory once it sees the completion.
    const retiredDirs = Array.from({ length: 10 }, (_, i) =>
      path.join(dir, "nodes", `node-${i + 1}`, "data", `epoch-${i < 5 ? 1 : 2}`),
    );
    for (const epochDir of retiredDirs)
      expect(await waitForRetiredDir(epochDir, 30_000), epochDir).to.deep.equal(["RETIRED", "chain.sqlite"]);
  });

  it("runs every operator command of the README against the devnet, as printed", async function () {
    const hardhat = async (...args: string[]) => {
      const command = run([hardhatCli, "--network", "localhost", ...args], env);
      const code = await command.exited;
      return { code, output: command.output() };
    };
    const ok = async (...args: string[]) => {
      const { code, output } = await hardhat(...args);
      expect(code, `npx hardhat --network localhost ${args.join(" ")}:\n${output}`).to.equal(0);
      return output;
    };
    // Epoch 3 is current after the transitions above: its successor is epoch 4.
    expect(await ok("epoch:status")).to.contain("epoch 3 (Current, current): n=5 k=3 t=1 prev=2");
    expect(await ok("epoch:create", "--n", "7")).to.contain("created epoch 4: n=7 k=4 t=1");
    const keys = Array.from({ length: 7 }, () => Wallet.createRandom());
    const addresses = keys.map((key) => key.address).join(",");
    expect(await ok("epoch:whitelist", "--epoch", "4", "--nodes", addresses)).to.contain(
      "whitelisted 7 node key(s) in epoch 4",
    );
    expect(await ok("node:fund", "--nodes", addresses, "--ether", "1")).to.contain(
      "sent 1 ether to each of 7 node key(s)",
    );
    const keyDir = await mkdtemp(path.join(tmpdir(), "operator-"));
    try {
      await writeFile(path.join(keyDir, "node.key"), keys[0]!.privateKey + "\n", { mode: 0o600 });
      const register = ["node:register", "--epoch", "4", "--key-file", path.join(keyDir, "node.key")];
      const endpoints = ["--api", "127.0.0.1:1", "--p2p", "/ip4/127.0.0.1/tcp/1"];
      expect(await ok(...register, ...endpoints)).to.contain(
        `node ${keys[0]!.address} listed in epoch 4 at position 1`,
      );
    } finally {
      await rm(keyDir, { recursive: true, force: true });
    }
    // The other six list themselves as their nodes would, to fill the epoch for the transition commands.
    const provider = new JsonRpcProvider(`http://127.0.0.1:${port}`);
    try {
      const { nodeList: address } = JSON.parse(await readFile(path.join(dir, "deployment.json"), "utf8")) as {
        nodeList: string;
      };
      const nodeList = connectNodeList(address, await provider.getSigner(0));
      for (const key of keys.slice(1)) {
        const endpoints = { declaredIp: "127.0.0.1:1", p2pListenAddress: "/ip4/127.0.0.1/tcp/1" };
        await registerNode(nodeList, 4n, key.connect(provider), endpoints);
      }
    } finally {
      provider.destroy();
    }
    // `epoch:activate` is for the genesis epoch only: on this devnet, epoch 1 is long retired.
    const activate = await hardhat("epoch:activate", "--epoch", "1");
    expect(activate.code).to.not.equal(0);
    expect(activate.output).to.contain("activateEpoch was refused: ");
    expect(await ok("epoch:transition", "--epoch", "4")).to.contain("started the transition to epoch 4");
    expect(await ok("epoch:status")).to.contain("epoch 3 (Transitioning, current)");
    expect(await ok("epoch:status", "--epoch", "4")).to.contain("7/7 nodes listed");
    expect(await ok("epoch:transition", "--epoch", "4", "--abort")).to.contain("aborted the transition to epoch 4");
    expect(await ok("epoch:status")).to.match(/epoch 3 \(Current, current\).*handover to next: Aborted/);
    const deployFile = path.join(dir, "deployment.json");
    const before = (JSON.parse(await readFile(deployFile, "utf8")) as { nodeList: string }).nodeList;
    const deployed = await ok("nodelist:deploy");
    const after = (JSON.parse(await readFile(deployFile, "utf8")) as { nodeList: string }).nodeList;
    expect(after).to.not.equal(before);
    expect(deployed).to.contain(`NodeList deployed at ${after} (recorded in ${deployFile})`);
  });

  it("stops the chain and every node process on Ctrl-C", async function () {
    const { nodes } = JSON.parse(await readFile(path.join(dir, "network.json"), "utf8")) as {
      nodes: { pid: number }[];
    };
    devnet.child.kill("SIGINT");
    expect(await devnet.exited).to.equal(0);
    expect(await answersJsonRpc(`http://127.0.0.1:${port}`)).to.equal(false);
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(nodes.filter((node) => alive(node.pid))).to.deep.equal([]);
  });
});
