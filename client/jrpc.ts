/** A small JSON-RPC 2.0 client over fetch, with a timeout per request and one retry on a network error. */

/** One node's answer to one request: a result, a JSON-RPC error, or why there was no answer. */
export interface RpcOutcome {
  /** The node's result. */
  result?: unknown;
  /** The node's JSON-RPC error (`data` carries the Torus error string). */
  error?: { code: number; message: string; data?: string };
  /** The request did not get an answer (network error, timeout, non-JSON). */
  failed?: string;
}

/** Low level: the JSON-RPC client the SDK sends every request with (see `keyAssign`). */
export class JsonRpcClient {
  #id = 1;

  constructor(
    /** Per-request timeout in milliseconds. */
    readonly timeoutMs = 10_000,
    /** The fetch to use (a bench binds each client to its own local address); the global one by default. */
    private readonly fetchFn: typeof fetch = (input, init) => fetch(input, init),
  ) {}

  /** A request object with a fresh id, for a caller that must add fields to it before it is sent. */
  request(method: string, params: unknown): { jsonrpc: "2.0"; id: number; method: string; params: unknown } {
    return { jsonrpc: "2.0", id: this.#id++, method, params };
  }

  call(endpoint: string, method: string, params: unknown): Promise<RpcOutcome> {
    return this.send(endpoint, this.request(method, params));
  }

  /** Sends a whole request object (see `request`). */
  async send(endpoint: string, request: object): Promise<RpcOutcome> {
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await this.fetchFn(endpoint, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(request),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        if (!response.ok) return { failed: `HTTP ${response.status}` };
        const body = (await response.json()) as { result?: unknown; error?: RpcOutcome["error"] };
        return body.error ? { error: body.error } : { result: body.result };
      } catch (error) {
        const reason = (error as Error).name === "TimeoutError" ? "timed out" : (error as Error).message;
        if (attempt >= 1 || (error as Error).name === "TimeoutError") return { failed: reason };
      }
    }
  }

  /** The same call to every endpoint, concurrently; outcomes in endpoint order. */
  all(endpoints: readonly string[], method: string, params: unknown): Promise<RpcOutcome[]> {
    return Promise.all(endpoints.map((endpoint) => this.call(endpoint, method, params)));
  }
}
