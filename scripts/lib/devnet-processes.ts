/**
 * A local network of real processes: a Hardhat chain, the NodeList with a genesis epoch, one `torus-node` OS process
 * per node (each lists itself on-chain with its own key), and a development OIDC issuer. Used by `npm start` and by
 * the process-level tests, which kill and restart nodes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

import { JsonRpcProvider, Wallet, parseEther } from "ethers";

import type { NodeList } from "../../typechain-types/index.ts";
import { freePort, startChain, type ChainProcess } from "./chain-process.ts";
import { DEV_AUDIENCE, startDevOidc, type DevOidc } from "./dev-oidc.ts";
import { startDevSigner, type DevSigner } from "./dev-signer.ts";
import * as ops from "./operations.ts";
import { EpochState } from "../../node/chain/epoch-state.ts";
import type { NodeStatus } from "../../node/api/node-status.ts";
import { thresholdsFor } from "../../node/chain/thresholds.ts";
import { encryptNodeKey } from "../../node/chain/node-keystore.ts";
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from "../../node/store/file-modes.ts";
import { forgetLog, registerLog } from "./process-logs.ts";

/**
 * The scrypt cost of the devnet's keystores: 2^12, about 20 ms per unlock, where ethers' default 2^17 (what
 * `torus-node keystore import` uses) takes about a second. The devnet's keys are throwaway keys of a local chain,
 * made and unlocked many times over by its starts and its tests; a real node key needs the default's cost.
 */
export const DEVNET_SCRYPT_N = 4096;

export interface DevnetOptions {
  dir: string;
  n: number;
  chainPort?: number;
  oidcPort?: number;
  /** The development KeyAssign signer's port (0 or absent: a free one). */
  signerPort?: number;
  batchSize?: number;
  keyBuffer?: number;
  /** Base ports; node i (1-based) gets base + i. 0 picks free ports. */
  apiBasePort?: number;
  p2pBasePort?: number;
  log?: (line: string) => void;
  /**
   * The clock skew nodes allow at an epoch boundary (see `api.epochClockSkewSeconds`); small on one machine, where
   * the chain, the issuer and the nodes share a clock, so that a login at the next epoch need not wait long.
   */
  epochClockSkewSeconds?: number;
  /**
   * Keep each node's public stores in a database of its own on this PostgreSQL server (`storage.kind: "postgres"`),
   * rather than in SQLite files under its data directory; the caller starts and stops the server.
   */
  postgres?: { createDatabase(name: string): Promise<string> };
  /** Extra config fields per node (tests give one node a different verifier list). */
  configOverride?: (i: number, config: Record<string, unknown>) => Record<string, unknown>;
}

export interface DevnetNode {
  /** 1..n in the order the processes were started (its on-chain position may differ). */
  slot: number;
  /** The epoch whose node list it is in. */
  epoch: bigint;
  key: Wallet;
  configFile: string;
  dataDir: string;
  logFile: string;
  apiUrl: string;
  apiPort: number;
  p2pAddress: string;
  process?: ChildProcess;
  exited?: Promise<number | null>;
}

export const VERIFIER_NAME = "dev";

export class Devnet {
  readonly nodes: DevnetNode[] = [];
  chain!: ChainProcess;
  provider!: JsonRpcProvider;
  nodeList!: NodeList;
  oidc!: DevOidc;
  /** The development KeyAssign signer every node trusts (torus.js's `signerHost`, the SDK's `signer`). */
  signer!: DevSigner;
  epoch = 0n;

  private constructor(readonly options: DevnetOptions) {}

  /** Starts the chain, contracts, OIDC issuer and node processes, and activates the genesis epoch. */
  static async start(options: DevnetOptions): Promise<Devnet> {
    const devnet = new Devnet(options);
    try {
      await devnet.#start();
    } catch (error) {
      await devnet.stop();
      throw error;
    }
    return devnet;
  }

  async #start(): Promise<void> {
    const { dir, n, log = () => undefined } = this.options;
    await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    // A block every second, as on a live chain: nodes handing over serve tokens issued before the newest block time.
    this.chain = await startChain({
      port: this.options.chainPort ?? 8545,
      logFile: path.join(dir, "chain.log"),
      intervalMiningMs: 1000,
    });
    this.provider = new JsonRpcProvider(this.chain.url, undefined, { pollingInterval: 200 });
    const governance = await this.provider.getSigner(0);
    this.oidc = await startDevOidc(this.options.oidcPort || (await freePort()));
    this.signer = await startDevSigner(this.options.signerPort || (await freePort()));
    log(`chain ${this.chain.url}, OIDC issuer ${this.oidc.issuer}, KeyAssign signer ${this.signer.url}`);

    this.nodeList = await ops.deployNodeList(governance);
    this.epoch = await ops.createEpoch(this.nodeList, thresholdsFor(n));
    for (let slot = 1; slot <= n; slot++) this.nodes.push(await this.#prepareNode(slot, this.epoch));
    await ops.whitelistNodes(
      this.nodeList,
      this.epoch,
      this.nodes.map((node) => node.key.address),
    );
    await this.#launch(this.epoch, this.nodes);
    log(`started ${n} node processes; they listed themselves`);
    await ops.activateEpoch(this.nodeList, this.epoch);
    log(`epoch ${this.epoch} is current`);
  }

  /** Funds the nodes' keys, starts their processes, and waits until every one listed itself in `epoch`. */
  async #launch(epoch: bigint, nodes: DevnetNode[]): Promise<void> {
    const governance = await this.provider.getSigner(0);
    for (const node of nodes) {
      await (await governance.sendTransaction({ to: node.key.address, value: parseEther("10") })).wait();
    }
    for (const node of nodes) this.spawn(node);
    await this.#waitFor(
      async () => (await this.nodeList.getNodes(epoch)).length === nodes.length,
      120_000,
      `every node of epoch ${epoch} to list itself`,
    );
  }

  /**
   * Creates the next epoch with `n` new node processes (new keys, the same verifier list), which list themselves;
   * governance then starts the transition when it wants (`ops.startTransition`).
   */
  async addSuccessorEpoch(
    n: number,
    options: { keyBuffer?: number; refillMark?: number } = {},
  ): Promise<{ epoch: bigint; nodes: DevnetNode[] }> {
    const epoch = await ops.createEpoch(this.nodeList, thresholdsFor(n));
    const nodes: DevnetNode[] = [];
    for (let i = 1; i <= n; i++) nodes.push(await this.#prepareNode(this.nodes.length + i, epoch, options));
    await ops.whitelistNodes(
      this.nodeList,
      epoch,
      nodes.map((node) => node.key.address),
    );
    this.nodes.push(...nodes);
    await this.#launch(epoch, nodes);
    return { epoch, nodes };
  }

  async #prepareNode(
    slot: number,
    epoch: bigint,
    keygen: { keyBuffer?: number; refillMark?: number } = {},
  ): Promise<DevnetNode> {
    const keyBuffer = keygen.keyBuffer ?? this.options.keyBuffer ?? 60;
    const { dir } = this.options;
    const key = new Wallet(Wallet.createRandom().privateKey, this.provider);
    const nodeDir = path.join(dir, "nodes", `node-${slot}`);
    await mkdir(nodeDir, { recursive: true, mode: PRIVATE_DIR_MODE });
    // Each node unlocks its key from an encrypted keystore, as an operator's does, with a random password beside it.
    const password = randomBytes(16).toString("hex");
    await writeFile(path.join(nodeDir, "node-key.password"), password + "\n", { mode: PRIVATE_FILE_MODE });
    const keystore = await encryptNodeKey(key.privateKey, password, { scryptN: DEVNET_SCRYPT_N });
    await writeFile(path.join(nodeDir, "node-key.json"), keystore + "\n", { mode: PRIVATE_FILE_MODE });
    const apiPort = this.options.apiBasePort ? this.options.apiBasePort + slot : await freePort();
    const p2pPort = this.options.p2pBasePort ? this.options.p2pBasePort + slot : await freePort();
    const p2pAddress = `/ip4/127.0.0.1/tcp/${p2pPort}`;
    let config: Record<string, unknown> = {
      nodeKeystore: "node-key.json",
      nodeKeyPasswordFile: "node-key.password",
      chain: { rpcUrl: this.chain.url, nodeList: await this.nodeList.getAddress(), pollingIntervalMs: 200 },
      api: {
        host: "127.0.0.1",
        port: apiPort,
        epochClockSkewSeconds: this.epochClockSkewSeconds,
        keyAssignSigner: this.signer.publicKey,
      },
      p2p: { listen: p2pAddress },
      dataDir: "data",
      verifiers: [
        {
          name: VERIFIER_NAME,
          issuer: this.oidc.issuer,
          jwksUri: this.oidc.jwksUri,
          audience: DEV_AUDIENCE,
          verifierIdClaim: "email",
          maxTokenAgeSeconds: 600,
          algorithms: ["RS256"],
        },
      ],
      keygen: {
        batchSize: this.options.batchSize ?? 4,
        keyBuffer,
        refillMark: keygen.refillMark ?? Math.floor(keyBuffer / 2),
      },
      // libsecp256k1 (npm run setup builds it); a devnet node without it refuses to start rather than run 10–50× slower.
      // No check workers: the devnet's nodes share the machine's cores already.
      crypto: { backend: "native", workers: 0 },
      logLevel: "info",
    };
    if (this.options.postgres)
      config.storage = { kind: "postgres", url: await this.options.postgres.createDatabase(`node_${slot}`) };
    config = this.options.configOverride?.(slot, config) ?? config;
    const configFile = path.join(nodeDir, "node.json");
    await writeFile(configFile, JSON.stringify(config, null, 2) + "\n", { mode: PRIVATE_FILE_MODE });
    return {
      slot,
      epoch,
      key,
      configFile,
      dataDir: path.join(nodeDir, "data"),
      logFile: path.join(nodeDir, "node.log"),
      apiUrl: `http://127.0.0.1:${apiPort}`,
      apiPort,
      p2pAddress,
    };
  }

  /** Starts (or restarts) a node's process, with extra environment variables; its output goes to its log file. */
  spawn(node: DevnetNode, env: Record<string, string> = {}): void {
    const cli = path.join(path.dirname(new URL(import.meta.url).pathname), "..", "..", "node", "cli.ts");
    const child = spawn(process.execPath, ["--import", "tsx", cli, "start", "--config", node.configFile], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    const log = createWriteStream(node.logFile, { flags: "a", mode: PRIVATE_FILE_MODE });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    node.process = child;
    node.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    registerLog(node.logFile, `node ${node.slot} of epoch ${node.epoch}`);
  }

  /** Kills a node's process (SIGKILL by default: nothing is flushed, as in a crash). */
  async kill(node: DevnetNode, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (node.process && node.process.exitCode === null && node.process.signalCode === null) {
      node.process.kill(signal);
      await node.exited;
    }
  }

  async status(node: DevnetNode): Promise<NodeStatusJson | undefined> {
    try {
      const response = await fetch(`${node.apiUrl}/status`, { signal: AbortSignal.timeout(2000) });
      return response.ok ? ((await response.json()) as NodeStatusJson) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Waits until every running node reports at least `count` published keys; reports progress. */
  async waitForKeys(
    count: number,
    timeoutMs: number,
    onProgress?: (published: number) => void,
    who = this.nodes,
  ): Promise<void> {
    await this.#waitFor(
      async () => {
        const statuses = await Promise.all(who.map((node) => this.status(node)));
        const published = Math.min(...statuses.map((s) => s?.keys.published ?? 0));
        onProgress?.(published);
        return published >= count;
      },
      timeoutMs,
      `${count} published keys on every node`,
    );
  }

  async #waitFor(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
      for (const node of this.nodes) {
        if (node.process && node.process.exitCode !== null && node.process.exitCode !== 0 && !node.process.killed) {
          // The log is gone once a test cleans up: carry its end in the error, where CI shows it.
          const tail = (await readFile(node.logFile, "utf8").catch(() => "")).split("\n").slice(-15).join("\n");
          throw new Error(`node ${node.slot} exited with code ${node.process.exitCode}; the end of its log:\n${tail}`);
        }
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /**
   * Creates the next epoch with `n` node processes, starts the transition, and waits until the chain completed the
   * handover and every new node serves; `onProgress` hears what happens.
   */
  async transition(n: number, timeoutMs = 600_000, onProgress: (what: string) => void = () => undefined) {
    const { epoch, nodes } = await this.addSuccessorEpoch(n);
    onProgress(`epoch ${epoch}: ${n} node processes listed themselves`);
    await ops.startTransition(this.nodeList, epoch);
    onProgress(`the transition from epoch ${this.epoch} to epoch ${epoch} started`);
    await this.#waitFor(
      async () => Number((await this.nodeList.getEpochStatus(epoch)).state) === EpochState.Current,
      timeoutMs,
      `epoch ${epoch} to become current`,
    );
    onProgress(`the handover completed: epoch ${epoch} is current`);
    this.epoch = epoch;
    await this.waitUntilServing(nodes, timeoutMs);
    onProgress(`every node of epoch ${epoch} serves`);
    return { epoch, nodes };
  }

  /**
   * Waits until every one of `nodes` reports the same height and app hash at one moment (the chain moves while keys
   * refill); throws with what each reported last otherwise.
   */
  async waitForAgreement(nodes: DevnetNode[], withinMs = 90_000): Promise<void> {
    let seen = "";
    for (const until = Date.now() + withinMs; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
      const statuses = await Promise.all(nodes.map((node) => this.status(node)));
      const views = statuses.map((s) => (s ? `${s.bft.height}/${s.bft.appHash}` : "down"));
      seen = views.join(" ");
      if (statuses[0] && views.every((v) => v === views[0])) return;
    }
    throw new Error(`the nodes never agreed on one height and app hash: ${seen}`);
  }

  /** A node's index in its epoch: its position in the epoch's list on-chain (a busy node may answer /status late). */
  async positionOf(node: DevnetNode): Promise<number> {
    return Number((await this.nodeList.getNodeDetailsForEpoch(node.epoch, node.key.address)).position);
  }

  /** Waits until each of `nodes` answers /status and refuses no client. */
  async waitUntilServing(nodes: DevnetNode[], timeoutMs = 120_000): Promise<void> {
    await this.#waitFor(
      async () => (await Promise.all(nodes.map((node) => this.status(node)))).every((s) => s && !s.refusing),
      timeoutMs,
      `nodes ${nodes.map((node) => node.slot).join(", ")} to serve`,
    );
  }

  /** The clock skew the devnet's nodes allow at an epoch boundary. */
  get epochClockSkewSeconds(): number {
    return this.options.epochClockSkewSeconds ?? 10;
  }

  /**
   * Waits until a token minted now is one `epoch` serves: issued after the epoch's activation (the completion of its
   * handover) plus the skew. `onWait` hears how long, when there is a wait at all.
   */
  async waitUntilTokensServed(epoch: bigint, onWait?: (ms: number) => void): Promise<void> {
    const activatedAt = Number((await this.nodeList.getEpochStatus(epoch)).activatedAt);
    // `iat` counts whole seconds, so the first token served is minted in the second after activation plus the skew.
    const servedFrom = (activatedAt + this.epochClockSkewSeconds + 1) * 1000;
    if (servedFrom > Date.now()) onWait?.(servedFrom - Date.now());
    // A timer can fire a millisecond before Date.now() reaches its deadline (libuv's clock is cached per loop turn),
    // which would mint a token one second too early: the clock decides, not the timer.
    while (Date.now() < servedFrom) await new Promise((resolve) => setTimeout(resolve, servedFrom - Date.now()));
  }

  /** The network description written to `network.json`: the current epoch's nodes. */
  async describe(ready: boolean) {
    const epoch = await this.nodeList.currentEpoch();
    const [, n, k, t] = await this.nodeList.getEpochInfo(epoch);
    const nodes = await Promise.all(
      this.nodes
        .filter((node) => node.epoch === epoch)
        .map(async (node) => {
          const d = await this.nodeList.getNodeDetailsForEpoch(epoch, node.key.address);
          return {
            index: Number(d.position),
            endpoint: `${node.apiUrl}/jrpc`,
            pubX: d.pubKx.toString(16),
            pubY: d.pubKy.toString(16),
            address: node.key.address,
            pid: node.process?.pid,
          };
        }),
    );
    return {
      chain: {
        rpcUrl: this.chain.url,
        chainId: (await this.provider.getNetwork()).chainId.toString(),
        nodeList: await this.nodeList.getAddress(),
        // With the chain id and address, what names the deployment: a local chain repeats those on every restart.
        deploymentBlockHash: (await this.provider.getBlock(Number(await this.nodeList.deploymentBlock())))!.hash!,
      },
      epoch: { id: Number(epoch), n: Number(n), k: Number(k), t: Number(t) },
      nodes: nodes.sort((a, b) => a.index - b.index),
      oidc: {
        issuer: this.oidc.issuer,
        tokenEndpoint: this.oidc.tokenEndpoint,
        /** Where a browser signs in (the implicit flow); a DApp sends `client_id` = clientId, the nodes' audience. */
        authorizationEndpoint: this.oidc.authorizationEndpoint,
        clientId: DEV_AUDIENCE,
        verifier: VERIFIER_NAME,
      },
      /** torus.js's `signerHost` and the SDK's `signer` option: the development KeyAssign signer, as a full URL. */
      signerHost: this.signer.url,
      ready,
    };
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => this.kill(node, "SIGTERM")));
    for (const node of this.nodes) forgetLog(node.logFile);
    await this.oidc?.stop();
    await this.signer?.stop();
    this.provider?.destroy();
    await this.chain?.stop();
  }
}

/** A node's `GET /status` answer. */
export type NodeStatusJson = NodeStatus;
