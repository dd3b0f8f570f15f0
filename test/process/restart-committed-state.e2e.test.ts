import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import { JsonRpcClient } from "../../client/jrpc.ts";
import { ChainStore, type ChainHead } from "../../node/store/chain-store.ts";
import { SqliteStore } from "../../node/store/sqlite-store.ts";
import { freePort } from "../../scripts/lib/chain-process.ts";
import { Devnet, VERIFIER_NAME, type DevnetNode } from "../../scripts/lib/devnet-processes.ts";

/** The committed head in a stopped node's chain store. */
async function headOf(node: DevnetNode): Promise<ChainHead> {
  const kv = await SqliteStore.open(path.join(node.dataDir, "epoch-1", "chain.sqlite"));
  try {
    return await (await ChainStore.open(kv)).head();
  } finally {
    await kv.close();
  }
}

describe("a node restarts from its committed state, replaying no block", function () {
  this.timeout(400_000);
  let dir: string;
  let devnet: Devnet;
  const rpc = new JsonRpcClient();
  let users = 0;

  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "restart-"));
    devnet = await Devnet.start({
      dir,
      n: 5,
      chainPort: await freePort(),
      keyBuffer: 200,
      // KeyAssign without the dev signer, so that the test can drive assignments (one block each) directly.
      configOverride: (_, config) => ({
        ...config,
        api: { ...(config.api as object), keyAssignMode: "open", keyAssignSigner: undefined },
      }),
    });
    await devnet.waitForKeys(150, 240_000);
  });

  after(async function () {
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const running = () => devnet.nodes.filter((n) => n.process?.exitCode === null && n.process.signalCode === null);

  /** Assigns `count` new users one after the other through `node`: each waits for its own block. */
  async function assignUsers(node: DevnetNode, count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const verifierId = `user-${users++}@example.com`;
      const outcome = await rpc.call(`${node.apiUrl}/jrpc`, "KeyAssign", {
        verifier: VERIFIER_NAME,
        verifier_id: verifierId,
      });
      expect(outcome.result, JSON.stringify(outcome)).to.not.equal(undefined);
      ids.push(verifierId);
    }
    return ids;
  }

  async function keyIndexOn(node: DevnetNode, verifierId: string): Promise<string | undefined> {
    const outcome = await rpc.call(`${node.apiUrl}/jrpc`, "VerifierLookupRequest", {
      verifier: VERIFIER_NAME,
      verifier_id: verifierId,
    });
    return (outcome.result as { keys?: { key_index: string }[] } | undefined)?.keys?.[0]?.key_index;
  }

  it("resumes at a block whose effects it committed just before it was killed, and agrees with its peers", async function () {
    const victim = devnet.nodes[1]!;
    const peers = devnet.nodes.filter((n) => n !== victim);
    await devnet.kill(victim, "SIGTERM");
    const stoppedAt = (await headOf(victim)).height;
    // Killed right after committing the block at this height, before its core, its drivers or a client learned of it.
    const crashAt = stoppedAt + 4;
    devnet.spawn(victim, { TORUS_NODE_FAULT: `kill-after-commit:${crashAt}` });
    const assigned = await assignUsers(peers[0]!, 8);
    await victim.exited;
    expect(victim.process!.signalCode).to.equal("SIGKILL");
    expect((await headOf(victim)).height).to.equal(crashAt);

    devnet.spawn(victim);
    await devnet.waitForAgreement(devnet.nodes);
    for (const verifierId of assigned)
      expect(await keyIndexOn(victim, verifierId), verifierId).to.equal(await keyIndexOn(peers[0]!, verifierId));
  });

  it("catches up from a store 100 heights behind its peers, and agrees with them", async function () {
    const victim = devnet.nodes[3]!;
    const peers = devnet.nodes.filter((n) => n !== victim);
    await devnet.kill(victim, "SIGKILL");
    const behind = (await headOf(victim)).height;
    const assigned = await assignUsers(peers[0]!, 110);
    const peerHeight = (await devnet.status(peers[0]!))!.bft.height - 1;
    expect(peerHeight - behind, `stopped at ${behind}, peers at ${peerHeight}`).to.be.at.least(100);

    devnet.spawn(victim);
    await devnet.waitForAgreement(running());
    for (const verifierId of assigned)
      expect(await keyIndexOn(victim, verifierId), verifierId).to.equal(await keyIndexOn(peers[0]!, verifierId));
  });
});
