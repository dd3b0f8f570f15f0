import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import { getOrAssignKey, login, networkFromDescription } from "../../client/index.ts";
import { mod } from "../../node/crypto/field.ts";
import { lagrangeCoefficients } from "../../node/crypto/lagrange.ts";
import { G } from "../../node/crypto/point.ts";
import type { GeneratedKey } from "../../node/dkg/types.ts";
import { freePort, startChain } from "../../scripts/lib/chain-process.ts";
import { Devnet, VERIFIER_NAME, type DevnetNode } from "../../scripts/lib/devnet-processes.ts";
import { batchKeys, dropBatch, readKeyStore, storedBatches } from "../support/key-rows.ts";

const keyStoreOf = (node: DevnetNode) => path.join(node.dataDir, "epoch-1", "keys.sqlite");

/** Every key this node holds, from its key store (read beside the running node: only whole batches are seen). */
function keysOf(node: DevnetNode): Map<number, GeneratedKey> {
  return readKeyStore(keyStoreOf(node)).keys;
}

/** A read of a node's store while it may be starting (its file not there yet): undefined if it fails. */
function tryRead<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
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
    // A buffer larger than the test fills, so that key generation goes on through the whole suite; and every batch's
    // records kept in keygen.sqlite throughout (the last test rebuilds an early batch from them).
    devnet = await Devnet.start({
      dir,
      n: 5,
      chainPort: await freePort(),
      keyBuffer: 400,
      configOverride: (_slot, config) => ({
        ...config,
        keygen: { ...(config.keygen as object), resendWindowSeconds: 3600 },
      }),
    });
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
      devnet.nodes.map(async (node) => ({ index: await indexOf(devnet, node), keys: keysOf(node) })),
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
    const theirs = keysOf(others[0]!);
    const published = [...theirs.keys()].filter((i) => i < target);
    expect(
      published.filter((i) => i >= before + 24).length,
      "a batch began and ended while it was down",
    ).to.be.at.least(12);
    let lacking = published;
    for (const until = Date.now() + 60_000; lacking.length > 0 && Date.now() < until;) {
      await new Promise((r) => setTimeout(r, 500));
      const mine = tryRead(() => keysOf(victim)) ?? new Map<number, GeneratedKey>();
      lacking = published.filter((i) => !mine.has(i));
    }
    expect(lacking, "keys published before its restart whose shares it still lacks").to.deep.equal([]);
  });

  it("rebuilds from its key-generation records, and serves, a batch whose keys a crash lost before the key store wrote them", async function () {
    // A user's key, so that the lost batch is one a login needs.
    const network = networkFromDescription(await devnet.describe(true));
    const user = { verifier: VERIFIER_NAME, verifierId: "rebuilt@example.com" };
    const assigned = await getOrAssignKey(network, user, { signer: devnet.signer.url });
    // A crash after a batch's keys reached the records but before the key store's write: kill a node, take the batch of
    // that key out of its key store as that crash would have left it (no key row, no marker, the counts without it),
    // and restart it.
    const node = devnet.nodes[0]!;
    await devnet.kill(node, "SIGKILL");
    const file = keyStoreOf(node);
    const batch = storedBatches(file).find((b) => batchKeys(file, b)!.some((k) => k.keyIndex === assigned.keyIndex));
    expect(batch, `the batch of key ${assigned.keyIndex}`).to.not.equal(undefined);
    const counted = readKeyStore(file).counts.batches;
    const lost = await dropBatch(file, batch!);
    expect(batchKeys(file, batch!), `batch ${batch} is out of the store`).to.equal(undefined);
    expect(keysOf(node).has(assigned.keyIndex)).to.equal(false);
    devnet.spawn(node);
    let rebuilt: GeneratedKey[] | undefined;
    for (const until = Date.now() + 60_000; rebuilt === undefined && Date.now() < until;) {
      await new Promise((r) => setTimeout(r, 500));
      rebuilt = tryRead(() => batchKeys(file, batch!));
    }
    expect(rebuilt, `batch ${batch}`).to.deep.equal(lost);
    await devnet.waitUntilServing([node]);
    expect((await devnet.status(node))!.keys.generatedBatches, "batches its key store counts").to.be.at.least(counted);

    // It serves them: a login whose share requests reach this node and two others only (k = 3) rebuilds the key.
    const answering = [0, 1, 3].map((slot) => `${devnet.nodes[slot]!.apiUrl}/jrpc`);
    const sharesFromThree: typeof fetch = (input, init) =>
      typeof init?.body === "string" && init.body.includes('"ShareRequest"') && !answering.includes(input as string)
        ? Promise.reject(new Error("share request held back by the test"))
        : fetch(input, init);
    const idToken = await devnet.oidc.mint({ email: user.verifierId });
    const loggedIn = await login(network, { ...user, idToken }, { fetch: sharesFromThree });
    expect(loggedIn.address).to.equal(assigned.address);
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
