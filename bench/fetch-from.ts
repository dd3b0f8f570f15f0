/**
 * A fetch whose connections leave from a loopback address of the caller's choice, so that a bench's clients are
 * separate sources to the nodes' per-source limits (127.0.0.0/8 is all local): enough of fetch for the SDK's JSON-RPC
 * client and the dev signer (a method, headers, a string body, a timeout signal).
 */
import { Agent, request } from "node:http";

/** `keepAlive: false` for a source that makes one request and goes (no socket is left open behind it). */
export function fetchFrom(localAddress: string, { keepAlive = true } = {}): typeof fetch {
  const agent = new Agent({ keepAlive, localAddress });
  return (input, init) =>
    new Promise<Response>((resolve, reject) => {
      const req = request(
        input instanceof Request ? input.url : input.toString(),
        {
          method: init?.method ?? "GET",
          agent,
          headers: init?.headers as Record<string, string>,
          signal: init?.signal ?? undefined,
        },
        (res) => {
          let text = "";
          res.on("data", (chunk: Buffer) => (text += chunk.toString()));
          res.on("end", () => resolve(new Response(text, { status: res.statusCode ?? 500 })));
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(typeof init?.body === "string" ? init.body : undefined);
    });
}
