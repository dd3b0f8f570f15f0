/**
 * What a test needs to run the real `@toruslabs/torus.js@8.0.1` against loopback nodes: stubs of the allow, signer
 * and metadata hosts it calls (the signer really signs KeyAssigns), a factory pointed at them, the node config that
 * trusts that signer, and a fetch guard that fails any request leaving the machine.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";

import TorusPkg from "@toruslabs/torus.js";

import { signKeyAssign } from "../../node/api/key-assign-auth.ts";
import { G, pointFromCoordinates } from "../../node/crypto/point.ts";
import { freePort } from "../../scripts/lib/chain-process.ts";
import { Devnet } from "../../scripts/lib/devnet-processes.ts";

// CommonJS package: its class is module.exports.default.
const Torus = TorusPkg.default;

/** The key of the KeyAssign signer the nodes are configured to trust (torus.js's `signerHost`). */
export const SIGNER_KEY = 0x51e9e7n;

/** The allow, signer and metadata hosts torus.js 8.0.1 calls, stubbed on loopback; the signer really signs. */
export async function startAuxStub(): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      response.writeHead(200, { "content-type": "application/json" });
      if (request.url?.startsWith("/api/sign")) {
        const node = pointFromCoordinates(
          BigInt("0x" + String(request.headers.pubkeyx)),
          BigInt("0x" + String(request.headers.pubkeyy)),
          "node",
        );
        response.end(JSON.stringify(signKeyAssign(SIGNER_KEY, body, node, randomUUID())));
      } else if (request.url?.startsWith("/metadata")) {
        response.end(JSON.stringify({ message: "0" }));
      } else {
        response.end("{}");
      }
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${port}`, server };
}

/** torus.js pointed at the loopback stubs for its allow, signer and metadata hosts. */
export function torusFor(auxUrl: string) {
  return new Torus({
    network: "mainnet",
    clientId: "local-test",
    enableOneKey: false,
    metadataHost: `${auxUrl}/metadata`,
    allowHost: `${auxUrl}/api/allow`,
    signerHost: `${auxUrl}/api/sign`,
  });
}

/** A devnet `configOverride`: every node requires KeyAssigns signed by SIGNER_KEY. */
export function requireSigner(_slot: number, config: Record<string, unknown>): Record<string, unknown> {
  const signer = G.multiply(SIGNER_KEY);
  return {
    ...config,
    api: {
      ...(config.api as object),
      keyAssignSigner: { pubKeyX: signer.x.toString(16), pubKeyY: signer.y.toString(16) },
    },
  };
}

/** Makes any request that leaves loopback fail (torus.js must reach nothing else); returns the undo. */
export function loopbackOnlyFetch(): () => void {
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.hostname !== "127.0.0.1" && url.hostname !== "localhost")
      throw new Error(`external request to ${url.href}`);
    return realFetch(input, init);
  };
  return () => (globalThis.fetch = realFetch);
}

/** A five-node devnet whose nodes require the stub's KeyAssign signatures, the stub, and loopback-only fetch. */
export interface TorusJsDevnet {
  devnet: Devnet;
  aux: { url: string; server: Server };
  stop(): Promise<void>;
}

/** Starts it and waits for `keys` published keys; `stop` undoes everything (also after a failed start). */
export async function startTorusJsDevnet(prefix: string, keyBuffer: number, keys: number): Promise<TorusJsDevnet> {
  const restoreFetch = loopbackOnlyFetch();
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  const aux = await startAuxStub();
  const stop = async () => {
    restoreFetch();
    await devnet?.stop();
    aux.server.close();
    await rm(dir, { recursive: true, force: true });
  };
  let devnet: Devnet | undefined;
  try {
    devnet = await Devnet.start({ dir, n: 5, chainPort: await freePort(), keyBuffer, configOverride: requireSigner });
    await devnet.waitForKeys(keys, 120_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { devnet, aux, stop };
}
