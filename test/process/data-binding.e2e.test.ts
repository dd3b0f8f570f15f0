import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";
import { JsonRpcProvider, Wallet } from "ethers";

import { DEPLOYMENT_BINDING_FILE } from "../../node/store/deployment-binding.ts";
import { freePort, startChain, type ChainProcess } from "../../scripts/lib/chain-process.ts";
import { deployNodeList } from "../../scripts/lib/operations.ts";
import { DEV_VERIFIER_CONFIG } from "../support/node-config.ts";
import { runTorusNode } from "../support/torus-node-run.ts";

// One real chain with two NodeList deployments: the node is pointed at the first one's data with the second one's
// address, or with another key. Its key is whitelisted nowhere, so a node that got past the binding stops there.
describe("a node refuses a data directory of another deployment or another node key (torus-node processes)", function () {
  this.timeout(180_000);
  let dir: string;
  let chain: ChainProcess;
  let provider: JsonRpcProvider;
  let config: string;
  let dataDir: string;
  let first: string;
  let firstBlock: number;
  let second: string;
  const key = Wallet.createRandom();

  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "data-binding-"));
    chain = await startChain({ port: await freePort(), logFile: path.join(dir, "chain.log") });
    provider = new JsonRpcProvider(chain.url);
    const governance = await provider.getSigner(0);
    const deployed = await deployNodeList(governance);
    first = await deployed.getAddress();
    firstBlock = (await deployed.deploymentTransaction()!.wait())!.blockNumber;
    second = await (await deployNodeList(governance)).getAddress();
    dataDir = path.join(dir, "data");
    config = path.join(dir, "node.json");
    const node = {
      nodeKey: key.privateKey,
      chain: { rpcUrl: chain.url, nodeList: first, pollingIntervalMs: 100 },
      api: { port: await freePort() },
      p2p: { listen: `/ip4/127.0.0.1/tcp/${await freePort()}` },
      dataDir,
      verifiers: [DEV_VERIFIER_CONFIG],
    };
    await writeFile(config, JSON.stringify(node));
  });

  after(async function () {
    provider?.destroy();
    await chain?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("binds a new data directory to the deployment it starts on, naming the key's address only", async function () {
    const run = await runTorusNode(["start", "--config", config]);
    expect(run.code, run.output).to.equal(1);
    expect(run.output).to.contain(`node key ${key.address} is not whitelisted in any epoch of ${first}`);
    const binding = JSON.parse(await readFile(path.join(dataDir, DEPLOYMENT_BINDING_FILE), "utf8")) as Record<
      string,
      unknown
    >;
    expect(binding).to.deep.equal({
      chainId: "31337",
      nodeList: first,
      deploymentBlock: firstBlock,
      deploymentBlockHash: (await provider.getBlock(firstBlock))!.hash,
      nodeAddress: key.address,
    });
    expect(JSON.stringify(binding)).to.not.contain(key.privateKey.slice(2));
  });

  it("refuses, before reading or writing anything else there, the data of another NodeList deployment", async function () {
    // What the first deployment's node left, e.g. a block store: it must stay as it is.
    await mkdir(path.join(dataDir, "epoch-1"), { recursive: true });
    await writeFile(path.join(dataDir, "epoch-1", "blocks.log"), "the first deployment's blocks");
    const run = await runTorusNode(["start", "--config", config], { TORUS_NODE_LIST: second });
    expect(run.code, run.output).to.equal(1);
    expect(run.output).to.contain(`torus-node: dataDir ${dataDir} belongs to another deployment`);
    expect(run.output).to.contain(`NodeList address ${first} there, ${second} here`);
    expect(run.output).to.contain("deployment block hash");
    expect(run.output).to.contain(`mv ${dataDir} ${dataDir}.old`);
    expect(run.output).to.not.contain("is not whitelisted");
    expect((await readdir(dataDir)).sort()).to.deep.equal([DEPLOYMENT_BINDING_FILE, "epoch-1"]);
    expect(await readdir(path.join(dataDir, "epoch-1"))).to.deep.equal(["blocks.log"]);
  });

  it("refuses the data of another node key of the same deployment", async function () {
    const other = Wallet.createRandom();
    const run = await runTorusNode(["start", "--config", config], { TORUS_NODE_KEY: other.privateKey });
    expect(run.code, run.output).to.equal(1);
    expect(run.output).to.contain(
      `torus-node: dataDir ${dataDir} belongs to another node key of this deployment (node ${key.address} there, ${other.address} here)`,
    );
  });
});
