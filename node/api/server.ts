/**
 * The node's HTTP server (fastify): the client JSON-RPC API on `POST /jrpc`, and the operator endpoints. It is built
 * from the node's ports only (service.ts, node-status.ts) and a logger, so a test can build it over an in-memory
 * service and drive it with `inject()`. It owns the HTTP limits (a 256 kB body, HTTP 413 beyond) and the optional
 * KeyAssign signer check; it never reaches into the node.
 */
import { createServer } from "node:http";

import Fastify, { type FastifyInstance } from "fastify";

import { pointFromCoordinates } from "../crypto/point.ts";
import type { DrainMeter } from "./drain.ts";
import { mountJsonRpc } from "./jrpc.ts";
import { KeyAssignAuth } from "./key-assign-auth.ts";
import { createMethods, DEFAULT_TIMEOUTS, newApiMeter, type ApiMeter, type MethodTimeouts } from "./methods.ts";
import type { StatusSource } from "./node-status.ts";
import { mountOperatorEndpoints } from "./operator-endpoints.ts";
import type { ApiSettings, KeyService } from "./service.ts";

export const MAX_BODY_BYTES = 256 * 1024;

/**
 * What a connection may hold of the server before it sends anything useful. Without these a client that opens many
 * sockets, or sends its headers or body a byte at a time, holds them for as long as it likes (Node's defaults: no
 * connection cap, no idle timeout, 60 s for headers, checked every 30 s).
 */
export interface HttpLimits {
  /** Headers must arrive within this. */
  headersTimeoutMs: number;
  /** The whole request (headers and body) must arrive within this; a KeyAssign then waits up to 10 s on its own. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** A socket with no traffic at all is closed after this. */
  idleTimeoutMs: number;
  /** How often the server checks the two request timeouts. */
  checkIntervalMs: number;
  /** Open connections at once; beyond, new sockets are closed at once. */
  maxConnections: number;
  /**
   * Take the client's address from a reverse proxy's X-Forwarded-For: true for any proxy, or the proxies' addresses
   * or CIDRs. Off by default, since anyone can send that header: quotas would key on what the client wrote.
   */
  trustProxy: boolean | string[];
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
  checkIntervalMs: 1_000,
  maxConnections: 1024,
  trustProxy: false,
};

/** Where failures nobody's input explains are reported (pino's logger fits). */
export interface ApiLogger {
  error(details: object, message: string): void;
}

export interface ApiParts {
  service: KeyService;
  status: StatusSource;
  settings: ApiSettings;
  log: ApiLogger;
  timeouts?: MethodTimeouts;
  http?: Partial<HttpLimits>;
  /** How fast the free-key buffer drains (tests inject one with their own clock). */
  drain?: DrainMeter;
  /** Counts the work requests cause (tests and benches read it). */
  meter?: ApiMeter;
}

/** The server, not listening yet. */
export function buildApiServer(parts: ApiParts): FastifyInstance {
  const limits = { ...DEFAULT_HTTP_LIMITS, ...parts.http };
  const app = Fastify({
    logger: false,
    bodyLimit: MAX_BODY_BYTES,
    trustProxy: limits.trustProxy,
    serverFactory: (handler) => {
      const server = createServer(
        {
          headersTimeout: limits.headersTimeoutMs,
          requestTimeout: limits.requestTimeoutMs,
          keepAliveTimeout: limits.keepAliveTimeoutMs,
          connectionsCheckingInterval: limits.checkIntervalMs,
        },
        handler,
      );
      server.maxConnections = limits.maxConnections;
      server.setTimeout(limits.idleTimeoutMs);
      return server;
    },
  });
  mountOperatorEndpoints(app, parts.status, parts.drain);
  const signer = parts.settings.keyAssignSigner;
  const keyAssignAuth =
    signer && new KeyAssignAuth(pointFromCoordinates(signer.x, signer.y, "signer"), parts.service.self.publicKey);
  mountJsonRpc(
    app,
    createMethods(parts.service, parts.settings, parts.timeouts ?? DEFAULT_TIMEOUTS, parts.meter ?? newApiMeter()),
    {
      onError: (error) => parts.log.error({ err: error }, "JSON-RPC failure"),
      authorize: keyAssignAuth && ((body, parsed, headers) => keyAssignAuth.check(body, parsed, headers)),
    },
  );
  return app;
}

export async function startApiServer(parts: ApiParts, host: string, port: number): Promise<FastifyInstance> {
  const app = buildApiServer(parts);
  await app.listen({ host, port });
  return app;
}
