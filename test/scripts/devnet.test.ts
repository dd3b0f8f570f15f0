import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import { answersJsonRpc, freePort } from "../../scripts/lib/chain-process.ts";

const require = createRequire(import.meta.url);
const hardhatCli = path.join(path.dirname(require.resolve("hardhat/package.json")), "dist", "src", "cli.js");

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts a TypeScript script or the Hardhat CLI as a real process, collecting its output. */
function run(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
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

describe("npm start: the local network of real node processes", function () {
  this.timeout(480_000);
  let dir: string;
  let port: number;
  let devnet: Run;

  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "devnet-"));
    port = await freePort();
    const free = ["--api-base", "0", "--p2p-base", "0", "--oidc-port", "0", "--control-port", "0"];
    devnet = run([
      "--import",
      "tsx",
      "scripts/start.ts",
      "--port",
      String(port),
      "--dir",
      dir,
      "--keys",
      "12",
      ...free,
    ]);
    await waitFor("npm start", devnet, "The network keeps running", 150_000);
  });

  after(async function () {
    if (devnet?.child.exitCode === null) devnet.child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
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

  it("writes network.json, and node keys readable only by their owner", async function () {
    const network = JSON.parse(await readFile(path.join(dir, "network.json"), "utf8")) as {
      ready: boolean;
      epoch: { id: number; n: number; k: number; t: number };
      nodes: { index: number; endpoint: string; pid: number }[];
      oidc: { issuer: string; tokenEndpoint: string; verifier: string };
    };
    expect(network.ready).to.equal(true);
    expect(network.epoch).to.deep.equal({ id: 1, n: 5, k: 3, t: 1 });
    expect(network.nodes.map((node) => node.index)).to.deep.equal([1, 2, 3, 4, 5]);
    const token = (await (
      await fetch(network.oidc.tokenEndpoint, { method: "POST", body: JSON.stringify({ email: "dev@example.com" }) })
    ).json()) as { id_token: string };
    expect(token.id_token.split(".")).to.have.length(3);
    for (let i = 1; i <= 5; i++) {
      const file = path.join(dir, "nodes", `node-${i}`, "node.key");
      expect((await readFile(file, "utf8")).trim()).to.match(/^0x[0-9a-f]{64}$/);
      expect((await stat(file)).mode & 0o077, `${file} is readable by others`).to.equal(0);
    }
  });

  it("serves the Hardhat tasks over JSON-RPC (epoch:status from the command line)", async function () {
    const { chain } = JSON.parse(await readFile(path.join(dir, "network.json"), "utf8")) as {
      chain: { nodeList: string };
    };
    const nodeList = chain.nodeList;
    const status = run([hardhatCli, "--network", "localhost", "epoch:status"], {
      CHAIN_RPC_URL: `http://127.0.0.1:${port}`,
      NODE_LIST_ADDRESS: nodeList,
    });
    expect(await status.exited, status.output()).to.equal(0);
    expect(status.output()).to.contain("epoch 1 (Current, current): n=5 k=3 t=1");
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
    };
    expect(after.epoch.id).to.equal(2);
    expect(after.nodes.map((n) => n.pid)).to.not.have.members(before.nodes.map((n) => n.pid));

    // A second request while none runs, with a bad node count, is refused with a reason.
    const bad = run(["--import", "tsx", "scripts/transition.ts", "--dir", dir, "--nodes", "0"]);
    expect(await bad.exited).to.equal(1);
    expect(bad.output()).to.contain("error: nodes must be an integer in 1..32");
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
