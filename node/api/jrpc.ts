/**
 * JSON-RPC 2.0 over `POST /jrpc`, as the Torus node served it: errors are answered with HTTP 200 (torus.js treats any
 * other status as "no response"), batches are allowed (bounded), the body is bounded (HTTP 413 beyond), and the
 * Content-Type must be JSON. Every error is an RpcError with a stable code; nothing a client sends reaches a 5xx.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

export class RpcError extends Error {
  override readonly name = "RpcError";
  constructor(
    readonly code: number,
    message: string,
    readonly data?: string,
  ) {
    super(message);
  }
}

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;

export const MAX_BATCH = 16;

export type Method = (params: Record<string, unknown>, context: { ip: string }) => unknown;

interface Response {
  jsonrpc: "2.0";
  id: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: string };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function validId(id: unknown): boolean {
  return id === undefined || id === null || typeof id === "string" || (typeof id === "number" && Number.isFinite(id));
}

async function call(methods: ReadonlyMap<string, Method>, request: unknown, ip: string): Promise<Response> {
  if (!isObject(request) || request.jsonrpc !== "2.0" || typeof request.method !== "string" || !validId(request.id)) {
    return { jsonrpc: "2.0", id: null, error: { code: INVALID_REQUEST, message: "Invalid Request" } };
  }
  const id = request.id ?? null;
  const method = methods.get(request.method);
  if (!method) return { jsonrpc: "2.0", id, error: { code: METHOD_NOT_FOUND, message: "Method not found" } };
  const params = request.params ?? {};
  if (!isObject(params))
    return {
      jsonrpc: "2.0",
      id,
      error: { code: INVALID_PARAMS, message: "Invalid params", data: "params must be an object" },
    };
  try {
    return { jsonrpc: "2.0", id, result: await method(params, { ip }) };
  } catch (error) {
    if (error instanceof RpcError) {
      return {
        jsonrpc: "2.0",
        id,
        error: { code: error.code, message: error.message, ...(error.data === undefined ? {} : { data: error.data }) },
      };
    }
    return {
      jsonrpc: "2.0",
      id,
      error: { code: INTERNAL_ERROR, message: "Internal error", data: "unexpected failure" },
    };
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

  app.post("/jrpc", async (request: FastifyRequest, reply: FastifyReply) => {
    cors(reply).type("application/json");
    const body = request.body as string | { notJson: true } | undefined;
    if (typeof body !== "string") {
      return reply.send({
        jsonrpc: "2.0",
        id: null,
        error: { code: INVALID_REQUEST, message: "Invalid Request", data: "Content-Type must be application/json" },
      });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return reply.send({ jsonrpc: "2.0", id: null, error: { code: PARSE_ERROR, message: "Parse error" } });
    }
    const refusal = options.authorize?.(body, parsed, request.headers);
    if (refusal !== undefined) return reply.code(401).type("text/plain").send(`Error authenticating, err: ${refusal}`);
    try {
      if (Array.isArray(parsed)) {
        if (parsed.length === 0 || parsed.length > MAX_BATCH) {
          return reply.send({
            jsonrpc: "2.0",
            id: null,
            error: {
              code: INVALID_REQUEST,
              message: "Invalid Request",
              data: `a batch holds 1 to ${MAX_BATCH} requests`,
            },
          });
        }
        return reply.send(await Promise.all(parsed.map((r) => call(methods, r, request.ip))));
      }
      return reply.send(await call(methods, parsed, request.ip));
    } catch (error) {
      options.onError?.(error);
      return reply.send({ jsonrpc: "2.0", id: null, error: { code: INTERNAL_ERROR, message: "Internal error" } });
    }
  });
}
