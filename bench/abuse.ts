/**
 * What an unauthenticated client can make the network do (issue 19), measured against a 5-node devnet this script
 * starts itself, the attacker on other loopback addresses (127.0.0.2–4) than the victim (127.0.0.1):
 *   1. ShareRequest batches of well-formed but wrongly signed entries (4n per item, 16 per batch) at every node:
 *      node CPU per request, and an SDK login's latency alone and under the attack;
 *   2. CommitmentRequests for made-up tokens from one source at one node: how many are accepted, and how long it
 *      would take to fill the node's 200,000-record store at that rate;
 *   3. KeyAssign for made-up users without the signer: keys burned per second.
 * Ends with one JSON line of figures. CPU is read from /proc (Linux), in clock ticks of 10 ms.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";

import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex } from "@noble/hashes/utils.js";

import { login, networkFromDescription } from "../client/index.ts";
import { DEFAULT_MAX_RECORDS } from "../node/auth/commitments.ts";
import { G } from "../node/crypto/point.ts";
import { freePort } from "../scripts/lib/chain-process.ts";
import { Devnet, VERIFIER_NAME } from "../scripts/lib/devnet-processes.ts";

const ATTACK_MS = Number(process.env.ABUSE_ATTACK_MS ?? 10_000);
const hex64 = (v: bigint) => v.toString(16).padStart(64, "0");
const commitmentOf = (token: string) => bytesToHex(keccak_256(new TextEncoder().encode(token)));

/** POSTs JSON from a chosen local address (keep-alive per address), resolving the parsed body. */
const agents = new Map<string, Agent>();
function postFrom(localAddress: string, url: string, body: unknown): Promise<unknown> {
  let agent = agents.get(localAddress);
  if (!agent) agents.set(localAddress, (agent = new Agent({ keepAlive: true, localAddress })));
  return new Promise((resolve) => {
    const req = request(url, { method: "POST", agent, headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => (text += chunk.toString()));
      res.on("end", () => {
        try {
          resolve(JSON.parse(text));
        } catch {
          resolve({ status: res.statusCode, text });
        }
      });
    });
    req.on("error", (error) => resolve({ failed: error.message }));
    req.end(JSON.stringify(body));
  });
}

async function cpuTicks(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]!.split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

const dir = await mkdtemp(path.join(tmpdir(), "bench-abuse-"));
const devnet = await Devnet.start({ dir, n: 5, chainPort: await freePort(), keyBuffer: 24 });
try {
  await devnet.waitForKeys(8, 180_000);
  const described = await devnet.describe(true);
  const network = networkFromDescription(described);
  const endpoints = described.nodes.map((n) => n.endpoint);
  const pids = devnet.nodes.map((n) => n.process!.pid!);
  const timedLogin = async (email: string) => {
    const idToken = await devnet.oidc.mint({ email });
    const started = performance.now();
    await login(network, { verifier: VERIFIER_NAME, verifierId: email, idToken });
    return Math.round(performance.now() - started);
  };
  /** A login's time, or why it failed: what a user on another address sees during an attack. */
  const triedLogin = (email: string) =>
    timedLogin(email).catch((error: unknown) => `failed: ${(error as Error).message}`);
  await timedLogin("warmup@example.com");
  const loginAloneMs = await timedLogin("victim@example.com");

  // 1. ShareRequest garbage at every node.
  const p = G.multiply(3n);
  const garbageItem = (i: number) => {
    const token = `made-up-${i}-${Math.random()}`;
    const data = ["mug00", commitmentOf(token), hex64(p.x), hex64(p.y), VERIFIER_NAME, Math.floor(Date.now() / 1000)];
    const entries = described.nodes.flatMap((node) =>
      [1, 2, 3, 4].map(() => ({
        data: data.join("\x1c"),
        signature: "11".repeat(64) + "1b",
        nodepubx: node.pubX,
        nodepuby: node.pubY,
      })),
    );
    return { idtoken: token, nodesignatures: entries, verifieridentifier: VERIFIER_NAME, verifier_id: "x@y" };
  };
  const batch = (k: number) =>
    Array.from({ length: 16 }, (_, j) => ({
      jsonrpc: "2.0",
      id: j,
      method: "ShareRequest",
      params: { item: [garbageItem(k * 16 + j)] },
    }));
  const cpuBefore = await Promise.all(pids.map(cpuTicks));
  let shareRequests = 0;
  let attacking = true;
  const attack = Promise.all(
    endpoints.flatMap((endpoint) =>
      [0, 1, 2, 3].map(async (w) => {
        for (let k = w; attacking; k += 4) {
          await postFrom("127.0.0.2", endpoint, batch(k));
          shareRequests += 16;
        }
      }),
    ),
  );
  const started = performance.now();
  const loginUnderAttackMs = await triedLogin("victim2@example.com");
  while (performance.now() - started < ATTACK_MS) await new Promise((r) => setTimeout(r, 100));
  attacking = false;
  await attack;
  const cpuAfter = await Promise.all(pids.map(cpuTicks));
  const cpuMs = cpuAfter.reduce((sum, t, i) => sum + (t - cpuBefore[i]!) * 10, 0);

  // 2. Made-up commitments from one source at one node.
  const statuses = new Map<string, number>();
  let accepted = 0;
  const fillStarted = performance.now();
  const fill = Promise.all(
    Array.from({ length: 8 }, async (_, w) => {
      for (let i = w; performance.now() - fillStarted < ATTACK_MS; i += 8) {
        const answer = (await postFrom("127.0.0.3", endpoints[0]!, {
          jsonrpc: "2.0",
          id: 1,
          method: "CommitmentRequest",
          params: {
            messageprefix: "mug00",
            tokencommitment: commitmentOf(`fill-${i}-${Math.random()}`),
            temppubx: hex64(p.x),
            temppuby: hex64(p.y),
            verifieridentifier: VERIFIER_NAME,
          },
        })) as { result?: unknown; error?: { data?: string } };
        if (answer.result) accepted++;
        else {
          const why = String(answer.error?.data ?? "no answer").slice(0, 40);
          statuses.set(why, (statuses.get(why) ?? 0) + 1);
        }
      }
    }),
  );
  // A returning user logs in while the flood runs (its commitments come from another source).
  const loginDuringCommitmentFloodMs = await triedLogin("victim@example.com");
  await fill;
  const fillSeconds = (performance.now() - fillStarted) / 1000;
  const acceptedPerSecond = accepted / fillSeconds;

  // 3. KeyAssign for made-up users without the signer.
  const freeBefore = (await devnet.status(devnet.nodes[0]!))!.keys.assigned;
  let keyAssigns = 0;
  let keysGiven = 0;
  const keysStarted = performance.now();
  const keyFlood = (async () => {
    while (performance.now() - keysStarted < Math.min(ATTACK_MS, 5000)) {
      const answer = (await postFrom("127.0.0.4", endpoints[keyAssigns % 5]!, {
        jsonrpc: "2.0",
        id: 1,
        method: "KeyAssign",
        params: { verifier: VERIFIER_NAME, verifier_id: `nobody${keyAssigns}@example.com` },
      })) as { result?: unknown };
      keyAssigns++;
      if (answer.result) keysGiven++;
    }
  })();
  // A new user signs up during the flood: its first login is assigned a key (login-time assignment).
  const newUserLoginDuringKeyAssignFloodMs = await triedLogin("newcomer@example.com");
  await keyFlood;
  const keySeconds = (performance.now() - keysStarted) / 1000;
  const assignedAfter = (await devnet.status(devnet.nodes[0]!))!.keys.assigned;

  const figures = {
    shareRequests,
    nodeCpuMsPerShareRequest: Math.round((cpuMs / Math.max(1, shareRequests)) * 100) / 100,
    loginAloneMs,
    loginUnderAttackMs,
    loginDuringCommitmentFloodMs,
    newUserLoginDuringKeyAssignFloodMs,
    commitmentsAcceptedFromOneSource: accepted,
    commitmentsAcceptedPerSecond: Math.round(acceptedPerSecond * 10) / 10,
    commitmentsRefused: Object.fromEntries(statuses),
    // Null when the source's quota of open commitments (at most 1,000 of 200,000) stops it long before.
    secondsToFillStoreFromOneSource:
      accepted >= 1000 && acceptedPerSecond > 0 ? Math.round(DEFAULT_MAX_RECORDS / acceptedPerSecond) : null,
    keyAssignsSent: keyAssigns,
    keysBurnedPerSecond: Math.round((keysGiven / keySeconds) * 10) / 10,
    keysAssignedDuringKeyAssignFlood: assignedAfter - freeBefore,
  };
  console.log(
    `ShareRequest: ${figures.nodeCpuMsPerShareRequest} ms node CPU per request (${shareRequests} sent); login ${loginAloneMs} ms alone, ${String(loginUnderAttackMs)} under attack`,
  );
  console.log(
    `CommitmentRequest: ${accepted} made-up commitments accepted from one source in ${Math.round(fillSeconds)} s; store full in ${figures.secondsToFillStoreFromOneSource ?? "never (quota)"} s`,
  );
  console.log(`a returning user's login during the commitment flood: ${String(loginDuringCommitmentFloodMs)} ms`);
  console.log(`KeyAssign without signer: ${keysGiven} of ${keyAssigns} got keys (${figures.keysBurnedPerSecond}/s)`);
  console.log(`a new user's first login during that flood: ${String(newUserLoginDuringKeyAssignFloodMs)} ms`);
  console.log(JSON.stringify(figures));
} finally {
  for (const agent of agents.values()) agent.destroy();
  await devnet.stop();
  await rm(dir, { recursive: true, force: true });
}
