import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";
import { Wallet } from "ethers";

import { NodeKeyError, type NodeKeyErrorCode } from "../../node/chain/node-key-error.ts";
import { encryptNodeKey } from "../../node/chain/node-keystore.ts";
import { ConfigError, loadConfig, loadConfigWithoutKey } from "../../node/config.ts";
import { KeystoreUsageError, runKeystoreCommand } from "../../node/keystore-command.ts";
import { KEYLESS_NODE_CONFIG } from "../support/node-config.ts";

// Light scrypt, as the devnet's keystores: these tests unlock many of them.
const SCRYPT_N = 1024;

describe("node key: plain key files and encrypted keystores", function () {
  this.timeout(30_000);
  let dir: string;
  const wallet = Wallet.createRandom();

  beforeEach(async () => (dir = await mkdtemp(path.join(tmpdir(), "node-key-"))));
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  async function secret(name: string, content: string, mode = 0o600): Promise<string> {
    const file = path.join(dir, name);
    await writeFile(file, content, { mode });
    await chmod(file, mode);
    return file;
  }

  async function load(config: Record<string, unknown>, env: Record<string, string> = {}) {
    await writeFile(path.join(dir, "node.json"), JSON.stringify({ ...KEYLESS_NODE_CONFIG, ...config }));
    return loadConfig(path.join(dir, "node.json"), env);
  }

  async function refusal(
    config: Record<string, unknown>,
    env: Record<string, string> = {},
  ): Promise<{ code: NodeKeyErrorCode; message: string }> {
    const error = await load(config, env).then(
      () => expect.fail("the key was loaded"),
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(NodeKeyError);
    expect((error as Error).message).to.not.contain(wallet.privateKey.slice(2));
    return error as NodeKeyError;
  }

  const keystore = async (password = "correct horse") =>
    secret("node-key.json", await encryptNodeKey(wallet.privateKey, password, { scryptN: SCRYPT_N }));

  it("unlocks a keystore with the password from its password file (first line) or the environment", async function () {
    await keystore();
    await secret("node-key.password", "correct horse\n");
    const fromFile = await load({ nodeKeystore: "node-key.json", nodeKeyPasswordFile: "node-key.password" });
    expect(fromFile.nodeKey).to.equal(wallet.privateKey);
    const fromEnv = await load({ nodeKeystore: "node-key.json" }, { TORUS_NODE_KEY_PASSWORD: "correct horse" });
    expect(fromEnv.nodeKey).to.equal(wallet.privateKey);
    const fromEnvFile = await load(
      {},
      { TORUS_NODE_KEYSTORE: "node-key.json", TORUS_NODE_KEY_PASSWORD_FILE: "node-key.password" },
    );
    expect(fromEnvFile.nodeKey).to.equal(wallet.privateKey);
  });

  it("refuses a wrong password, naming the keystore and where the password came from", async function () {
    const file = await keystore();
    await secret("node-key.password", "correct horse\n");
    const error = await refusal(
      { nodeKeystore: "node-key.json", nodeKeyPasswordFile: "node-key.password" },
      { TORUS_NODE_KEY_PASSWORD: "wrong horse" },
    );
    expect(error.code).to.equal("WRONG_PASSWORD");
    expect(error.message).to.equal(
      `wrong password for the node keystore ${file}: the password from TORUS_NODE_KEY_PASSWORD does not open it`,
    );
  });

  it("refuses a keystore without a password, and an empty password", async function () {
    const file = await keystore();
    const missing = await refusal({ nodeKeystore: "node-key.json" });
    expect(missing.code).to.equal("NO_PASSWORD");
    expect(missing.message).to.contain(`the node keystore ${file} is encrypted and no password was given`);
    await secret("empty.password", "\n");
    const empty = await refusal({ nodeKeystore: "node-key.json", nodeKeyPasswordFile: "empty.password" });
    expect(empty.code).to.equal("NO_PASSWORD");
    expect(empty.message).to.match(/empty\.password for the node keystore .* is empty/);
  });

  it("refuses a malformed keystore: not JSON, not a version-3 keystore, damaged", async function () {
    const env = { TORUS_NODE_KEY_PASSWORD: "correct horse" };
    const valid = JSON.parse(await readFile(await keystore(), "utf8")) as { Crypto: Record<string, unknown> };
    for (const [content, message] of [
      ["{ not json", /is not JSON/],
      [JSON.stringify({ version: 1, address: wallet.address }), /is not an encrypted JSON keystore \("version": 3/],
      [JSON.stringify({ ...valid, Crypto: { ...valid.Crypto, kdf: "argon2" } }), /is damaged: unsupported key/],
    ] as const) {
      await secret("node-key.json", content);
      const error = await refusal({ nodeKeystore: "node-key.json" }, env);
      expect(error.code, content).to.equal("BAD_KEYSTORE");
      expect(error.message, content).to.match(message);
    }
  });

  it("refuses key, keystore and password files that group or others may read or write, as ssh does", async function () {
    await keystore();
    await secret("node-key.password", "correct horse\n", 0o644);
    await secret("node.key", wallet.privateKey + "\n", 0o640);
    const password = await refusal({ nodeKeystore: "node-key.json", nodeKeyPasswordFile: "node-key.password" });
    expect(password.code).to.equal("OPEN_PERMISSIONS");
    expect(password.message).to.contain("is open to other users (mode 0644)");
    expect(password.message).to.contain(`chmod 600 ${path.join(dir, "node-key.password")}`);
    const plain = await refusal({ nodeKeyFile: "node.key" });
    expect(plain.code).to.equal("OPEN_PERMISSIONS");
    expect(plain.message).to.contain("(mode 0640)");
    await chmod(path.join(dir, "node-key.json"), 0o602);
    const store = await refusal({ nodeKeystore: "node-key.json" }, { TORUS_NODE_KEY_PASSWORD: "correct horse" });
    expect(store.message).to.contain(`the node keystore (config.nodeKeystore) ${path.join(dir, "node-key.json")}`);
    expect(store.code).to.equal("OPEN_PERMISSIONS");
  });

  it("keeps reading a plain key file (0600), and refuses one that holds no key or a keystore, without echoing it", async function () {
    await secret("node.key", wallet.privateKey.slice(2) + "\n");
    expect((await load({ nodeKeyFile: "node.key" })).nodeKey).to.equal(wallet.privateKey);
    await secret("node.key", wallet.privateKey.slice(0, 60) + "zz\n");
    const garbage = await refusal({ nodeKeyFile: "node.key" });
    expect(garbage.code).to.equal("NOT_A_KEY");
    expect(garbage.message).to.not.contain(wallet.privateKey.slice(2, 58));
    await keystore();
    const misnamed = await refusal({ nodeKeyFile: "node-key.json" });
    expect(misnamed.message).to.contain("is an encrypted keystore: name it in nodeKeystore");
  });

  it("leaves the key locked for `torus-node status`, which needs the API's address only", async function () {
    await keystore();
    await writeFile(
      path.join(dir, "node.json"),
      JSON.stringify({ ...KEYLESS_NODE_CONFIG, nodeKeystore: "node-key.json" }),
    );
    const config = await loadConfigWithoutKey(path.join(dir, "node.json"), { TORUS_API_PORT: "7100" });
    expect(config.api.port).to.equal(7100);
    expect(config).to.not.have.property("nodeKey");
  });

  it("says where to put the key when the configuration names none", async function () {
    const error = await load({}).catch((e: unknown) => e);
    expect(error)
      .to.be.instanceOf(ConfigError)
      .with.property("message")
      .that.contains("no node key: name its keystore");
  });

  it("refuses a configuration or an environment that names the node key twice", async function () {
    await keystore();
    await secret("node.key", wallet.privateKey + "\n");
    const config = await refusal({ nodeKeyFile: "node.key", nodeKeystore: "node-key.json" });
    expect([config.code, config.message]).to.deep.equal([
      "CONFLICTING_SOURCES",
      "the configuration names the node key 2 times (config.nodeKeyFile, config.nodeKeystore): keep one",
    ]);
    const env = await refusal({}, { TORUS_NODE_KEY: wallet.privateKey, TORUS_NODE_KEYSTORE: "node-key.json" });
    expect(env.message).to.contain("TORUS_NODE_KEY, TORUS_NODE_KEYSTORE");
    // The environment overrides the configuration's one place, as it overrides any field.
    const other = Wallet.createRandom();
    expect((await load({ nodeKeystore: "node-key.json" }, { TORUS_NODE_KEY: other.privateKey })).nodeKey).to.equal(
      other.privateKey,
    );
  });
});

describe("torus-node keystore import", function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(path.join(tmpdir(), "keystore-import-"))));
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it("writes a 0600 keystore at ethers' default scrypt cost that the node unlocks, and never overwrites one", async function () {
    const wallet = Wallet.createRandom();
    const [keyFile, out, passwordFile] = [
      path.join(dir, "node.key"),
      path.join(dir, "node-key.json"),
      path.join(dir, "pw"),
    ];
    await writeFile(keyFile, wallet.privateKey + "\n", { mode: 0o600 });
    await writeFile(passwordFile, "s3cret\n", { mode: 0o600 });
    const args = ["import", "--key-file", keyFile, "--out", out, "--password-file", passwordFile];
    expect(await runKeystoreCommand(args, {})).to.contain(`wrote ${out}, the keystore of node key ${wallet.address}`);
    expect((await stat(out)).mode & 0o777).to.equal(0o600);
    const json = JSON.parse(await readFile(out, "utf8")) as { Crypto: { kdfparams: { n: number } } };
    expect(json.Crypto.kdfparams.n).to.equal(131072);
    expect((await Wallet.fromEncryptedJson(await readFile(out, "utf8"), "s3cret")).address).to.equal(wallet.address);

    const again = await runKeystoreCommand(args, {}).catch((e: unknown) => e);
    expect(again).to.be.instanceOf(NodeKeyError).with.property("message").that.contains("is never overwritten");
  });

  it("needs a password from a file or TORUS_NODE_KEY_PASSWORD, never from the command line", async function () {
    const keyFile = path.join(dir, "node.key");
    await writeFile(keyFile, Wallet.createRandom().privateKey, { mode: 0o600 });
    const args = ["import", "--key-file", keyFile, "--out", path.join(dir, "out.json")];
    const error = await runKeystoreCommand(args, {}).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(KeystoreUsageError).with.property("message").that.contains("a password is needed");
    const flag = await runKeystoreCommand([...args, "--password", "x"], {}).catch((e: unknown) => e);
    expect(flag).to.be.instanceOf(KeystoreUsageError).with.property("message").that.contains("--password");
  });
});
