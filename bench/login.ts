/**
 * Logins against the 5-node devnet: `npm run bench:login`. Starts the network of real node processes (chain, five
 * nodes, dev OIDC issuer) in a temporary directory, assigns keys to a set of users, then measures full SDK logins
 * (commit and reveal at every node, decrypt, reconstruct): latency p50/p99 at concurrency 1, logins per second at
 * saturation, and account lookups per second. Everything (nodes and client) shares this 2-core machine. Runs on the
 * native backend (nodes and client), then on noble (bench/backends.ts); the last line is JSON, native's figures at
 * the top and noble's under `noble`.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { getOrAssignKey, login, networkFromDescription, type Network } from "../client/index.ts";
import { freePort } from "../scripts/lib/chain-process.ts";
import { Devnet, VERIFIER_NAME } from "../scripts/lib/devnet-processes.ts";
import { onEachBackend, type BackendName } from "./backends.ts";
import { fetchFrom } from "./fetch-from.ts";

async function run(backend: BackendName) {
  // The node processes take their backend from the environment (TORUS_CRYPTO_BACKEND overrides crypto.backend).
  process.env.TORUS_CRYPTO_BACKEND = backend;
  const dir = await mkdtemp(path.join(tmpdir(), "bench-login-"));
  const devnet = await Devnet.start({ dir, n: 5, chainPort: await freePort(), keyBuffer: 40 });
  try {
    await devnet.waitForKeys(USERS + 4, 180_000);
    const described = await devnet.describe(true);
    const network: Network = networkFromDescription(described);
    const users = Array.from({ length: USERS }, (_, i) => `bench${i}@example.com`);
    for (const verifierId of users)
      await getOrAssignKey(network, { verifier: VERIFIER_NAME, verifierId }, { signer: devnet.signer.url });

    // Each concurrent client logs in from its own loopback address (127.0.0.10 + c), as separate users would: the
    // nodes' quotas are per source, and a bench must not measure one source hitting them (nor raise the defaults).
    const clientFetch = Array.from({ length: 8 }, (_, c) => fetchFrom(`127.0.0.${10 + c}`));
    let nonce = 0;
    const oneLogin = async (verifierId: string, client?: number) => {
      const idToken = await devnet.oidc.mint({ email: verifierId, nonce: String(nonce++) });
      const started = performance.now();
      const options = client === undefined ? {} : { fetch: clientFetch[client]! };
      await login(network, { verifier: VERIFIER_NAME, verifierId, idToken }, options);
      return performance.now() - started;
    };

    // Latency: one login at a time, from the clients' addresses in turn (30 logins from one source in a few seconds
    // would exceed its commitment quota).
    const latencies: number[] = [];
    for (let i = 0; i < 30; i++) latencies.push(await oneLogin(users[i % USERS]!, i % clientFetch.length));
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!;

    // Saturation: 8 concurrent clients for 10 s.
    const until = performance.now() + 10_000;
    let logins = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async (_, c) => {
        for (let i = 0; performance.now() < until; i++) {
          await oneLogin(users[(c * 7 + i) % USERS]!, c);
          logins++;
        }
      }),
    );
    const loginsPerSec = logins / ((performance.now() - started) / 1000);

    // Lookups: 16 concurrent clients resolving users' keys (each lookup asks every node) for 5 s.
    const lookupUntil = performance.now() + 5000;
    let lookups = 0;
    const lookupStart = performance.now();
    await Promise.all(
      Array.from({ length: 16 }, async (_, c) => {
        for (let i = 0; performance.now() < lookupUntil; i++) {
          await getOrAssignKey(
            network,
            { verifier: VERIFIER_NAME, verifierId: users[(c + i) % USERS]! },
            { signer: devnet.signer.url },
          );
          lookups++;
        }
      }),
    );
    const lookupsPerSec = lookups / ((performance.now() - lookupStart) / 1000);

    const figures = {
      loginsPerSec: Math.round(loginsPerSec * 10) / 10,
      p50Ms: Math.round(pct(50)),
      p99Ms: Math.round(pct(99)),
      lookupsPerSec: Math.round(lookupsPerSec),
    };
    console.log(
      `logins/s at saturation ${figures.loginsPerSec}, latency p50 ${figures.p50Ms} ms p99 ${figures.p99Ms} ms, lookups/s ${figures.lookupsPerSec}`,
    );
    return figures;
  } finally {
    await devnet.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const USERS = 16;
const figures = await onEachBackend(run);
delete process.env.TORUS_CRYPTO_BACKEND;
console.log(JSON.stringify({ bench: "login", n: 5, ...figures }));
