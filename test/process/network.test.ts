import { spawn } from "node:child_process";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import { mod } from "../../node/crypto/field.ts";
import { lagrangeCoefficients } from "../../node/crypto/lagrange.ts";
import { G } from "../../node/crypto/point.ts";
import type { GeneratedKey } from "../../node/dkg/types.ts";
import { freePort, startChain } from "../../scripts/lib/chain-process.ts";
import { Devnet, type DevnetNode } from "../../scripts/lib/devnet-processes.ts";

/** Every key this node holds, from its per-batch key files. */
async function keysOf(node: DevnetNode): Promise<Map<number, GeneratedKey>> {
  const dir = path.join(node.dataDir, "epoch-1", "keys");
  const keys = new Map<number, GeneratedKey>();
  // Only finished batch files: lowdb writes each through a temporary file that is renamed (and gone) a moment later.
  for (const file of (await readdir(dir)).filter((name) => /^batch-\d+\.json$/.test(name))) {
    const batch = JSON.parse(await readFile(path.join(dir, file), "utf8")) as { keys: GeneratedKey[] };
    for (const key of batch.keys) keys.set(key.keyIndex, key);
  }
  return keys;
}

async function indexOf(devnet: Devnet, node: DevnetNode): Promise<number> {
  return (await devnet.status(node))!.index;
}

describe("a network of five node processes on a Hardhat chain", function () {
  this.timeout(300_000);
  let dir: string;
  let devnet: Devnet;

  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "network-"));
    // A buffer larger than the test fills, so that key generation goes on through the whole suite.
    devnet = await Devnet.start({ dir, n: 5, chainPort: await freePort(), keyBuffer: 400 });
  });

  after(async function () {
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("registers, connects, commits blocks and fills a buffer of at least 50 keys, on the native curve backend", async function () {
    await devnet.waitForKeys(50, 180_000);
    for (const node of devnet.nodes) {
      const status = (await devnet.status(node))!;
      expect(status.peersConnected).to.equal(4);
      expect(status.bft.height).to.be.greaterThan(2);
      expect(status.cryptoBackend).to.equal("native");
    }
    const metrics = await (await fetch(`${devnet.nodes[0]!.apiUrl}/metrics`)).text();
    expect(metrics).to.match(/^torus_crypto_backend_info\{backend="native"\} 1$/m);
  });

  it("holds, on every node, shares of each key that k of them turn into the published public key", async function () {
    const shares = await Promise.all(
      devnet.nodes.map(async (node) => ({ index: await indexOf(devnet, node), keys: await keysOf(node) })),
    );
    const common = [...shares[0]!.keys.keys()].filter((i) => shares.every((s) => s.keys.has(i)));
    expect(common.length).to.be.at.least(40);
    for (const keyIndex of common) {
      const publicKey = shares[0]!.keys.get(keyIndex)!.publicKey;
      for (const subset of [shares.slice(0, 3), shares.slice(2, 5)]) {
        const lambdas = lagrangeCoefficients(subset.map((s) => BigInt(s.index)));
        const secret = subset.reduce(
          (acc, s, j) => mod(acc + lambdas[j]! * BigInt("0x" + s.keys.get(keyIndex)!.share)),
          0n,
        );
        expect(Buffer.from(G.multiply(secret).toBytes(false)).toString("hex"), `key ${keyIndex}`).to.equal(publicKey);
      }
      expect(shares.every((s) => s.keys.get(keyIndex)!.publicKey === publicKey)).to.equal(true);
    }
  });

  it("recovers a node killed with SIGKILL during key generation, and keeps generating without it", async function () {
    const victim = devnet.nodes[2]!;
    const others = devnet.nodes.filter((n) => n !== victim);
    const before = (await devnet.status(others[0]!))!.keys.published;
    await devnet.kill(victim, "SIGKILL");
    // Fewer than t = 1 missing: the other four go on generating and publishing keys.
    // Three batches of 12 keys: the (up to two) batches in flight at the kill, and at least one begun after it.
    await devnet.waitForKeys(before + 36, 120_000, undefined, others);
    devnet.spawn(victim);
    // The restarted node catches up: the blocks it missed and its shares of the batches decided meanwhile.
    const target = (await devnet.status(others[0]!))!.keys.published;
    await devnet.waitForKeys(target, 120_000, undefined, [victim]);
    const height = (await devnet.status(others[0]!))!.bft.height;
    const deadline = Date.now() + 60_000;
    while (((await devnet.status(victim))?.bft.height ?? 0) < height && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
    }
    expect((await devnet.status(victim))!.bft.height, "the restarted node reaches the others' height").to.be.at.least(
      height,
    );
    // Its share of every key published when it restarted: the batches in flight at the kill, and those that began
    // and ended while it was down. Its BFT state (the published count) can be back before it has rebuilt its shares
    // of those batches through its peers' resends, so wait for the shares, within a bound.
    const theirs = await keysOf(others[0]!);
    const published = [...theirs.keys()].filter((i) => i < target);
    expect(
      published.filter((i) => i >= before + 24).length,
      "a batch began and ended while it was down",
    ).to.be.at.least(12);
    let lacking = published;
    for (const until = Date.now() + 60_000; lacking.length > 0 && Date.now() < until;) {
      await new Promise((r) => setTimeout(r, 500));
      const mine = await keysOf(victim);
      lacking = published.filter((i) => !mine.has(i));
    }
    expect(lacking, "keys published before its restart whose shares it still lacks").to.deep.equal([]);
  });

  it("rebuilds from its key-generation log a batch whose key file a crash lost", async function () {
    // A crash after a batch's keys reached the log but before its key file was written: kill a node, remove its
    // newest batch file as that crash would have left it, and restart it.
    const node = devnet.nodes[0]!;
    await devnet.kill(node, "SIGKILL");
    const keysDir = path.join(node.dataDir, "epoch-1", "keys");
    const newest = (await readdir(keysDir))
      .filter((name) => /^batch-\d+\.json$/.test(name))
      .sort()
      .pop()!;
    const lost = await readFile(path.join(keysDir, newest), "utf8");
    await rm(path.join(keysDir, newest));
    devnet.spawn(node);
    let rebuilt: string | undefined;
    for (const until = Date.now() + 60_000; rebuilt === undefined && Date.now() < until;) {
      await new Promise((r) => setTimeout(r, 500));
      rebuilt = await readFile(path.join(keysDir, newest), "utf8").catch(() => undefined);
    }
    expect(rebuilt && JSON.parse(rebuilt), newest).to.deep.equal(JSON.parse(lost));
  });
});

describe("node processes that must not serve", function () {
  this.timeout(300_000);
  let dir: string;

  beforeEach(async () => (dir = await mkdtemp(path.join(tmpdir(), "refuse-"))));
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  function runNode(configFile: string) {
    const cli = path.join(process.cwd(), "node", "cli.ts");
    const child = spawn(process.execPath, ["--import", "tsx", cli, "start", "--config", configFile], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    return {
      child,
      output: () => output,
      exited: new Promise<number | null>((resolve) => child.once("exit", resolve)),
    };
  }

  it("exits with a clear message on a bad configuration", async function () {
    const file = path.join(dir, "node.json");
    // Valid but for the key, which is too short.
    const chain = { rpcUrl: "http://127.0.0.1:1", nodeList: "0x" + "ab".repeat(20) };
    const config = {
      nodeKey: "12",
      chain,
      api: { port: 1 },
      p2p: { listen: "/ip4/127.0.0.1/tcp/1" },
      dataDir: "d",
      verifiers: [],
    };
    await writeFile(file, JSON.stringify(config));
    const node = runNode(file);
    expect(await node.exited).to.equal(1);
    expect(node.output()).to.contain("torus-node: bad configuration: config.nodeKey must be a 32-byte hex private key");
  });

  it("exits with a clear message when its key is not whitelisted, and refuses to serve with a different verifier list", async function () {
    const devnet = await Devnet.start({
      dir,
      n: 5,
      chainPort: await freePort(),
      keyBuffer: 12,
      configOverride: (slot, config) =>
        slot === 5
          ? { ...config, verifiers: [{ ...(config.verifiers as object[])[0]!, audience: "something-else" }] }
          : config,
    });
    try {
      // A sixth key nobody whitelisted.
      const base = JSON.parse(await readFile(devnet.nodes[0]!.configFile, "utf8")) as Record<string, unknown>;
      const stranger: Record<string, unknown> = { ...base, nodeKey: "0x" + "42".repeat(32), dataDir: "stranger" };
      delete stranger.nodeKeystore;
      const file = path.join(path.dirname(devnet.nodes[0]!.configFile), "stranger.json");
      await writeFile(
        file,
        JSON.stringify({
          ...stranger,
          api: { port: await freePort() },
          p2p: { listen: `/ip4/127.0.0.1/tcp/${await freePort()}` },
        }),
      );
      const node = runNode(file);
      expect(await node.exited).to.equal(1);
      expect(node.output()).to.match(/torus-node: node key 0x[0-9a-fA-F]{40} is not whitelisted in any epoch/);

      const odd = devnet.nodes[4]!;
      const deadline = Date.now() + 60_000;
      let status = await devnet.status(odd);
      while (!status?.refusing && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        status = await devnet.status(odd);
      }
      expect(status?.refusing).to.match(/verifier list differs/);
      expect((await fetch(`${odd.apiUrl}/healthz`)).status).to.equal(503);
      // The four that agree keep serving.
      expect((await fetch(`${devnet.nodes[0]!.apiUrl}/healthz`)).status).to.equal(200);
    } finally {
      await devnet.stop();
    }
  });

  it("exits with a clear message when the chain was reset under it", async function () {
    const devnet = await Devnet.start({ dir, n: 1, chainPort: await freePort(), keyBuffer: 3 });
    try {
      await devnet.waitForKeys(3, 60_000);
      const node = devnet.nodes[0]!;
      // The chain goes away and a fresh one (without the contract) answers on the same port.
      const port = devnet.chain.port;
      await devnet.chain.stop();
      devnet.chain = await startChain({ port, logFile: path.join(dir, "chain-2.log") });
      expect(await node.exited).to.equal(1);
      expect(await readFile(node.logFile, "utf8")).to.match(/no contract at 0x[0-9a-fA-F]{40} .* the chain was reset/);
    } finally {
      await devnet.stop();
    }
  });
});
