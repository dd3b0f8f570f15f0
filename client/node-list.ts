/**
 * Reads an epoch's node set from the NodeList contract over the chain's own JSON-RPC (`eth_call`), so that a DApp
 * needs only the chain's URL and the contract's address: no ethers, no ABI file. The few return types involved
 * (uint256, address[], a struct of strings and uint256s) are decoded here by the Solidity ABI's rules.
 */
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";

import { JsonRpcClient } from "./jrpc.ts";
import type { Network } from "./network.ts";

/** Why {@link networkFromNodeList} could not read a network. */
export class NodeListError extends Error {
  override readonly name = "NodeListError";
  constructor(
    /**
     * `CHAIN_READ_FAILED`: the chain did not answer, refused a call (no NodeList at that address?) or answered
     * something that does not decode. `NO_CURRENT_EPOCH`: no epoch has been activated yet. `INCOMPLETE_EPOCH`: the
     * epoch asked for has fewer listed nodes than its n (it is still registering).
     */
    readonly code: "CHAIN_READ_FAILED" | "NO_CURRENT_EPOCH" | "INCOMPLETE_EPOCH",
    message: string,
  ) {
    super(message);
  }
}

/** Where the NodeList is and how to reach its nodes. */
export interface NodeListSource {
  /** The chain's JSON-RPC URL, e.g. `http://127.0.0.1:8545`. */
  rpcUrl: string;
  /** The NodeList contract's address. */
  nodeList: string;
  /** The epoch to read (default: the contract's `currentEpoch()`, the one serving users). */
  epoch?: number;
  /**
   * The scheme of the nodes' endpoints, `<scheme>://<declaredIp>/jrpc` (default `https`; a local devnet's nodes
   * serve `http`).
   */
  scheme?: "https" | "http";
}

/**
 * The network of the NodeList's current epoch (or `source.epoch`), read from the chain at one block so that the
 * epoch, its node list and every node's details belong to the same moment.
 *
 * @throws {@link NodeListError} when the chain cannot be read or the epoch does not serve yet.
 * @example
 * const network = await networkFromNodeList({ rpcUrl: "https://rpc.example", nodeList: "0x5FbD…0aa3" });
 */
export async function networkFromNodeList(
  source: NodeListSource,
  options: { timeoutMs?: number; fetch?: typeof fetch } = {},
): Promise<Network> {
  if (!/^0x[0-9a-fA-F]{40}$/.test(source.nodeList))
    throw new NodeListError("CHAIN_READ_FAILED", `NodeList address ${source.nodeList} is not a 20-byte hex address`);
  const rpc = new JsonRpcClient(options.timeoutMs, options.fetch);
  const chain = async (method: string, params: unknown[]): Promise<unknown> => {
    const outcome = await rpc.call(source.rpcUrl, method, params);
    if (outcome.result === undefined || outcome.result === null) {
      const why = outcome.failed ?? outcome.error?.message ?? "no result";
      throw new NodeListError("CHAIN_READ_FAILED", `${method} at ${source.rpcUrl} failed: ${why}`);
    }
    return outcome.result;
  };
  const block = hexString(await chain("eth_blockNumber", []), "eth_blockNumber");
  const call = async (signature: string, ...args: (bigint | string)[]): Promise<AbiReader> => {
    const data = "0x" + selector(signature) + args.map(encodeWord).join("");
    const result = hexString(await chain("eth_call", [{ to: source.nodeList, data }, block]), signature);
    return new AbiReader(result, `${signature} of ${source.nodeList}`);
  };

  const epoch = source.epoch !== undefined ? BigInt(source.epoch) : (await call("currentEpoch()")).uint(0);
  if (epoch === 0n) throw new NodeListError("NO_CURRENT_EPOCH", `NodeList ${source.nodeList} has no current epoch yet`);
  const info = await call("getEpochInfo(uint256)", epoch);
  const n = info.uint(32);
  const t = info.uint(96);
  const addresses = info.addressArray(Number(info.uint(128)));
  if (BigInt(addresses.length) !== n || n === 0n)
    throw new NodeListError("INCOMPLETE_EPOCH", `epoch ${epoch} lists ${addresses.length} of its ${n} nodes`);
  const nodes = await Promise.all(
    addresses.map(async (address) => {
      const details = await call("getNodeDetailsForEpoch(uint256,address)", epoch, address);
      // One struct with dynamic members: the first word is the offset of the tuple, the tuple's offsets are relative
      // to its start (declaredIp, position, pubKx, pubKy, tmP2PListenAddress, p2pListenAddress).
      const tuple = Number(details.uint(0));
      return {
        declaredIp: details.string(tuple + Number(details.uint(tuple))),
        position: Number(details.uint(tuple + 32)),
        x: details
          .uint(tuple + 64)
          .toString(16)
          .padStart(64, "0"),
        y: details
          .uint(tuple + 96)
          .toString(16)
          .padStart(64, "0"),
      };
    }),
  );
  nodes.sort((a, b) => a.position - b.position);
  const deploymentBlock = (await call("deploymentBlock()")).uint(0);
  const header = (await chain("eth_getBlockByNumber", ["0x" + deploymentBlock.toString(16), false])) as {
    hash?: unknown;
  };
  const chainId = BigInt(hexString(await chain("eth_chainId", []), "eth_chainId")).toString();

  const scheme = source.scheme ?? "https";
  return {
    endpoints: nodes.map((node) => `${scheme}://${node.declaredIp}/jrpc`),
    indexes: nodes.map((node) => node.position),
    nodePublicKeys: nodes.map(({ x, y }) => ({ x, y })),
    t: Number(t),
    deployment: {
      chainId,
      nodeList: source.nodeList.toLowerCase(),
      deploymentBlockHash: hexString(header.hash, "the deployment block's hash"),
    },
    epoch: Number(epoch),
  };
}

function selector(signature: string): string {
  return bytesToHex(keccak_256(new TextEncoder().encode(signature)).subarray(0, 4));
}

/** A uint256 or an address as one 32-byte ABI word. */
function encodeWord(value: bigint | string): string {
  const hex = typeof value === "bigint" ? value.toString(16) : value.replace(/^0x/, "").toLowerCase();
  return hex.padStart(64, "0");
}

function hexString(value: unknown, what: string): string {
  if (typeof value !== "string" || !/^0x[0-9a-fA-F]*$/.test(value))
    throw new NodeListError("CHAIN_READ_FAILED", `${what}: the chain answered ${JSON.stringify(value)}, not hex`);
  return value.toLowerCase();
}

/** Reads the words of an ABI-encoded return value by byte offset, refusing to read past its end. */
class AbiReader {
  readonly #bytes: Uint8Array;

  constructor(
    hex: string,
    readonly what: string,
  ) {
    this.#bytes = hexToBytes(hex.slice(2).length % 2 === 0 ? hex.slice(2) : "0" + hex.slice(2));
  }

  #slice(offset: number, length: number): Uint8Array {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > this.#bytes.length)
      throw new NodeListError(
        "CHAIN_READ_FAILED",
        `${this.what} returned ${this.#bytes.length} bytes, too few (no NodeList there?)`,
      );
    return this.#bytes.subarray(offset, offset + length);
  }

  uint(offset: number): bigint {
    return BigInt("0x" + bytesToHex(this.#slice(offset, 32)));
  }

  /** The address[] whose length word is at `at`. */
  addressArray(at: number): string[] {
    const length = this.#length(at, 32);
    return Array.from({ length }, (_, i) => "0x" + bytesToHex(this.#slice(at + 32 + 32 * i + 12, 20)));
  }

  /** The UTF-8 string whose length word is at `at`. */
  string(at: number): string {
    return new TextDecoder().decode(this.#slice(at + 32, this.#length(at, 1)));
  }

  /** The element count at `at`, checked to fit in what was returned before anything is allocated for it. */
  #length(at: number, elementSize: number): number {
    const length = this.uint(at);
    this.#slice(at + 32, Number(length) * elementSize);
    return Number(length);
  }
}
