/**
 * The devnet's web UI on one port of 127.0.0.1 (`npm start` serves it on 5557, `--ui-port`): the demo DApp at `/`,
 * the network status page at `/status`, their assets under `/assets/`, the devnet's network description at
 * `/network.json` (read from the file at every request, so a handover's new description is served at once) and the
 * status page's data at `/api/status` (network-monitor.ts).
 */
import { readFile } from "node:fs/promises";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import { buildUi } from "./ui-bundle.ts";
import { NetworkMonitor } from "./network-monitor.ts";

export interface UiServer {
  /** The DApp's URL, `http://127.0.0.1:<port>/`. */
  url: string;
  stop(): Promise<void>;
}

export interface UiServerOptions {
  /** 0 picks a free port. */
  port: number;
  /** The devnet's network.json. */
  networkFile: string;
  sampleEveryMs?: number;
}

// The pages load only their own scripts and styles; they talk to this server, the devnet's issuer (its discovery
// document) and the nodes, all on this machine. No page may frame them, and they send no referrer to the issuer.
const PAGE_POLICY = [
  "default-src 'self'",
  "connect-src 'self' http://127.0.0.1:* http://localhost:*",
  "img-src 'self' data:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

export async function startUiServer(options: UiServerOptions): Promise<UiServer> {
  const assets = await buildUi();
  const monitor = new NetworkMonitor({ networkFile: options.networkFile, sampleEveryMs: options.sampleEveryMs });
  const send = (response: ServerResponse, status: number, type: string, body: string | Uint8Array) => {
    response.writeHead(status, {
      "content-type": type,
      "content-security-policy": PAGE_POLICY,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "cache-control": "no-store",
    });
    response.end(body);
  };
  const json = (response: ServerResponse, status: number, body: unknown) =>
    send(response, status, "application/json; charset=utf-8", JSON.stringify(body));

  const server = createServer((request, response) => {
    const { pathname } = new URL(request.url ?? "/", "http://ui.invalid");
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.setHeader("allow", "GET, HEAD");
      return json(response, 405, { error: "the UI serves GET requests only" });
    }
    const asset = assets.get(pathname);
    if (asset) return send(response, 200, asset.type, asset.body);
    if (pathname === "/network.json") {
      return void readFile(options.networkFile, "utf8").then(
        (text) => send(response, 200, "application/json; charset=utf-8", text),
        () =>
          json(response, 503, { error: "the devnet is still starting: it writes network.json once its nodes serve" }),
      );
    }
    if (pathname === "/api/status") {
      return void monitor.latest().then(
        (view) => json(response, 200, view),
        (error: Error) => json(response, 500, { error: error.message }),
      );
    }
    send(
      response,
      404,
      "text/plain; charset=utf-8",
      `not found: ${pathname} (the DApp is at /, the status at /status)\n`,
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "EADDRINUSE"
          ? new Error(
              `the web UI's port 127.0.0.1:${options.port} is taken (another npm start?): choose another with --ui-port`,
            )
          : error,
      ),
    );
    server.listen(options.port, "127.0.0.1", resolve);
  });
  monitor.start();
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    stop: async () => {
      monitor.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
