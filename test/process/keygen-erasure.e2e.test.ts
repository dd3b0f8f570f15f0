import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import { getOrAssignKey, login, networkFromDescription } from "../../client/index.ts";
import { mod } from "../../node/crypto/field.ts";
import { lagrangeCoefficients } from "../../node/crypto/lagrange.ts";
import { G } from "../../node/crypto/point.ts";
import { pointHex } from "../../node/dkg/wire.ts";
import type { KeygenRecord } from "../../node/dkg/keygen.ts";
import type { GeneratedKey } from "../../node/dkg/types.ts";
import { freePort } from "../../scripts/lib/chain-process.ts";
import { Devnet, VERIFIER_NAME, type DevnetNode } from "../../scripts/lib/devnet-processes.ts";
import { batchKeys } from "../support/key-rows.ts";
import { readRecords, storeBytes } from "../support/record-rows.ts";

const RESEND_WINDOW_SECONDS = 3;

/**
 * A node's key-generation records, and the bytes of their store's files (database and WAL) as they are now (read
 * only: the node keeps appending).
 */
async function keygenLog(node: DevnetNode): Promise<{ bytes: Buffer; records: KeygenRecord[] }> {
  const file = path.join(node.dataDir, "epoch-1", "keygen.sqlite");
  return { records: readRecords<KeygenRecord>(file), bytes: await storeBytes(file) };
}

/** Batch 0's secret scalars in these records: the dealing's coefficients, the rows and columns received, the shares. */
function batchZeroSecrets(records: KeygenRecord[]): string[] {
  return records.flatMap((record) => {
    if (record.kind === "dealing" && record.batch === 0) return [record.f, record.fb].flat(3);
    if (record.kind === "sharing" && record.batch === 0)
      return [record.own.rows, record.own.rowBlindings ?? []].flat(2);
    if (record.kind === "keys" && record.batch === 0) return record.keys.map((k) => k.share);
    return [];
  });
}

const batchOf = (record: KeygenRecord) => (record.kind === "decision" ? record.decision.batch : record.batch);

/** Whether the log says batch 0 was erased and holds no record of it. */
const erasedBatchZero = (records: KeygenRecord[]) =>
  records.some((r) => r.kind === "erased") && !records.some((r) => r.kind !== "erased" && batchOf(r) === 0);

function batchZeroKeys(node: DevnetNode): GeneratedKey[] {
  const keys = batchKeys(path.join(node.dataDir, "epoch-1", "keys.sqlite"), 0);
  if (!keys) throw new Error(`node ${node.slot}'s key store lacks batch 0`);
  return keys;
}

describe("key generation erases a published batch's records after the resend window (node processes)", function () {
  this.timeout(300_000);
  let dir: string;
  let devnet: Devnet;

  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "keygen-erasure-"));
    devnet = await Devnet.start({
      dir,
      n: 5,
      chainPort: await freePort(),
      keyBuffer: 24,
      configOverride: (_slot, config) => ({
        ...config,
        keygen: { ...(config.keygen as object), resendWindowSeconds: RESEND_WINDOW_SECONDS },
      }),
    });
  });

  after(async function () {
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps none of batch 0's polynomial coefficients, rows, columns or shares in keygen.sqlite's files, and serves its keys after a restart", async function () {
    const node = devnet.nodes[0]!;
    // Batch 0's secrets as the store holds them until the erasure: read every 100 ms from the node's first dealing on.
    const seen = new Set<string>();
    let erasedAt: number | undefined;
    for (const until = Date.now() + 120_000; erasedAt === undefined && Date.now() < until;) {
      const { records } = await keygenLog(node).catch(() => ({ records: [] as KeygenRecord[] }));
      for (const secret of batchZeroSecrets(records)) seen.add(secret);
      if (erasedBatchZero(records)) erasedAt = Date.now();
      else await new Promise((r) => setTimeout(r, 100));
    }
    expect(erasedAt, "batch 0's records were erased").to.not.equal(undefined);
    // The dealing (2 × batchSize polynomials of k × k coefficients), the rows and columns: all were seen first.
    expect(seen.size).to.be.greaterThan(2 * 4 * 9);

    const { bytes, records } = await keygenLog(node);
    const text = bytes.toString("latin1");
    expect(
      [...seen].filter((secret) => text.includes(secret)),
      "batch 0 scalars in the store's files",
    ).to.deep.equal([]);
    expect(erasedBatchZero(records)).to.equal(true);

    // Every node erased it, and holds its shares of the batch in its key store, which k of them turn into each key.
    const held = await Promise.all(
      devnet.nodes.map(async (n) => {
        for (const until = Date.now() + 30_000; Date.now() < until; await new Promise((r) => setTimeout(r, 250)))
          if (erasedBatchZero((await keygenLog(n)).records)) break;
        expect(erasedBatchZero((await keygenLog(n)).records), `node ${n.slot}`).to.equal(true);
        return { index: (await devnet.status(n))!.index, keys: batchZeroKeys(n) };
      }),
    );
    for (let key = 0; key < held[0]!.keys.length; key++) {
      const subset = held.slice(0, 3);
      const lambdas = lagrangeCoefficients(subset.map((h) => BigInt(h.index)));
      const secret = subset.reduce((acc, h, j) => mod(acc + lambdas[j]! * BigInt("0x" + h.keys[key]!.share)), 0n);
      expect(pointHex(G.multiply(secret)), `key ${key}`).to.equal(held[0]!.keys[key]!.publicKey);
    }

    // Killed and restarted, the node restores from the erased records: it neither deals batch 0 again nor asks for it,
    // and serves its keys from the key store (which it does not rewrite) — a user assigned key 0 logs in.
    const keysBefore = batchZeroKeys(node);
    await devnet.kill(node, "SIGKILL");
    devnet.spawn(node);
    await devnet.waitUntilServing([node]);
    const network = networkFromDescription(await devnet.describe(true));
    const user = { verifier: VERIFIER_NAME, verifierId: "erin@example.com" };
    const assigned = await getOrAssignKey(network, user, { signer: devnet.signer.url });
    expect(assigned.publicKey.x).to.equal(keysBefore[0]!.publicKey.slice(2, 66));
    const idToken = await devnet.oidc.mint({ email: user.verifierId });
    const loggedIn = await login(network, { ...user, idToken });
    expect(loggedIn.address).to.equal(assigned.address);
    expect(batchZeroKeys(node)).to.deep.equal(keysBefore);
    const after = await keygenLog(node);
    expect(erasedBatchZero(after.records), "no record of batch 0 after the restart").to.equal(true);
    expect([...seen].filter((secret) => after.bytes.toString("latin1").includes(secret))).to.deep.equal([]);
  });
});
