/** The node set a DApp talks to: what `login` and `getOrAssignKey` need to know about one epoch of the network. */
import type { Deployment } from "../node/crypto/domain.ts";

export type { Deployment };

/**
 * One epoch's nodes and thresholds. Build it with {@link networkFromNodeList} (from the chain) or
 * {@link networkFromDescription} (from a devnet's `network.json`); the SDK checks every node signature against it.
 */
export interface Network {
  /** JSON-RPC endpoints of the epoch's nodes (`http(s)://<declaredIp>/jrpc`), in node-list order. */
  endpoints: string[];
  /** Each endpoint's node index (its 1-based position in the node list). */
  indexes: number[];
  /** Each endpoint's node public key (64-digit lowercase hex coordinates), to check its signatures. */
  nodePublicKeys: { x: string; y: string }[];
  /** Faults tolerated by the epoch. */
  t: number;
  /**
   * The deployment the nodes serve (chain id, NodeList address, hash of the NodeList's deployment block) and their
   * epoch: a node's commitment signature counts only if it names them, so signatures of a node key reused in another
   * deployment or epoch never count.
   */
  deployment: Deployment;
  /** The epoch whose nodes these are. */
  epoch: number;
}

/** The part of a devnet's `.devnet/network.json` that {@link networkFromDescription} reads. */
export interface NetworkDescription {
  chain: { chainId: string; nodeList: string; deploymentBlockHash: string };
  nodes: readonly { index: number; endpoint: string; pubX: string; pubY: string }[];
  epoch: { id: number; t: number };
}

/**
 * The network described by a devnet's `.devnet/network.json` (or any object of the same shape).
 *
 * @example
 * const network = networkFromDescription(JSON.parse(await readFile(".devnet/network.json", "utf8")));
 */
export function networkFromDescription(description: NetworkDescription): Network {
  const { chainId, nodeList, deploymentBlockHash } = description.chain;
  return {
    deployment: { chainId, nodeList, deploymentBlockHash },
    epoch: description.epoch.id,
    endpoints: description.nodes.map((n) => n.endpoint),
    indexes: description.nodes.map((n) => n.index),
    nodePublicKeys: description.nodes.map((n) => ({ x: n.pubX.padStart(64, "0"), y: n.pubY.padStart(64, "0") })),
    t: description.epoch.t,
  };
}
