import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";
import { Wallet, parseEther } from "ethers";
import hre from "hardhat";

import { EpochState } from "../../node/chain/epoch-state.ts";
import { connectNodeList } from "../../scripts/lib/operations.ts";

const { ethers } = await hre.network.getOrCreate();

/** Runs a task in this process (on the in-process chain) and returns what it printed. */
async function runTask(name: string, args: Record<string, unknown>): Promise<string> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...parts: unknown[]) => lines.push(parts.map(String).join(" "));
  try {
    await hre.tasks.getTask(name).run(args);
  } finally {
    console.log = log;
  }
  return lines.join("\n");
}

// The tests run in order on one in-process chain: each builds on the state the previous one left.
describe("Hardhat tasks for governance and operators", function () {
  let dir: string;
  let contract: string;
  const nodes = Array.from({ length: 5 }, () => Wallet.createRandom());
  const keyFile = (i: number) => path.join(dir, `node-${i}.key`);

  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "tasks-"));
    for (const [i, node] of nodes.entries()) await writeFile(keyFile(i), node.privateKey.slice(2) + "\n");
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it("nodelist:deploy deploys and records the deployment", async function () {
    const out = path.join(dir, "deployment.json");
    const printed = await runTask("nodelist:deploy", { out });
    const deployment = JSON.parse(await readFile(out, "utf8")) as { nodeList: string; governance: string };
    contract = deployment.nodeList;
    expect(printed).to.contain(contract);
    const [governance] = await ethers.getSigners();
    expect(deployment.governance).to.equal(governance!.address);
    expect(await ethers.provider.getCode(contract)).to.not.equal("0x");
  });

  it("runs a genesis epoch through create, whitelist, fund, register, activate and status", async function () {
    expect(await runTask("epoch:create", { n: 5, contract })).to.equal("created epoch 1: n=5 k=3 t=1");
    const list = nodes.map((n) => n.address).join(",");
    expect(await runTask("epoch:whitelist", { epoch: 1n, nodes: list, contract })).to.contain("whitelisted 5");
    await runTask("node:fund", { nodes: list, ether: "2" });
    expect(await ethers.provider.getBalance(nodes[0]!.address)).to.equal(parseEther("2"));
    for (const [i, node] of nodes.entries()) {
      const printed = await runTask("node:register", {
        epoch: 1n,
        keyFile: keyFile(i),
        api: `127.0.0.1:${7001 + i}`,
        p2p: `/ip4/127.0.0.1/tcp/${9001 + i}`,
        contract,
      });
      expect(printed).to.equal(`node ${node.address} listed in epoch 1 at position ${i + 1}`);
    }
    expect(await runTask("epoch:activate", { epoch: 1n, contract })).to.equal("epoch 1 is current");
    const status = await runTask("epoch:status", { contract });
    expect(status).to.contain("epoch 1 (Current, current): n=5 k=3 t=1");
    expect(status).to.contain(`5. ${nodes[4]!.address}  api 127.0.0.1:7005  p2p /ip4/127.0.0.1/tcp/9005`);
  });

  it("starts and aborts a transition to a full successor", async function () {
    const next = Array.from({ length: 1 }, () => Wallet.createRandom());
    await runTask("epoch:create", { n: 1, contract });
    await runTask("epoch:whitelist", { epoch: 2n, nodes: next[0]!.address, contract });
    await runTask("node:fund", { nodes: next[0]!.address, ether: "1" });
    const file = path.join(dir, "next.key");
    await writeFile(file, next[0]!.privateKey);
    await runTask("node:register", {
      epoch: 2n,
      keyFile: file,
      api: "127.0.0.1:7100",
      p2p: "/ip4/127.0.0.1/tcp/9100",
      contract,
    });
    expect(await runTask("epoch:transition", { epoch: 2n, contract })).to.equal("started the transition to epoch 2");
    const nodeList = connectNodeList(contract, (await ethers.getSigners())[0]!);
    expect((await nodeList.getEpochStatus(1)).state).to.equal(BigInt(EpochState.Transitioning));
    expect(await runTask("epoch:status", { epoch: 1n, contract })).to.contain("handover to next: Running");
    expect(await runTask("epoch:transition", { epoch: 2n, abort: true, contract })).to.equal(
      "aborted the transition to epoch 2",
    );
    expect((await nodeList.getEpochStatus(1)).state).to.equal(BigInt(EpochState.Current));
  });

  const keyFileHolding = async (name: string, content: string) => {
    const file = path.join(dir, name);
    await writeFile(file, content);
    return file;
  };
  const endpoints = { api: "h:1", p2p: "/ip4/1.1.1.1/tcp/1" };
  type Args = Record<string, unknown>;
  const refusals: [string, string, () => Args | Promise<Args>, RegExp][] = [
    [
      "a refused call, naming the custom error",
      "epoch:activate",
      () => ({ epoch: 2n }),
      /activateEpoch was refused: NotGenesis\(epoch=2, prevEpoch=1\)/,
    ],
    ["a missing epoch", "epoch:activate", () => ({}), /--epoch is required/],
    [
      "invalid thresholds, before sending anything",
      "epoch:create",
      () => ({ n: 4, t: 1 }),
      /invalid thresholds: n = 4 < 4t \+ 1 = 5/,
    ],
    ["a bad address", "epoch:whitelist", () => ({ epoch: 2n, nodes: "0x1234" }), /"0x1234" is not an address/],
    [
      "an unfunded node key",
      "node:register",
      async () => ({
        epoch: 2n,
        keyFile: await keyFileHolding("unfunded.key", Wallet.createRandom().privateKey),
        ...endpoints,
      }),
      /has no ether/,
    ],
    [
      "a key file without a key",
      "node:register",
      async () => ({ epoch: 2n, keyFile: await keyFileHolding("garbage.key", "not a key"), ...endpoints }),
      /does not hold a 32-byte hex private key/,
    ],
  ];
  for (const [what, name, prepare, message] of refusals) {
    it(`${name} reports ${what} as an operator error`, async function () {
      const error = await runTask(name, { ...(await prepare()), contract }).then(
        () => undefined,
        (e: unknown) => e as Error & { pluginId?: string },
      );
      expect(error, "the task did not fail").to.not.equal(undefined);
      expect(error!.pluginId).to.equal("torus-network");
      expect(error!.message).to.match(message);
    });
  }
});
