import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import { freePort } from "../../scripts/lib/chain-process.ts";
import { Devnet } from "../../scripts/lib/devnet-processes.ts";
import { entriesNotPrivate, entriesUnder } from "../support/file-modes.ts";
import type { ReceiverRecord } from "../../node/pss/receiver-records.ts";
import { movedKeys, readKeyStore } from "../support/key-rows.ts";
import { readRecords, storeBytes } from "../support/record-rows.ts";

/** How long the nodes keep a finished batch's or chunk's records for peers that lag (short, so that the test sees). */
const RESEND_WINDOW_SECONDS = 3;

// Shares, dealing seeds, records and logs: nothing a node process writes may be readable by another user of the
// machine. The node processes are started under umask 0022 (they inherit it), under which a file created without a
// mode is 0644 and a directory 0755, so that the test sees what the node itself sets.
describe("a node process creates every file 0600 and every directory 0700 (one-node epochs, a handover)", function () {
  this.timeout(240_000);
  let dir: string;
  let devnet: Devnet;
  let umask: number;

  before(async function () {
    umask = process.umask(0o022);
    dir = await mkdtemp(path.join(tmpdir(), "file-modes-"));
    devnet = await Devnet.start({
      dir,
      n: 1,
      chainPort: await freePort(),
      keyBuffer: 8,
      configOverride: (_slot, config) => ({
        ...config,
        keygen: { ...(config.keygen as object), resendWindowSeconds: RESEND_WINDOW_SECONDS },
      }),
    });
  });

  after(async function () {
    await devnet?.stop();
    process.umask(umask);
    await rm(dir, { recursive: true, force: true });
  });

  it("holds its key store, record stores and bindings readable by its owner only", async function () {
    await devnet.waitForKeys(8, 120_000);
    const node = path.dirname(devnet.nodes[0]!.configFile);
    expect(await entriesUnder(node)).to.include.members([
      "node-key.json",
      "node-key.password",
      "node.json",
      "node.log",
      path.join("data", "deployment-binding.json"),
      path.join("data", "epoch-1", "epoch.json"),
      path.join("data", "epoch-1", "auth.sqlite"),
      path.join("data", "epoch-1", "chain.sqlite"),
      path.join("data", "epoch-1", "keygen.sqlite"),
      path.join("data", "epoch-1", "keys.sqlite"),
    ]);
    expect(readKeyStore(path.join(node, "data", "epoch-1", "keys.sqlite")).counts.batches).to.be.greaterThan(0);
    expect(await entriesNotPrivate(node)).to.deep.equal([]);
  });

  it("after a handover, holds the successor's receiver records and moved keys and the old epoch's data likewise", async function () {
    const { nodes } = await devnet.transition(1, 180_000);
    const successor = path.dirname(nodes[0]!.configFile);
    expect(await entriesUnder(successor)).to.include.members([
      path.join("data", "epoch-2", "pss.sqlite"),
      path.join("data", "epoch-2", "keys.sqlite"),
    ]);
    expect(readKeyStore(path.join(successor, "data", "epoch-2", "keys.sqlite")).counts.movedKeys).to.be.greaterThan(0);
    for (const node of devnet.nodes) {
      const nodeDir = path.dirname(node.configFile);
      expect(await entriesNotPrivate(nodeDir), nodeDir).to.deep.equal([]);
    }
  });

  it("erases the successor's handover records to one `completed` record after the resend window, and restarts from it", async function () {
    const successor = devnet.nodes.find((node) => node.epoch === 2n)!;
    const dir = path.join(successor.dataDir, "epoch-2");
    const pss = path.join(dir, "pss.sqlite");
    const completed = () => JSON.stringify(readRecords<ReceiverRecord>(pss)) === '[{"kind":"completed"}]';
    for (const until = Date.now() + 60_000; !completed() && Date.now() < until;)
      await new Promise((r) => setTimeout(r, 250));
    expect(readRecords<ReceiverRecord>(pss)).to.deep.equal([{ kind: "completed" }]);
    // The moved shares are in the key store, and nowhere in the handover records' files any more.
    const moved = movedKeys(path.join(dir, "keys.sqlite"));
    expect(moved.size).to.be.greaterThan(0);
    const bytes = (await storeBytes(pss)).toString("latin1");
    expect([...moved.values()].filter((k) => bytes.includes(k.share))).to.deep.equal([]);

    // Killed and restarted, it restores nothing of the handover, asks for nothing, and serves the moved keys.
    await devnet.kill(successor, "SIGKILL");
    devnet.spawn(successor);
    await devnet.waitUntilServing([successor]);
    expect(readRecords<ReceiverRecord>(pss)).to.deep.equal([{ kind: "completed" }]);
    expect(movedKeys(path.join(dir, "keys.sqlite"))).to.deep.equal(moved);
    expect(await entriesNotPrivate(path.dirname(successor.configFile))).to.deep.equal([]);
  });
});
