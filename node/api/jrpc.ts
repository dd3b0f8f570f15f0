/**
 * JSON-RPC 2.0 over `POST /jrpc`, as the Torus node served it: errors are answered with HTTP 200 (torus.js treats any
 * other status as "no response"), batches are allowed (bounded), the body is bounded (HTTP 413 beyond), and the
 * Content-Type must be JSON. A method runs only when the node takes it now and its params pass its schema. Every
 * error comes from the table in errors.ts; nothing a client sends reaches a 5xx. The only other status is the KeyAssign
 * signer's 401. This file owns the envelope; it knows no method and no node state.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

import { RpcError, rpcError, type JsonRpcErrorObject } from "./errors.ts";
import type { ParamsCheck } from "./params-check.ts";

export const MAX_BATCH = 16;

export interface CallContext {
  /** The client's address, for per-client quotas. */
  ip: string;
}

/**
 * A method: whether the node takes it now (checked first: a node that serves no client says so to every request, as
 * it always has), the check its params must pass, and what it does with the params that passed.
 */
export interface Method {
  admit: () => RpcError | undefined;
  params: ParamsCheck<unknown>;
  handle(params: unknown, context: CallContext): unknown;
}

/** Declares a method: taken when `admit` says nothing, and the handler's params have the type the check proves. */
export function method<P>(
  admit: () => RpcError | undefined,
  params: ParamsCheck<P>,
  handle: (params: P, context: CallContext) => unknown,
): Method {
  // Sound because the dispatcher hands `handle` only what this very check returned (a method's parameter is
  // bivariant, which is what lets the two be stored together).
  return { admit, params, handle };
}

interface Response {
  jsonrpc: "2.0";
  id: unknown;
  result?: unknown;
  error?: JsonRpcErrorObject;
}

const failure = (id: unknown, error: RpcError): Response => ({ jsonrpc: "2.0", id, error: error.json });

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function validId(id: unknown): boolean {
  return id === undefined || id === null || typeof id === "string" || (typeof id === "number" && Number.isFinite(id));
}

async function call(
  methods: ReadonlyMap<string, Method>,
  request: unknown,
  ip: string,
  onError: (error: unknown) => void,
): Promise<Response> {
  if (!isObject(request) || request.jsonrpc !== "2.0" || typeof request.method !== "string" || !validId(request.id)) {
    return failure(null, rpcError("INVALID_REQUEST"));
  }
  const id = request.id ?? null;
  const method = methods.get(request.method);
  if (!method) return failure(id, rpcError("METHOD_NOT_FOUND"));
  // Absent or null params are no params (the Torus node read them so).
  const params = request.params ?? {};
  if (!isObject(params)) return failure(id, rpcError("PARAMS_NOT_OBJECT"));
  try {
    const refusal = method.admit();
    if (refusal) return failure(id, refusal);
    const checked = method.params(params);
    if ("refused" in checked) return failure(id, checked.refused);
    return { jsonrpc: "2.0", id, result: await method.handle(checked.params, { ip }) };
  } catch (error) {
    if (error instanceof RpcError) return failure(id, error);
    // Not the client's doing (a bug, a failed disk): the client gets no detail, the operator must get all of it.
    onError(error);
    return failure(id, rpcError("UNEXPECTED"));
  }
}

/**
 * Refuses an HTTP request before any method runs (the KeyAssign signer check): the reason, or undefined to go on.
 * A refusal is HTTP 401 text/plain, as the Torus node answered, which torus.js takes as "try the next node".
 */
export type Authorize = (rawBody: string, parsed: unknown, headers: FastifyRequest["headers"]) => string | undefined;

/** Mounts `POST /jrpc` (and CORS) on a fastify server. */
export function mountJsonRpc(
  app: FastifyInstance,
  methods: ReadonlyMap<string, Method>,
  options: { onError?: (error: unknown) => void; authorize?: Authorize } = {},
): void {
  // Parse the body ourselves, so that bad JSON is a JSON-RPC parse error (HTTP 200), not a fastify 400.
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser(/^application\/json/, { parseAs: "string" }, (_request, body, done) => done(null, body));
  app.addContentTypeParser("*", { parseAs: "string" }, (_request, body, done) => done(null, { notJson: true, body }));

  const cors = (reply: FastifyReply) =>
    reply
      .header("access-control-allow-origin", "*")
      .header("access-control-allow-methods", "POST, GET, OPTIONS")
      .header(
        "access-control-allow-headers",
        "Content-Type, Accept, Origin, X-Requested-With, torus-signature, torus-nonce, torus-timestamp",
      );

  app.options("/jrpc", (_request, reply) => cors(reply).code(204).send());

  const onError = options.onError ?? (() => undefined);

  app.post("/jrpc", async (request: FastifyRequest, reply: FastifyReply) => {
    cors(reply).type("application/json");
    const body = request.body as string | { notJson: true } | undefined;
    if (typeof body !== "string") return reply.send(failure(null, rpcError("NOT_JSON")));
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return reply.send(failure(null, rpcError("PARSE_ERROR")));
    }
    const refusal = options.authorize?.(body, parsed, request.headers);
    if (refusal !== undefined) return reply.code(401).type("text/plain").send(`Error authenticating, err: ${refusal}`);
    try {
      if (Array.isArray(parsed)) {
        if (parsed.length === 0 || parsed.length > MAX_BATCH)
          return reply.send(failure(null, rpcError("BATCH_SIZE", MAX_BATCH)));
        return reply.send(JSON.stringify(await Promise.all(parsed.map((r) => call(methods, r, request.ip, onError)))));
      }
      // Serialised here, inside the try: a result that is not JSON (a bug) gets a JSON-RPC error, not fastify's 500.
      return reply.send(JSON.stringify(await call(methods, parsed, request.ip, onError)));
    } catch (error) {
      onError(error);
      return reply.send(failure(null, rpcError("UNEXPECTED_REQUEST")));
    }
  });
}
