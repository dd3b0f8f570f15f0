import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import { DataBindingError } from "../../node/store/binding-error.ts";
import { DEPLOYMENT_BINDING_FILE, bindDataDir } from "../../node/store/deployment-binding.ts";
import { refusedWith } from "../support/refusal.ts";
import { TEST_DEPLOYMENT } from "../support/test-deployment.ts";

const identity = TEST_DEPLOYMENT;

const refusal = (action: Promise<unknown>) => refusedWith(action, DataBindingError);

describe("data directory bound to its deployment and node key", function () {
  let root: string;
  let dataDir: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), "binding-"));
    dataDir = path.join(root, "data");
  });
  afterEach(async () => rm(root, { recursive: true, force: true }));

  it("creates a missing directory (0700) with its binding (0600), which names the key's address, not the key", async function () {
    expect(await bindDataDir(dataDir, identity)).to.equal("created");
    expect((await stat(dataDir)).mode & 0o777).to.equal(0o700);
    const file = path.join(dataDir, DEPLOYMENT_BINDING_FILE);
    expect((await stat(file)).mode & 0o777).to.equal(0o600);
    expect(JSON.parse(await readFile(file, "utf8"))).to.deep.equal(identity);
    expect(await readdir(dataDir), "a temporary file was left").to.deep.equal([DEPLOYMENT_BINDING_FILE]);
  });

  it("binds an existing empty directory, and accepts it again at the next start (addresses in any case)", async function () {
    await mkdir(dataDir);
    expect(await bindDataDir(dataDir, identity)).to.equal("created");
    await writeFile(path.join(dataDir, "blocks.log"), "x");
    expect(await bindDataDir(dataDir, identity)).to.equal("matches");
    const lowercase = { ...identity, nodeList: identity.nodeList.toLowerCase() };
    expect(await bindDataDir(dataDir, lowercase)).to.equal("matches");
  });

  it("refuses another deployment's data on a chain that repeats chain id, address and block number, naming the hash", async function () {
    await bindDataDir(dataDir, identity);
    const other = { ...identity, deploymentBlockHash: "0x" + "cd".repeat(32) };
    const error = await refusal(bindDataDir(dataDir, other));
    expect(error.code).to.equal("OTHER_DEPLOYMENT");
    expect(error.message).to.contain(`dataDir ${dataDir} belongs to another deployment`);
    expect(error.message).to.contain(
      `deployment block hash ${identity.deploymentBlockHash} there, ${other.deploymentBlockHash} here`,
    );
    expect(error.message).to.not.contain("chain id");
    expect(error.message).to.contain(`mv ${dataDir} ${dataDir}.old`);
    expect(error.message).to.contain("TORUS_DATA_DIR");
  });

  it("names every field that differs: chain id, NodeList address, deployment block", async function () {
    await bindDataDir(dataDir, identity);
    const other = { ...identity, chainId: "1", nodeList: "0x" + "1".repeat(40), deploymentBlock: 7 };
    const error = await refusal(bindDataDir(dataDir, other));
    expect(error.message).to.contain("chain id 31337 there, 1 here");
    expect(error.message).to.contain(`NodeList address ${identity.nodeList} there, ${other.nodeList} here`);
    expect(error.message).to.contain("NodeList deployment block 1 there, 7 here");
  });

  it("refuses the data of another node key of the same deployment", async function () {
    await bindDataDir(dataDir, identity);
    const other = { ...identity, nodeAddress: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC" };
    const error = await refusal(bindDataDir(dataDir, other));
    expect(error.code).to.equal("OTHER_NODE_KEY");
    expect(error.message).to.contain(
      `belongs to another node key of this deployment (node ${identity.nodeAddress} there, ${other.nodeAddress} here)`,
    );
  });

  it("refuses a directory with files but no binding (an older version's data), and writes nothing into it", async function () {
    await mkdir(path.join(dataDir, "epoch-1"), { recursive: true });
    await writeFile(path.join(dataDir, "epoch-1", "blocks.log"), "old");
    const error = await refusal(bindDataDir(dataDir, identity));
    expect(error.code).to.equal("UNBOUND");
    expect(error.message).to.contain(`holds files but no ${DEPLOYMENT_BINDING_FILE}`);
    expect(await readdir(dataDir)).to.deep.equal(["epoch-1"]);
  });

  it("refuses a binding file that is not JSON or lacks fields, and a dataDir that is a file", async function () {
    await mkdir(dataDir);
    await writeFile(path.join(dataDir, DEPLOYMENT_BINDING_FILE), "{ not json");
    expect((await refusal(bindDataDir(dataDir, identity))).code).to.equal("BAD_BINDING");
    await writeFile(path.join(dataDir, DEPLOYMENT_BINDING_FILE), JSON.stringify({ chainId: "31337" }));
    const error = await refusal(bindDataDir(dataDir, identity));
    expect(error.message).to.contain("lacks fields of a binding");
    const file = path.join(root, "file");
    await writeFile(file, "");
    expect((await refusal(bindDataDir(file, identity))).message).to.contain("is not a directory");
  });
});
