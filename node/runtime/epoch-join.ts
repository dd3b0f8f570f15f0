/**
 * Joining the network: binds the data directory to the deployment, finds this node's epoch on-chain, lists the node,
 * and waits for the epoch's turn (current, or in a successor epoch the handover to it started). Owns nothing after
 * that: it returns what it learned.
 *
 * Must never touch the data directory before it is bound to this deployment and node key.
 */
import type { Logger } from "pino";

import { readDeploymentIdentity } from "../chain/deployment-identity.ts";
import { epochStateName } from "../chain/epoch-state.ts";
import type { EpochView, Registry } from "../chain/registry.ts";
import type { NodeConfig } from "../config.ts";
import { closeToOthers } from "../store/close-to-others.ts";
import { bindDataDir, type DeploymentIdentity } from "../store/deployment-binding.ts";
import { bindDatabase, describeDatabase, retireEpochRows } from "../store/postgres-binding.ts";
import type { PostgresDatabase } from "../store/postgres-database.ts";
import { nodeIndex, type NodeIndex } from "./node-index.ts";
import { eraseRetiredEpochs } from "./retired-epochs.ts";

/**
 * The newest epoch that whitelists this node's key retired (the node was down when its handover completed): the node
 * erased its data of that epoch and has nothing to run until governance whitelists its key in a newer epoch. An
 * operator restarts it then; a node that idled in wait would look alive while it serves nothing.
 */
export class EpochRetiredError extends Error {
  override readonly name = "EpochRetiredError";
}

export interface JoinedEpoch {
  epoch: EpochView;
  self: NodeIndex;
  /**
   * In a successor epoch: the epoch it takes (or took) over from, and the transition attempt this node runs. Its nodes
   * run their BFT network for the handover only, and serve once it completed; each attempt has its own BFT chain and
   * handover id.
   */
  successor: { from: EpochView; attempt: number } | undefined;
  /** The deployment the data directory is bound to, which every signature of the node names (and a retired epoch's
   * marker carries). */
  deployment: DeploymentIdentity;
}

export async function joinEpoch(
  config: NodeConfig,
  registry: Registry,
  log: Logger,
  database?: PostgresDatabase,
): Promise<JoinedEpoch> {
  // Before anything touches the data directory, or the chain sees this node: refuse another deployment's data.
  const deployment = await readDeploymentIdentity(registry);
  if ((await bindDataDir(config.dataDir, deployment)) === "created")
    log.info({ dataDir: config.dataDir }, "bound the data directory to this deployment and node key");
  if (database && (await bindDatabase(database, deployment)) === "created")
    log.info({ database: describeDatabase(database.url) }, "bound the database to this deployment and node key");
  const previousMode = await closeToOthers(config.dataDir);
  if (previousMode !== undefined)
    log.warn(
      { dataDir: config.dataDir, previousMode: previousMode.toString(8).padStart(4, "0") },
      "the data directory was open to other users (an older version's): made it 0700",
    );
  // Before anything else: no retired epoch's secrets outlive this start, whatever happens after it.
  const retired = await eraseRetiredEpochs(config.dataDir, deployment, registry, log);
  // Idempotent: the rows of an epoch that retired while the node was down, or that a crash left behind.
  if (database) for (const epoch of retired) await retireEpochRows(database, epoch);
  const number = await registry.findOwnEpoch();
  if (number === undefined)
    throw new Error(`node key ${registry.address} is not whitelisted in any epoch of ${config.chain.nodeList}`);
  const status = await registry.call("getEpochStatus", (c) => c.getEpochStatus(number));
  if (epochStateName(status.state) === "Retired")
    throw new EpochRetiredError(
      `epoch ${number} retired while this node was down (its handover to the next epoch completed); the node erased ` +
        `its data of that epoch but for the RETIRED marker and the block store, and serves it no more. Node key ` +
        `${registry.address} is in no newer epoch: start the node again once governance whitelists it in one.`,
    );
  await registry.ensureListed(number, { declaredIp: config.api.declaredIp, p2pListenAddress: config.p2p.announce });
  log.info({ epoch: number, address: registry.address }, "listed; waiting for the epoch to become current");
  const { prevEpoch } = await registry.readEpoch(number);
  const state = await registry.waitForTurn(number, prevEpoch);
  const epoch = await registry.readEpoch(number);
  let successor: JoinedEpoch["successor"];
  if (prevEpoch !== 0) {
    const { transitionAttempt } = await registry.call("getEpochStatus", (c) => c.getEpochStatus(number));
    successor = { from: await registry.readEpoch(prevEpoch), attempt: Number(transitionAttempt) };
    if (state === "Handover")
      log.info({ epoch: number, from: prevEpoch }, "the chain started the handover to this epoch");
  }
  const own = epoch.nodes.find((n) => n.address === registry.address);
  if (!own) throw new Error(`node ${registry.address} is not in the node list of epoch ${number}`);
  const self = nodeIndex(own.index);
  log.info({ epoch: number, mode: state, index: self, n: epoch.n }, "starting");
  return { epoch, self, successor, deployment };
}
