/**
 * Five node processes keeping their public state in PostgreSQL (`storage.kind: "postgres"`, a database per node on a
 * real server of this suite's own): key generation and logins work; the databases hold the chain and the commit–reveal
 * records while key shares and key-generation records stay in each node's local files; a node killed with kill -9
 * restarts from its database and agrees with its peers; and with the server stopped under the running network, every
 * node stays up, stops serving with the reason on /healthz, and serves again once the server is back.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import { getOrAssignKey, login, networkFromDescription, type Network } from "../../client/index.ts";
import { JsonRpcClient } from "../../client/jrpc.ts";
import { addressFromPublicKey } from "../../node/crypto/address.ts";
import { G } from "../../node/crypto/point.ts";
import { PostgresDatabase } from "../../node/store/postgres-database.ts";
import { SCHEMA } from "../../node/store/postgres-schema.ts";
import { freePort } from "../../scripts/lib/chain-process.ts";
import { Devnet, VERIFIER_NAME, type DevnetNode } from "../../scripts/lib/devnet-processes.ts";
import { PostgresServer } from "../../scripts/lib/postgres-server.ts";

const rpc = new JsonRpcClient(10_000);

describe("a network of node processes on PostgreSQL: key generation, login, kill -9, an outage", function () {
  this.timeout(400_000);
  let dir: string;
  let server: PostgresServer;
  let devnet: Devnet;
  let network: Network;
  let users = 0;

  before(async function () {
    dir = await mkdtemp(path.join(tmpdir(), "pg-network-"));
    server = await PostgresServer.start();
    devnet = await Devnet.start({ dir, n: 5, chainPort: await freePort(), keyBuffer: 40, postgres: server });
    await devnet.waitForKeys(20, 180_000);
    network = networkFromDescription(await devnet.describe(true));
  });

  after(async function () {
    await devnet?.stop();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** Assigns a new user a key and logs in: the private key must be that of the assigned address. */
  async function loginNewUser(): Promise<string> {
    const verifierId = `user${++users}@example.com`;
    const key = await getOrAssignKey(network, { verifier: VERIFIER_NAME, verifierId }, { signer: devnet.signer.url });
    const idToken = await devnet.oidc.mint({ email: verifierId });
    const result = await login(network, { verifier: VERIFIER_NAME, verifierId, idToken });
    expect(result.address).to.equal(key.address);
    expect(addressFromPublicKey(G.multiply(result.privateKey))).to.equal(key.address);
    return verifierId;
  }

  /** The rows of each key space of a node's database, by store name. */
  async function rowsByStore(node: DevnetNode): Promise<Record<string, number>> {
    const db = await PostgresDatabase.open(server.url(`node_${node.slot}`));
    try {
      const { rows } = await db.query<{ name: string; rows: string }>({
        text:
          `SELECT s.name, count(kv.k) AS rows FROM ${SCHEMA}.spaces s LEFT JOIN ${SCHEMA}.kv kv ON kv.space = s.id ` +
          `GROUP BY s.name ORDER BY s.name`,
      });
      return Object.fromEntries(rows.map((r) => [r.name, Number(r.rows)]));
    } finally {
      await db.close();
    }
  }

  it("generates keys and logs users in, with blocks and records in PostgreSQL and the secrets in local files", async function () {
    await loginNewUser();
    for (const node of devnet.nodes) {
      const rows = await rowsByStore(node);
      expect(Object.keys(rows), `node ${node.slot}`).to.deep.equal(["auth", "chain"]);
      expect(rows.chain, `node ${node.slot}`).to.be.greaterThan(0);
      const files = await readdir(path.join(node.dataDir, "epoch-1"));
      expect(files).to.include.members(["keys.sqlite", "keygen.sqlite"]);
      expect(files.filter((f) => f.startsWith("chain.sqlite") || f.startsWith("auth.sqlite"))).to.deep.equal([]);
    }
    // The commitments of the login were recorded by the nodes that answered it: a quorum at least.
    const withRecords = (await Promise.all(devnet.nodes.map(rowsByStore))).filter((rows) => rows.auth! > 0);
    expect(withRecords.length).to.be.at.least(3);
  });

  it("restarts a node killed with kill -9 from its database, and it agrees with its peers", async function () {
    const victim = devnet.nodes[1]!;
    await devnet.kill(victim, "SIGKILL");
    const during = [await loginNewUser(), await loginNewUser()];
    devnet.spawn(victim);
    await devnet.waitUntilServing([victim]);
    await devnet.waitForAgreement(devnet.nodes);
    // Logins need a quorum of the five: with two nodes down they rest on the restarted one.
    await devnet.kill(devnet.nodes[2]!, "SIGTERM");
    expect(await loginNewUser()).to.be.a("string");
    devnet.spawn(devnet.nodes[2]!);
    await devnet.waitUntilServing([devnet.nodes[2]!]);
    // The users assigned while it was down are in its state, read from the database.
    for (const verifierId of during) {
      const outcome = await rpc.call(`${victim.apiUrl}/jrpc`, "VerifierLookupRequest", {
        verifier: VERIFIER_NAME,
        verifier_id: verifierId,
      });
      expect((outcome.result as { keys?: unknown[] } | undefined)?.keys, verifierId).to.have.length(1);
    }
  });

  it("stays up through a database outage: refuses clients with the reason on /healthz, then serves again", async function () {
    await server.halt();
    try {
      const deadline = Date.now() + 60_000;
      let answers: { status: number; refusing?: string }[] = [];
      while (Date.now() < deadline) {
        answers = await Promise.all(
          devnet.nodes.map(async (node) => {
            const response = await fetch(`${node.apiUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
            return { status: response.status, ...((await response.json()) as { refusing?: string }) };
          }),
        );
        if (answers.every((a) => a.status === 503 && /PostgreSQL database cannot be reached/.test(a.refusing ?? "")))
          break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(answers.map((a) => a.status)).to.deep.equal([503, 503, 503, 503, 503]);
      for (const a of answers) expect(a.refusing).to.match(/PostgreSQL database cannot be reached/);
      await new Promise((resolve) => setTimeout(resolve, 3000));
      for (const node of devnet.nodes) expect(node.process!.exitCode, `node ${node.slot}`).to.equal(null);
    } finally {
      await server.resume();
    }
    await devnet.waitUntilServing(devnet.nodes, 60_000);
    await devnet.waitForAgreement(devnet.nodes);
    expect(await loginNewUser()).to.be.a("string");
  });
});
