import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import FetchNodeDetailsModule, { type ETHEREUM_NETWORK_TYPE } from "@toruslabs/fetch-node-details";
import { expect } from "chai";
import { JsonRpcProvider } from "ethers";

import { freePort, startChain, type ChainProcess } from "../../scripts/lib/chain-process.ts";
import { bootstrapGenesis, type Genesis } from "../../scripts/lib/devnet.ts";
import { publicKeyCoordinates } from "../../node/chain/node-key.ts";

// The package is CommonJS; its class is the `default` member of module.exports.
const FetchNodeDetails = FetchNodeDetailsModule.default;

describe("compatibility: @toruslabs/fetch-node-details@4.0.2 reads the NodeList over JSON-RPC", function () {
  this.timeout(120_000);
  let dir: string;
  let chain: ChainProcess;
  let provider: JsonRpcProvider;
  let genesis: Genesis;

  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "fnd-"));
    chain = await startChain({ port: await freePort(), logFile: path.join(dir, "chain.log") });
    provider = new JsonRpcProvider(chain.url, undefined, { pollingInterval: 100 });
    genesis = await bootstrapGenesis({ provider, governance: await provider.getSigner(0), n: 5 });
  });

  after(async function () {
    provider?.destroy();
    await chain?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("returns the current epoch's five nodes with their keys, 1-based indexes and endpoints", async function () {
    // 4.x accepts a JSON-RPC URL as `network` (its type only names the public networks).
    const network = chain.url as ETHEREUM_NETWORK_TYPE;
    const fnd = new FetchNodeDetails({ network, proxyAddress: await genesis.nodeList.getAddress() });
    const details = await fnd.getNodeDetails();
    // 4.0.2 falls back to its built-in mainnet list on any error; `updated` says the contract was read.
    expect(details.updated, "fetch-node-details fell back to its built-in list").to.equal(true);
    expect(String(details.currentEpoch)).to.equal(genesis.epoch.toString());
    expect(details.torusIndexes).to.deep.equal([1, 2, 3, 4, 5]);
    expect(details.torusNodePub).to.deep.equal(
      genesis.nodes.map(({ key }) => {
        const { pubKx, pubKy } = publicKeyCoordinates(key);
        return { X: pubKx.toString(16), Y: pubKy.toString(16) };
      }),
    );
    // 4.0.2 keeps only the host of declaredIp and forces https (clients of a local network rebuild the URL).
    expect(details.torusNodeEndpoints).to.deep.equal(genesis.nodes.map(() => "https://127.0.0.1/jrpc"));
  });
});
