import { expect } from "chai";
import { id } from "ethers";
import type { Signer, Wallet } from "ethers";
import { network } from "hardhat";

import { EpochState, epochStateName } from "../../../node/chain/epoch-state.ts";
import { publicKeyCoordinates } from "../../../node/chain/node-key.ts";
import { thresholdsError, thresholdsFor } from "../../../node/chain/thresholds.ts";
import type { NodeList } from "../../../typechain-types/index.ts";
import { Prng, envCount } from "../../support/prng.ts";
import { deployNodeList, endpointsOf, fundedNodeWallets } from "../fixtures.ts";

// Runs x depth of random calls over all shards; CI uses the defaults, a developer can run more
// (INVARIANT_RUNS=2000 npm test). The runs are split over SHARDS test files so that mocha's parallel workers share them.
const RUNS = envCount("INVARIANT_RUNS", 256);
export const SHARDS = 2;
const DEPTH = envCount("INVARIANT_DEPTH", 50);
const SEED = envCount("INVARIANT_SEED", 20261123);
const NODE_KEYS = 8;
// Two digests so that confirmations sometimes disagree; the first is the "honest" one and more likely.
const DIGEST_INPUTS = [
  [id("mapping-a"), 100n, id("commitments-a")],
  [id("mapping-b"), 100n, id("commitments-b")],
] as const;

interface EpochView {
  n: bigint;
  k: bigint;
  t: bigint;
  list: string[];
  prev: bigint;
  next: bigint;
  state: number;
  attempt: bigint;
}

/** What the test remembers across the calls of one run (the "ghost" state). */
class Ghost {
  /** Keys that were whitelisted in an epoch when they listed: `${epoch}:${address}`. */
  readonly listedWhileWhitelisted = new Set<string>();
  /** (n, k, t, list) of every epoch seen finalized, which must never change afterwards. */
  readonly finalized = new Map<bigint, string>();
  /** Keys whitelisted and listed per epoch, to steer the random walk towards calls that can succeed. */
  readonly whitelisted = new Map<bigint, Set<string>>();
  readonly listed = new Map<bigint, Set<string>>();
  readonly verifiedLists = new Map<bigint, string>();
  /** Successful confirmations per `${epoch}:${attempt}:${digest}`. */
  readonly confirmations = new Map<string, number>();
  currentEpoch = 0n;

  setOf(map: Map<bigint, Set<string>>, epoch: bigint): Set<string> {
    let set = map.get(epoch);
    if (!set) map.set(epoch, (set = new Set()));
    return set;
  }
}

const refusals = new Map<string, number>();
const stats = { calls: 0, reverted: 0, listed: 0, activated: 0, started: 0, aborted: 0, cancelled: 0, completed: 0 };

/** Defines the invariant suite for the runs r with r % SHARDS === shard. */
export async function defineInvariantSuite(shard: number) {
  const { ethers, networkHelpers } = await network.getOrCreate();
  const runs = Array.from({ length: RUNS }, (_, r) => r).filter((r) => r % SHARDS === shard);

  describe(`NodeList invariants, shard ${shard + 1}/${SHARDS} (${runs.length} of ${RUNS} runs x depth ${DEPTH}, seed ${SEED})`, function () {
  this.timeout(0);

  async function fixture() {
    const deployed = await deployNodeList(ethers);
    const nodes = await fundedNodeWallets(ethers, networkHelpers, NODE_KEYS, "invariant");
    return { ...deployed, nodes };
  }

  it("holds the registry's invariants over random call sequences by governance, nodes and strangers", async function () {
    for (const run of runs) {
      const { nodeList, governance, stranger, nodes } = await networkHelpers.loadFixture(fixture);
      const prng = new Prng(SEED + run);
      const ghost = new Ghost();
      for (let step = 0; step < DEPTH; step++) {
        const where = `run ${run} (INVARIANT_SEED=${SEED + run} INVARIANT_RUNS=1) step ${step}`;
        const touched = await randomCall(prng, nodeList, governance, stranger, nodes, ghost, where);
        await checkStep(nodeList, ghost, touched, where);
      }
      await checkAllEpochs(nodeList, ghost, `run ${run} end`);
    }
    console.log(`      invariants: ${JSON.stringify(stats)}`);
    const top = [...refusals.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8);
    console.log(`      most frequent refusals: ${top.map(([k, v]) => `${k} ${v}`).join(", ")}`);
    // The random walk must reach every part of the lifecycle, or the invariants were checked on too little.
    if (runs.length >= 64 && DEPTH >= 50) {
      for (const key of ["listed", "activated", "started", "aborted", "cancelled", "completed"] as const) {
        expect(stats[key], `no run reached "${key}"`).to.be.greaterThan(0);
      }
    }
  });
});
}

/** Makes one random call (valid more often than not) and returns the epochs it may have touched. */
async function randomCall(
  prng: Prng,
  nodeList: NodeList,
  governance: Signer,
  stranger: Signer,
  nodes: Wallet[],
  ghost: Ghost,
  where: string,
): Promise<bigint[]> {
  const count = await nodeList.epochCount();
  // Mostly the newest epochs, sometimes 0 or one that does not exist yet.
  const epoch = prng.chance(0.9) ? count : BigInt(prng.int(0, Number(count) + 1));
  const gov = prng.chance(0.95) ? governance : stranger;
  // A node that can act on the epoch more often than not: whitelisted and unlisted to list, listed to confirm.
  const whitelisted = ghost.setOf(ghost.whitelisted, epoch);
  const listed = ghost.setOf(ghost.listed, epoch);
  const pickNode = (usable: (w: Wallet) => boolean) => {
    const candidates = nodes.filter(usable);
    return candidates.length > 0 && prng.chance(0.85) ? prng.pick(candidates) : prng.pick(nodes);
  };
  // Every action stays possible (refusals are tested too), but the newest epoch's state favours the next lifecycle step.
  const newest = count === 0n ? EpochState.None : Number((await nodeList.getEpochStatus(count)).state);
  const running = ghost.currentEpoch !== 0n && (await nodeList.getEpochStatus(ghost.currentEpoch)).state === BigInt(EpochState.Transitioning);
  const boost = (on: boolean, weight: number) => (on ? weight : 0);
  const registering = newest === EpochState.Registering;
  const ready = newest === EpochState.Ready;
  const action = prng.weighted([
    ["create", 3 + boost(newest !== EpochState.Registering && newest !== EpochState.Ready, 30)],
    ["whitelist", 3 + boost(registering, 10)],
    ["whitelistBatch", 2 + boost(registering, 10)],
    ["list", 3 + boost(registering, 40)],
    ["activate", 2 + boost(ready && ghost.currentEpoch === 0n, 30)],
    ["start", 2 + boost(ready && ghost.currentEpoch !== 0n && !running, 30)],
    ["abort", 1 + boost(running, 4)],
    ["cancel", 1 + boost(registering || ready, 1)],
    ["confirm", 3 + boost(running, 40)],
    ["updateEndpoints", 2],
  ] as const);

  const send = async (label: string, call: () => Promise<{ wait(): Promise<unknown> }>) => {
    stats.calls++;
    try {
      await (await call()).wait();
      return true;
    } catch (error) {
      stats.reverted++;
      const name = expectCustomError(nodeList, error, `${where} ${label}`);
      const key = `${label.split("(")[0]}:${name}`;
      refusals.set(key, (refusals.get(key) ?? 0) + 1);
      return false;
    }
  };

  switch (action) {
    case "create": {
      const n = prng.weighted([[1, 3], [2, 2], [3, 2], [5, 3], [6, 1]] as const);
      const valid = thresholdsFor(n, prng.int(0, Math.floor((n - 1) / 4)));
      const { k, t } = prng.chance(0.85) ? valid : { k: prng.int(0, 4), t: prng.int(0, 2) };
      const ok = await send(`createEpoch(${n},${k},${t})`, () => nodeList.connect(gov).createEpoch(n, k, t));
      if (ok) expect(thresholdsError({ n, k, t }), `${where}: accepted invalid thresholds`).to.equal(undefined);
      return ok ? [await nodeList.epochCount()] : [];
    }
    case "whitelist": {
      const node = prng.pick(nodes);
      const allowed = prng.chance(0.85);
      if (await send("updateWhitelist", () => nodeList.connect(gov).updateWhitelist(epoch, node.address, allowed))) {
        if (allowed) whitelisted.add(node.address);
        else whitelisted.delete(node.address);
      }
      return [epoch];
    }
    case "whitelistBatch": {
      const batch = nodes.filter(() => prng.chance(0.6)).map((w) => w.address);
      if (await send("whitelistNodes", () => nodeList.connect(gov).whitelistNodes(epoch, batch))) {
        for (const address of batch) whitelisted.add(address);
      }
      return [epoch];
    }
    case "list": {
      const node = pickNode((w) => whitelisted.has(w.address) && !listed.has(w.address));
      // Usually the node's own key; sometimes another node's key, which must be refused.
      const keyOwner = prng.chance(0.9) ? node : prng.pick(nodes);
      const { pubKx, pubKy } = publicKeyCoordinates(keyOwner);
      const e = endpointsOf(prng.int(1, 50));
      const wasWhitelisted = await nodeList.isWhitelisted(epoch, node.address);
      const ok = await send("listNode", () =>
        nodeList.connect(node).listNode(epoch, e.declaredIp, pubKx, pubKy, e.tmP2PListenAddress, e.p2pListenAddress),
      );
      if (ok) {
        stats.listed++;
        expect(wasWhitelisted, `${where}: listed a key that was not whitelisted`).to.equal(true);
        expect(keyOwner.address, `${where}: listed a key the sender does not own`).to.equal(node.address);
        ghost.listedWhileWhitelisted.add(`${epoch}:${node.address}`);
        listed.add(node.address);
      }
      return [epoch];
    }
    case "activate": {
      if (await send("activateEpoch", () => nodeList.connect(gov).activateEpoch(epoch))) stats.activated++;
      return [epoch];
    }
    case "start": {
      if (await send("startTransition", () => nodeList.connect(gov).startTransition(epoch))) stats.started++;
      return [epoch, ghost.currentEpoch];
    }
    case "abort": {
      if (await send("abortTransition", () => nodeList.connect(gov).abortTransition(epoch))) stats.aborted++;
      return [epoch, ghost.currentEpoch];
    }
    case "cancel": {
      const prev = (await nodeList.getEpochInfo(epoch)).prevEpoch;
      if (await send("cancelEpoch", () => nodeList.connect(gov).cancelEpoch(epoch))) stats.cancelled++;
      return [epoch, prev];
    }
    case "confirm": {
      const inputs = DIGEST_INPUTS[prng.chance(0.85) ? 0 : 1];
      const attempt = (await nodeList.getEpochStatus(epoch)).transitionAttempt;
      const digest = await nodeList.handoverDigestOf(...inputs);
      const before = ghost.currentEpoch;
      const node = pickNode((w) => listed.has(w.address));
      const ok = await send("confirmHandover", () => nodeList.connect(node).confirmHandover(epoch, ...inputs));
      if (ok) {
        const key = `${epoch}:${attempt}:${digest}`;
        const count = (ghost.confirmations.get(key) ?? 0) + 1;
        ghost.confirmations.set(key, count);
        const v = await readEpoch(nodeList, epoch);
        const completed = (await nodeList.currentEpoch()) === epoch && before !== epoch;
        // The handover completes exactly when a digest reaches n - t identical confirmations, and never otherwise.
        expect(completed, `${where}: ${count} confirmations of one digest, n - t = ${v.n - v.t}`).to.equal(
          BigInt(count) === v.n - v.t,
        );
        if (completed) stats.completed++;
      }
      return [epoch, before];
    }
    case "updateEndpoints": {
      const node = pickNode((w) => listed.has(w.address));
      const e = endpointsOf(prng.int(1, 50));
      await send("updateEndpoints", () =>
        nodeList.connect(node).updateEndpoints(epoch, e.declaredIp, e.tmP2PListenAddress, e.p2pListenAddress),
      );
      return [epoch];
    }
  }
}

/** Every refusal is one of the contract's custom errors (never a panic, an empty revert or a string). */
function expectCustomError(nodeList: NodeList, error: unknown, where: string) {
  const data = (error as { data?: unknown }).data;
  expect(typeof data === "string" && data.length >= 10, `${where}: revert without error data: ${String(error)}`).to.equal(true);
  const parsed = nodeList.interface.parseError(data as string);
  expect(parsed, `${where}: unknown revert ${String(data)}`).to.not.equal(null);
  return parsed!.name;
}

async function readEpoch(nodeList: NodeList, epoch: bigint): Promise<EpochView> {
  const [, n, k, t, list, prev, next] = await nodeList.getEpochInfo(epoch);
  const status = await nodeList.getEpochStatus(epoch);
  return { n, k, t, list: [...list], prev, next, state: Number(status.state), attempt: status.transitionAttempt };
}

const FINAL_STATES = new Set([EpochState.Ready, EpochState.Current, EpochState.Transitioning, EpochState.Retired]);

/** Invariants of one epoch; the links are checked from both ends. */
async function checkEpoch(nodeList: NodeList, ghost: Ghost, epoch: bigint, current: bigint, where: string) {
  if (epoch === 0n) {
    const genesis = (await nodeList.getEpochInfo(0)).nextEpoch;
    if (genesis !== 0n) expect((await readEpoch(nodeList, genesis)).prev, `${where}: genesis link`).to.equal(0n);
    return;
  }
  const v = await readEpoch(nodeList, epoch);
  const at = `${where}: epoch ${epoch} (${epochStateName(v.state)})`;
  if (v.state === EpochState.None) {
    expect(epoch > (await nodeList.epochCount()), `${at} exists without state`).to.equal(true);
    return;
  }
  expect(thresholdsError({ n: Number(v.n), k: Number(v.k), t: Number(v.t) }), `${at} thresholds`).to.equal(undefined);
  expect(new Set(v.list).size, `${at} has duplicates`).to.equal(v.list.length);
  expect(BigInt(v.list.length) <= v.n, `${at} lists more than n`).to.equal(true);
  // Per-node reads only when the list differs from the one last verified (it only grows, by listNode).
  const listKey = v.list.join(",");
  if (ghost.verifiedLists.get(epoch) !== listKey) {
    for (const [i, address] of v.list.entries()) {
      expect(ghost.listedWhileWhitelisted.has(`${epoch}:${address}`), `${at} lists ${address} unseen`).to.equal(true);
      expect(await nodeList.isWhitelisted(epoch, address), `${at} lists a key no longer whitelisted`).to.equal(true);
      expect((await nodeList.getNodeDetailsForEpoch(epoch, address)).position, `${at} position`).to.equal(BigInt(i + 1));
    }
    ghost.verifiedLists.set(epoch, listKey);
  }
  if (FINAL_STATES.has(v.state)) {
    expect(BigInt(v.list.length), `${at} finalized before full`).to.equal(v.n);
    const frozen = JSON.stringify([v.n, v.k, v.t, v.list], (_, x: unknown) => (typeof x === "bigint" ? x.toString() : x));
    const before = ghost.finalized.get(epoch);
    if (before === undefined) ghost.finalized.set(epoch, frozen);
    else expect(frozen, `${at} changed after it was finalized`).to.equal(before);
  }
  if (v.next !== 0n) {
    const next = await readEpoch(nodeList, v.next);
    expect(next.prev, `${at} next's prev`).to.equal(epoch);
    expect(next.state, `${at} links a cancelled successor`).to.not.equal(EpochState.Cancelled);
  }
  if (v.state !== EpochState.Cancelled) {
    expect((await nodeList.getEpochInfo(v.prev)).nextEpoch, `${at} prev's next`).to.equal(epoch);
  }
  if (v.state === EpochState.Current || v.state === EpochState.Transitioning) {
    expect(epoch, `${at} serves but is not current`).to.equal(current);
  }
  if (v.state === EpochState.Retired) expect(epoch < current, `${at} retired but not behind current`).to.equal(true);
}

async function checkStep(nodeList: NodeList, ghost: Ghost, touched: bigint[], where: string) {
  const current = await nodeList.currentEpoch();
  expect(current >= ghost.currentEpoch, `${where}: currentEpoch moved back from ${ghost.currentEpoch} to ${current}`).to.equal(true);
  ghost.currentEpoch = current;
  for (const epoch of new Set([...touched, current])) await checkEpoch(nodeList, ghost, epoch, current, where);
}

async function checkAllEpochs(nodeList: NodeList, ghost: Ghost, where: string) {
  ghost.verifiedLists.clear();
  const count = await nodeList.epochCount();
  const current = await nodeList.currentEpoch();
  for (let epoch = 0n; epoch <= count + 1n; epoch++) await checkEpoch(nodeList, ghost, epoch, current, where);
}
