/**
 * What a handover costs the network's clients (issue 24): `npm run bench:handover-availability`. Starts a devnet of
 * five node processes in a temporary directory (as bench:login does), fills at least BENCH_HANDOVER_KEYS keys
 * (default 1,000), adds a successor epoch of five more and starts the handover to it. Every 100 ms, from the first
 * block of the handover until a few seconds after it completed, it asks the serving epoch for a new user's key through
 * the path torus.js uses (`getOrAssignKey` with the dev signer), and it signs up another new user by logging in with a
 * fresh token (login-time assignment). It follows the devnet's network description as it changes (the new epoch once
 * the chain made it current). Each probe comes from its own 127.0.0.0/8 address, so that per-source limits never count.
 * A probe is refused when it fails or gets no answer within 1 s.
 *
 * It prints the longest run of refusals of each kind, from the first refused probe to the next answered one, and the
 * handover's time from `startTransition` until the chain made the new epoch current. Last line:
 * {"bench":"handover-availability","keys":K,"handoverSeconds":S,"maxRefusedSeconds":R,"maxRefusedLoginSeconds":L}.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { getOrAssignKey, login, networkFromDescription, type Network } from "../client/index.ts";
import { epochStateName } from "../node/chain/epoch-state.ts";
import { freePort } from "../scripts/lib/chain-process.ts";
import { Devnet, VERIFIER_NAME } from "../scripts/lib/devnet-processes.ts";
import * as ops from "../scripts/lib/operations.ts";
import { fetchFrom } from "./fetch-from.ts";

const KEYS = Number(process.env.BENCH_HANDOVER_KEYS ?? 1000);
if (!Number.isSafeInteger(KEYS) || KEYS < 1) throw new Error("BENCH_HANDOVER_KEYS must be a positive integer");
const PROBE_EVERY_MS = 100;
const REFUSED_AFTER_MS = 1000;
/** How long the probes go on after the handover completed, so that a refusal at its end is seen to end. */
const AFTER_MS = 5000;
const HANDOVER_TIMEOUT_MS = 30 * 60_000;

interface Probe {
  at: number;
  ok: boolean;
  error?: string;
}

/** The next client address: 127.1.0.1, 127.1.0.2, … (a fresh source for every probe). */
let nextSource = 0;
function freshSource(): string {
  nextSource++;
  return `127.${1 + (nextSource >> 16)}.${(nextSource >> 8) & 255}.${nextSource & 255}`;
}

/** Runs `attempt` within the deadline; any failure or a late answer is a refusal. */
async function probe(attempt: () => Promise<unknown>): Promise<Probe> {
  const at = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("no answer within 1 s")), REFUSED_AFTER_MS);
  });
  try {
    await Promise.race([attempt(), late]);
    return { at, ok: true };
  } catch (error) {
    return { at, ok: false, error: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The longest stretch from a refused probe to the next answered one, in seconds (a run still going at the last probe
 * ends a probe interval after it).
 */
function longestRefusal(probes: Probe[]): { seconds: number; from?: number; example?: string } {
  const sorted = [...probes].sort((a, b) => a.at - b.at);
  const end = { at: (sorted.at(-1)?.at ?? 0) + PROBE_EVERY_MS, ok: true };
  let longest: { seconds: number; from?: number; example?: string } = { seconds: 0 };
  let start: Probe | undefined;
  for (const p of [...sorted, end]) {
    if (!p.ok) start ??= p;
    else if (start) {
      const seconds = (p.at - start.at) / 1000;
      if (seconds > longest.seconds) longest = { seconds, from: start.at, example: start.error };
      start = undefined;
    }
  }
  return longest;
}

const round = (x: number) => Math.round(x * 10) / 10;

const dir = await mkdtemp(path.join(tmpdir(), "bench-handover-"));
const devnet = await Devnet.start({ dir, n: 5, chainPort: await freePort(), keyBuffer: KEYS + 40 });
try {
  const fillStart = performance.now();
  await devnet.waitForKeys(KEYS, 30 * 60_000);
  const oldNodes = devnet.nodes.filter((node) => node.epoch === devnet.epoch);
  // A node that lacks a key of the snapshot sits the dealing out; the others carry it, but the bench measures a
  // handover of every node: it starts once every old node holds every published key.
  for (let settled = 0; settled < 3; await new Promise((r) => setTimeout(r, 1000))) {
    const keys = (await Promise.all(oldNodes.map((node) => devnet.status(node)))).map((s) => s?.keys);
    const [first] = keys;
    const same = keys.every(
      (k) => k?.published === first?.published && k?.generatedBatches === first?.generatedBatches,
    );
    settled = same ? settled + 1 : 0;
  }
  const published = (await devnet.status(oldNodes[0]!))!.keys.published;
  console.log(
    `devnet of 5 nodes with ${published} keys in ${round((performance.now() - fillStart) / 1000)} s (${dir})`,
  );

  let network: Network = networkFromDescription(await devnet.describe(true));
  const { epoch: next } = await devnet.addSuccessorEpoch(5, { keyBuffer: 40 });
  const lookups: Probe[] = [];
  const logins: Probe[] = [];
  let users = 0;
  let probing = true;
  const probes = (async () => {
    const pending: Promise<void>[] = [];
    for (let tick = 0; probing; tick++) {
      const at = performance.now();
      const current = network;
      const assignUser = `assign${users++}@example.com`;
      const loginUser = `login${users++}@example.com`;
      const lookupFetch = fetchFrom(freshSource(), { keepAlive: false });
      const loginFetch = fetchFrom(freshSource(), { keepAlive: false });
      pending.push(
        probe(() =>
          getOrAssignKey(
            current,
            { verifier: VERIFIER_NAME, verifierId: assignUser },
            { signer: devnet.signer.url, fetch: lookupFetch, timeoutMs: REFUSED_AFTER_MS },
          ),
        ).then((p) => void lookups.push(p)),
        probe(async () => {
          const idToken = await devnet.oidc.mint({ email: loginUser, nonce: String(tick) });
          await login(
            current,
            { verifier: VERIFIER_NAME, verifierId: loginUser, idToken },
            { fetch: loginFetch, timeoutMs: REFUSED_AFTER_MS },
          );
        }).then((p) => void logins.push(p)),
      );
      await new Promise((r) => setTimeout(r, Math.max(0, PROBE_EVERY_MS - (performance.now() - at))));
    }
    await Promise.all(pending);
  })();

  // Two seconds of probes before the handover starts: the network serves.
  await new Promise((r) => setTimeout(r, 2000));
  const handoverStart = performance.now();
  await ops.startTransition(devnet.nodeList, next);
  console.log(`handover to epoch ${next} started`);
  for (let state = ""; state !== "Current"; await new Promise((r) => setTimeout(r, 250))) {
    state = epochStateName((await devnet.nodeList.getEpochStatus(next)).state);
    if (performance.now() - handoverStart > HANDOVER_TIMEOUT_MS) throw new Error(`the handover did not complete`);
  }
  const handoverSeconds = (performance.now() - handoverStart) / 1000;
  console.log(`epoch ${next} is current after ${round(handoverSeconds)} s`);
  // The clients learn the new network as a DApp would: from the description of the chain's current epoch.
  network = networkFromDescription(await devnet.describe(true));
  await new Promise((r) => setTimeout(r, AFTER_MS));
  probing = false;
  await probes;

  const since = (p: Probe[]) => p.filter((x) => x.at >= handoverStart);
  const refused = longestRefusal(since(lookups));
  const refusedLogin = longestRefusal(since(logins));
  const at = (from: number | undefined) =>
    from === undefined ? "" : ` from ${round((from - handoverStart) / 1000)} s`;
  console.log(
    `new users through KeyAssign (torus.js's path): ${since(lookups).filter((p) => !p.ok).length} of ` +
      `${since(lookups).length} refused, longest run ${round(refused.seconds)} s${at(refused.from)}` +
      (refused.example ? ` ("${refused.example}")` : ""),
  );
  console.log(
    `new users signing up at login: ${since(logins).filter((p) => !p.ok).length} of ${since(logins).length} refused, ` +
      `longest run ${round(refusedLogin.seconds)} s${at(refusedLogin.from)}` +
      (refusedLogin.example ? ` ("${refusedLogin.example}")` : ""),
  );
  console.log(
    JSON.stringify({
      bench: "handover-availability",
      keys: published,
      handoverSeconds: round(handoverSeconds),
      maxRefusedSeconds: round(refused.seconds),
      maxRefusedLoginSeconds: round(refusedLogin.seconds),
    }),
  );
} finally {
  await devnet.stop();
  await rm(dir, { recursive: true, force: true });
}
