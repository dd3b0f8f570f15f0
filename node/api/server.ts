/**
 * The node's HTTP server (fastify): the client JSON-RPC API on `POST /jrpc`, and the operator endpoints. It is built
 * from the node's ports only (service.ts, node-status.ts) and a logger, so a test can build it over an in-memory
 * service and drive it with `inject()`. It owns the HTTP limits (a 256 kB body, HTTP 413 beyond) and the optional
 * KeyAssign signer check; it never reaches into the node.
 */
import Fastify, { type FastifyInstance } from "fastify";

import { pointFromCoordinates } from "../crypto/point.ts";
import { mountJsonRpc } from "./jrpc.ts";
import { KeyAssignAuth } from "./key-assign-auth.ts";
import { createMethods, DEFAULT_TIMEOUTS, newApiMeter, type ApiMeter, type MethodTimeouts } from "./methods.ts";
import type { StatusSource } from "./node-status.ts";
import { mountOperatorEndpoints } from "./operator-endpoints.ts";
import type { ApiSettings, KeyService } from "./service.ts";

export const MAX_BODY_BYTES = 256 * 1024;

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
  /** Counts the work requests cause (tests and benches read it). */
  meter?: ApiMeter;
}

/** The server, not listening yet. */
export function buildApiServer(parts: ApiParts): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: MAX_BODY_BYTES });
  mountOperatorEndpoints(app, parts.status);
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
