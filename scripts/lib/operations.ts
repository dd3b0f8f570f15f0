/**
 * Governance and operator operations on the NodeList contract, shared by the Hardhat tasks and the devnet (`npm start`).
 * Each waits for its transaction and turns a refusal into an error that names the contract's custom error.
 */
import type { ContractTransactionReceipt, ContractTransactionResponse, Signer } from "ethers";

import { NodeList__factory, type NodeList } from "../../typechain-types/index.ts";
import { epochStateName, pssStatusName } from "../../node/chain/epoch-state.ts";
import { publicKeyCoordinates } from "../../node/chain/node-key.ts";
import { thresholdsError, type Thresholds } from "../../node/chain/thresholds.ts";

/** Endpoints a node declares on-chain: `declaredIp` is host:port of its JSON-RPC API, `p2p` its libp2p multiaddr. */
export interface NodeEndpoints {
  declaredIp: string;
  p2pListenAddress: string;
  tmP2PListenAddress?: string;
}

export class NodeListError extends Error {
  override readonly name = "NodeListError";
  constructor(
    message: string,
    readonly reason?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Sends a transaction and waits for it, naming the custom error if the contract refuses it. */
export async function transact(
  nodeList: NodeList,
  what: string,
  send: () => Promise<ContractTransactionResponse>,
): Promise<ContractTransactionReceipt> {
  try {
    const receipt = await (await send()).wait();
    if (receipt === null) throw new NodeListError(`${what}: the transaction was dropped`);
    return receipt;
  } catch (error) {
    if (error instanceof NodeListError) throw error;
    const reason = describeRevert(nodeList, error);
    if (reason === undefined) throw error;
    throw new NodeListError(`${what} was refused: ${reason}`, reason, { cause: error });
  }
}

/** "ErrorName(arg=value, ...)" for a revert of one of the contract's custom errors, else undefined. */
export function describeRevert(nodeList: NodeList, error: unknown): string | undefined {
  const data = findRevertData(error);
  if (data === undefined) return undefined;
  const parsed = nodeList.interface.parseError(data);
  if (parsed === null) return undefined;
  const args = parsed.fragment.inputs.map((input, i) => {
    const value: unknown = parsed.args[i];
    if (input.name === "state" || input.name === "expected") return `${input.name}=${epochStateName(value as bigint)}`;
    return `${input.name}=${String(value)}`;
  });
  return `${parsed.name}(${args.join(", ")})`;
}

function findRevertData(error: unknown): string | undefined {
  // ethers puts revert data on the error (`data`) or on the JSON-RPC error it wraps (`info.error.data`).
  for (let e: unknown = error, depth = 0; e !== null && typeof e === "object" && depth < 5; depth++) {
    const candidate = e as { data?: unknown; info?: { error?: { data?: unknown } }; error?: unknown; cause?: unknown };
    for (const data of [candidate.data, candidate.info?.error?.data]) {
      if (typeof data === "string" && /^0x[0-9a-fA-F]{8}/.test(data)) return data;
    }
    e = candidate.error ?? candidate.cause;
  }
  return undefined;
}

export async function deployNodeList(deployer: Signer, governance?: string): Promise<NodeList> {
  const nodeList = await new NodeList__factory(deployer).deploy(governance ?? (await deployer.getAddress()));
  await nodeList.waitForDeployment();
  return nodeList;
}

export function connectNodeList(address: string, runner: Signer): NodeList {
  return NodeList__factory.connect(address, runner);
}

/** Creates the successor of the current epoch (the genesis while none is current) and returns its id. */
export async function createEpoch(nodeList: NodeList, thresholds: Thresholds): Promise<bigint> {
  const invalid = thresholdsError(thresholds);
  if (invalid !== undefined) throw new NodeListError(`invalid thresholds: ${invalid}`);
  const { n, k, t } = thresholds;
  const receipt = await transact(nodeList, "createEpoch", () => nodeList.createEpoch(n, k, t));
  for (const log of receipt.logs) {
    const parsed = nodeList.interface.parseLog(log);
    if (parsed?.name === "EpochCreated") return parsed.args[0] as bigint;
  }
  throw new NodeListError("createEpoch: no EpochCreated event in the receipt");
}

export async function whitelistNodes(nodeList: NodeList, epoch: bigint, nodes: string[]): Promise<void> {
  await transact(nodeList, "whitelistNodes", () => nodeList.whitelistNodes(epoch, nodes));
}

/**
 * Lists a node in an epoch. `nodeKey` must be the node's own key (with a provider): it sends the transaction and so
 * proves the key is its own. Returns the node's 1-based position.
 */
export async function registerNode(
  nodeList: NodeList,
  epoch: bigint,
  nodeKey: Parameters<typeof publicKeyCoordinates>[0] & Signer,
  endpoints: NodeEndpoints,
): Promise<bigint> {
  const { pubKx, pubKy } = publicKeyCoordinates(nodeKey);
  const asNode = nodeList.connect(nodeKey);
  const { declaredIp, p2pListenAddress, tmP2PListenAddress = "" } = endpoints;
  await transact(nodeList, "listNode", () =>
    asNode.listNode(epoch, declaredIp, pubKx, pubKy, tmP2PListenAddress, p2pListenAddress),
  );
  return (await nodeList.getNodeDetailsForEpoch(epoch, await nodeKey.getAddress())).position;
}

export async function activateEpoch(nodeList: NodeList, epoch: bigint): Promise<void> {
  await transact(nodeList, "activateEpoch", () => nodeList.activateEpoch(epoch));
}

export async function startTransition(nodeList: NodeList, epoch: bigint): Promise<void> {
  await transact(nodeList, "startTransition", () => nodeList.startTransition(epoch));
}

export async function abortTransition(nodeList: NodeList, epoch: bigint): Promise<void> {
  await transact(nodeList, "abortTransition", () => nodeList.abortTransition(epoch));
}

export interface EpochDescription {
  epoch: bigint;
  currentEpoch: bigint;
  n: bigint;
  k: bigint;
  t: bigint;
  state: string;
  prevEpoch: bigint;
  nextEpoch: bigint;
  transitionAttempt: bigint;
  pssStatusToNext: string;
  nodes: { position: bigint; address: string; declaredIp: string; p2pListenAddress: string }[];
}

export async function describeEpoch(nodeList: NodeList, epoch?: bigint): Promise<EpochDescription> {
  const currentEpoch = await nodeList.currentEpoch();
  const id = epoch ?? currentEpoch;
  const [, n, k, t, list, prevEpoch, nextEpoch] = await nodeList.getEpochInfo(id);
  const status = await nodeList.getEpochStatus(id);
  const nodes = await Promise.all(
    list.map(async (address) => {
      const d = await nodeList.getNodeDetailsForEpoch(id, address);
      return { position: d.position, address, declaredIp: d.declaredIp, p2pListenAddress: d.p2pListenAddress };
    }),
  );
  return {
    epoch: id,
    currentEpoch,
    n,
    k,
    t,
    state: epochStateName(status.state),
    prevEpoch,
    nextEpoch,
    transitionAttempt: status.transitionAttempt,
    pssStatusToNext: pssStatusName(nextEpoch === 0n ? 0n : await nodeList.getPssStatus(id, nextEpoch)),
    nodes,
  };
}

export function formatEpoch(d: EpochDescription): string {
  const lines = [
    `epoch ${d.epoch} (${d.state}${d.epoch === d.currentEpoch ? ", current" : ""}): n=${d.n} k=${d.k} t=${d.t}` +
      ` prev=${d.prevEpoch} next=${d.nextEpoch}` +
      (d.nextEpoch === 0n ? "" : `, handover to next: ${d.pssStatusToNext}`),
    `  ${d.nodes.length}/${d.n} nodes listed`,
    ...d.nodes.map(
      (node) => `  ${node.position}. ${node.address}  api ${node.declaredIp}  p2p ${node.p2pListenAddress}`,
    ),
  ];
  return lines.join("\n");
}
