/**
 * What the status page shows, read by the UI server: the epoch from the chain (the NodeList named by the devnet's
 * network.json), each node's `/healthz` and `/status`, and a history of the key buffer. The server samples on a timer,
 * so that the history does not depend on a page being open, and every page gets the latest sample.
 *
 * The nodes' operator endpoints send no CORS headers and stay that way: they are for their operator, not for any web
 * page, and the server needs the chain's view beside them anyway. So the page asks this server, never a node.
 */
import { readFile } from "node:fs/promises";

import { JsonRpcProvider, Network } from "ethers";

import { NodeList__factory, type NodeList } from "../../typechain-types/index.ts";
import { epochStateName, pssStatusName } from "../../node/chain/epoch-state.ts";
import type { StatusJson } from "../../node/api/operator-endpoints.ts";
import type {
  BufferSample,
  EpochView,
  HandoverView,
  NetworkStatusView,
  NodeView,
} from "../../ui/status/network-status.ts";

export interface MonitorOptions {
  /** The devnet's network.json (read at every sample: a handover rewrites it). */
  networkFile: string;
  sampleEveryMs?: number;
  /** How much key-buffer history to keep. */
  historyMs?: number;
  /** How long a node may take to answer before it counts as down. */
  nodeTimeoutMs?: number;
}

interface Chain {
  rpcUrl: string;
  chainId: string;
  nodeList: string;
}

const ZERO_HASH = "0x" + "00".repeat(32);

export class NetworkMonitor {
  readonly sampleEveryMs: number;
  readonly #historyMs: number;
  readonly #nodeTimeoutMs: number;
  #history: BufferSample[] = [];
  #latest: Promise<NetworkStatusView> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #contract: { key: string; provider: JsonRpcProvider; nodeList: NodeList } | undefined;

  constructor(readonly options: MonitorOptions) {
    this.sampleEveryMs = options.sampleEveryMs ?? 3000;
    this.#historyMs = options.historyMs ?? 10 * 60_000;
    this.#nodeTimeoutMs = options.nodeTimeoutMs ?? 1500;
  }

  start(): void {
    const tick = () => {
      this.#latest = this.#sample();
      // The next sample starts once this one ended, so slow nodes never pile samples up.
      void this.#latest.finally(() => {
        if (this.#timer !== undefined) this.#timer = setTimeout(tick, this.sampleEveryMs);
      });
    };
    this.#timer = setTimeout(tick, 0);
  }

  /** The latest sample (the first one is awaited). */
  latest(): Promise<NetworkStatusView> {
    this.#latest ??= this.#sample();
    return this.#latest;
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#contract?.provider.destroy();
  }

  async #sample(): Promise<NetworkStatusView> {
    const base = { sampledAt: Date.now(), nodes: [], sampleEveryMs: this.sampleEveryMs };
    let chain: Chain;
    try {
      chain = (JSON.parse(await readFile(this.options.networkFile, "utf8")) as { chain: Chain }).chain;
    } catch {
      return {
        ...base,
        history: this.#history,
        error: "the devnet is still starting (it writes network.json once its nodes serve)",
      };
    }
    let view: Omit<NetworkStatusView, "history">;
    try {
      view = { ...base, chain, ...(await this.#read(this.#connect(chain))) };
    } catch (error) {
      const why = (error as { shortMessage?: string }).shortMessage ?? (error as Error).message;
      return { ...base, chain, history: this.#history, error: `the chain at ${chain.rpcUrl} did not answer: ${why}` };
    }
    this.#record(view);
    return { ...view, history: this.#history };
  }

  #connect(chain: Chain): NodeList {
    const key = `${chain.rpcUrl} ${chain.nodeList}`;
    if (this.#contract?.key !== key) {
      this.#contract?.provider.destroy();
      // A static network: ethers then never retries a detection in the background while the chain is down.
      const network = Network.from(BigInt(chain.chainId));
      const provider = new JsonRpcProvider(chain.rpcUrl, network, { staticNetwork: network });
      this.#contract = { key, provider, nodeList: NodeList__factory.connect(chain.nodeList, provider) };
    }
    return this.#contract.nodeList;
  }

  async #read(nodeList: NodeList): Promise<Pick<NetworkStatusView, "epoch" | "handover" | "nodes">> {
    const current = await nodeList.currentEpoch();
    if (current === 0n) throw new Error("no epoch is current yet");
    const [epoch, epochNodes, next] = await this.#epoch(nodeList, current);
    let handover: HandoverView | undefined;
    let nextNodes: Promise<NodeView[]> = Promise.resolve([]);
    // A successor that is still registering is governance's preparation; a running handover is the network's work.
    const pss = next === 0n ? "None" : pssStatusName(await nodeList.getPssStatus(current, next));
    if (pss === "Running") {
      const [to, toNodes] = await this.#epoch(nodeList, next);
      const confirmations = await Promise.all(
        toNodes.map(({ address }) => nodeList.getHandoverConfirmation(next, address)),
      );
      const status = await nodeList.getEpochStatus(next);
      handover = {
        to,
        pssStatus: pss,
        attempt: Number(status.transitionAttempt),
        confirmed: confirmations.filter((digest) => digest !== ZERO_HASH).length,
        needed: to.n - to.t,
      };
      nextNodes = Promise.all(toNodes.map((node) => this.#node(Number(next), node)));
    }
    const nodes = [...(await Promise.all(epochNodes.map((node) => this.#node(epoch.id, node)))), ...(await nextNodes)];
    return { epoch, handover, nodes };
  }

  async #epoch(
    nodeList: NodeList,
    id: bigint,
  ): Promise<[EpochView, { index: number; address: string; declaredIp: string }[], bigint]> {
    const [, n, k, t, list, , next] = await nodeList.getEpochInfo(id);
    const status = await nodeList.getEpochStatus(id);
    const nodes = await Promise.all(
      list.map(async (address) => {
        const details = await nodeList.getNodeDetailsForEpoch(id, address);
        return { index: Number(details.position), address, declaredIp: details.declaredIp };
      }),
    );
    const view = {
      id: Number(id),
      n: Number(n),
      k: Number(k),
      t: Number(t),
      state: epochStateName(status.state),
      listed: nodes.length,
    };
    return [view, nodes.sort((a, b) => a.index - b.index), next];
  }

  async #node(epoch: number, node: { index: number; address: string; declaredIp: string }): Promise<NodeView> {
    const endpoint = `http://${node.declaredIp}`;
    const view: NodeView = { epoch, index: node.index, address: node.address, endpoint, health: "down" };
    const get = (path: string) => fetch(`${endpoint}${path}`, { signal: AbortSignal.timeout(this.#nodeTimeoutMs) });
    const [health, status] = await Promise.allSettled([get("/healthz"), get("/status")]);
    if (health.status === "rejected") {
      const error = health.reason as Error;
      const cause = (error.cause as Error | undefined)?.message;
      view.reason =
        error.name === "TimeoutError"
          ? `no answer within ${this.#nodeTimeoutMs} ms`
          : `no answer (${cause ?? error.message})`;
      return view;
    }
    const healthBody = (await health.value.json().catch(() => ({}))) as { refusing?: string };
    view.health = health.value.status === 200 ? "serving" : "refusing";
    if (view.health === "refusing") view.reason = healthBody.refusing ?? `HTTP ${health.value.status}`;
    if (status.status === "fulfilled" && status.value.ok) {
      const s = (await status.value.json()) as StatusJson;
      view.bftHeight = s.bft.height;
      view.peers = s.peersConnected;
      view.cryptoBackend = s.cryptoBackend;
      view.keys = {
        generated: s.keys.published,
        assigned: s.keys.assigned,
        free: s.keys.free,
        assignedPerMinute: s.keys.assignedPerMinute,
        minutesUntilEmpty: s.keys.minutesUntilEmpty,
      };
      if (view.health === "refusing" && s.refusing) view.reason = s.refusing;
    }
    return view;
  }

  /** Appends the current epoch's key buffer (the median of the nodes that answered) and drops what is too old. */
  #record(view: Omit<NetworkStatusView, "history">): void {
    const reports = view.nodes.filter((node) => node.epoch === view.epoch?.id && node.keys !== undefined);
    const median = (values: number[]) =>
      values.length === 0 ? null : values.sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;
    this.#history = [
      ...this.#history.filter((sample) => sample.at > view.sampledAt - this.#historyMs),
      {
        at: view.sampledAt,
        free: median(reports.map((node) => node.keys!.free)),
        assigned: median(reports.map((node) => node.keys!.assigned)),
      },
    ];
  }
}
