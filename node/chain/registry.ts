/**
 * The node's view of the NodeList contract: which epoch it belongs to, its registration, and the epoch's node list.
 * Every chain call is retried with backoff, so an outage of the RPC endpoint only delays the node; a contract that
 * is gone (the chain was reset) is a fatal, clearly named error.
 */
import { JsonRpcProvider, Wallet, type Provider } from "ethers";

import { NodeList__factory, type NodeList } from "../../typechain-types/index.ts";
import { EpochState, epochStateName } from "./epoch-state.ts";
import { publicKeyCoordinates } from "./node-key.ts";

export class ChainResetError extends Error {
  override readonly name = "ChainResetError";
}

export class NotWhitelistedError extends Error {
  override readonly name = "NotWhitelistedError";
}

export interface EpochNode {
  /** 1-based position in the epoch's list: the node's share index. */
  index: number;
  address: string;
  pubKx: bigint;
  pubKy: bigint;
  declaredIp: string;
  p2pListenAddress: string;
}

export interface EpochView {
  epoch: number;
  n: number;
  k: number;
  t: number;
  state: string;
  prevEpoch: number;
  nextEpoch: number;
  nodes: EpochNode[];
}

export interface RegistryOptions {
  rpcUrl: string;
  nodeList: string;
  nodeKey: string;
  pollingIntervalMs: number;
  log?: (message: string) => void;
  signal?: AbortSignal;
}

const BACKOFF_MS = [200, 500, 1000, 2000, 5000];

export class Registry {
  readonly provider: JsonRpcProvider;
  readonly wallet: Wallet;
  readonly contract: NodeList;

  constructor(private readonly options: RegistryOptions) {
    this.provider = new JsonRpcProvider(options.rpcUrl, undefined, {
      pollingInterval: options.pollingIntervalMs,
      staticNetwork: false,
    });
    this.wallet = new Wallet(options.nodeKey, this.provider);
    this.contract = NodeList__factory.connect(options.nodeList, this.wallet);
  }

  get address(): string {
    return this.wallet.address;
  }

  /** Runs a chain call, retrying transport failures with backoff; a missing contract is a ChainResetError. */
  async call<T>(what: string, action: (contract: NodeList, provider: Provider) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      this.options.signal?.throwIfAborted();
      try {
        return await action(this.contract, this.provider);
      } catch (error) {
        if (isContractError(error)) throw error;
        const code = await this.provider.getCode(this.options.nodeList).catch(() => undefined);
        if (code === "0x") {
          throw new ChainResetError(
            `no contract at ${this.options.nodeList} on ${this.options.rpcUrl}: the chain was reset or the address is wrong`,
          );
        }
        const delay = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)]!;
        this.options.log?.(`${what} failed (${(error as Error).message.split("\n")[0]}); retrying in ${delay} ms`);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** The newest epoch whose whitelist holds this node's key, or undefined. */
  async findOwnEpoch(): Promise<number | undefined> {
    const count = Number(await this.call("epochCount", (c) => c.epochCount()));
    for (let epoch = count; epoch >= 1; epoch--) {
      if (await this.call("isWhitelisted", (c) => c.isWhitelisted(epoch, this.address))) return epoch;
    }
    return undefined;
  }

  async readEpoch(epoch: number): Promise<EpochView> {
    const [, n, k, t, list, prevEpoch, nextEpoch] = await this.call("getEpochInfo", (c) => c.getEpochInfo(epoch));
    const status = await this.call("getEpochStatus", (c) => c.getEpochStatus(epoch));
    const nodes = await Promise.all(
      list.map(async (address) => {
        const d = await this.call("getNodeDetailsForEpoch", (c) => c.getNodeDetailsForEpoch(epoch, address));
        return {
          index: Number(d.position),
          address,
          pubKx: d.pubKx,
          pubKy: d.pubKy,
          declaredIp: d.declaredIp,
          p2pListenAddress: d.p2pListenAddress,
        };
      }),
    );
    return {
      epoch,
      n: Number(n),
      k: Number(k),
      t: Number(t),
      state: epochStateName(status.state),
      prevEpoch: Number(prevEpoch),
      nextEpoch: Number(nextEpoch),
      nodes,
    };
  }

  /** Lists this node in `epoch` unless it is already listed; refuses if its key is not whitelisted there. */
  async ensureListed(epoch: number, endpoints: { declaredIp: string; p2pListenAddress: string }): Promise<void> {
    if (await this.call("nodeRegistered", (c) => c.nodeRegistered(epoch, this.address))) return;
    if (!(await this.call("isWhitelisted", (c) => c.isWhitelisted(epoch, this.address)))) {
      throw new NotWhitelistedError(`node key ${this.address} is not whitelisted for epoch ${epoch}`);
    }
    const { pubKx, pubKy } = publicKeyCoordinates(this.wallet);
    await this.call("listNode", async (c) => {
      const tx = await c.listNode(epoch, endpoints.declaredIp, pubKx, pubKy, "", endpoints.p2pListenAddress);
      await tx.wait();
    });
    this.options.log?.(`listed in epoch ${epoch}`);
  }

  /**
   * Resolves when this node's epoch has work: "Serving" once it is current (or, after a handover, handing over in
   * turn); "Handover" when it is the successor of `prevEpoch` (not 0) and the chain started the handover to it.
   */
  async waitForTurn(epoch: number, prevEpoch: number): Promise<"Serving" | "Handover"> {
    const stateOf = async (e: number) =>
      epochStateName((await this.call("getEpochStatus", (c) => c.getEpochStatus(e))).state);
    for (;;) {
      const state = await stateOf(epoch);
      if (state === "Current" || state === "Transitioning") return "Serving";
      if (state === "Ready" && prevEpoch !== 0 && (await stateOf(prevEpoch)) === "Transitioning") return "Handover";
      await new Promise((resolve) => setTimeout(resolve, this.options.pollingIntervalMs));
      this.options.signal?.throwIfAborted();
    }
  }

  destroy(): void {
    this.provider.destroy();
  }
}

/** A revert or a call error of the contract itself (not the transport): retrying would not help. */
function isContractError(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === "CALL_EXCEPTION" || code === "INSUFFICIENT_FUNDS" || code === "NONCE_EXPIRED";
}

export { EpochState };
