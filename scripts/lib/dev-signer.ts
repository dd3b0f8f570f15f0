/**
 * The devnet's KeyAssign signer: torus.js's `signerHost`, for development only. Nodes require a signer's signature
 * on every KeyAssign by default (`api.keyAssignMode: "signer"`), so that nobody can have keys assigned to made-up
 * users; this signer signs any well-formed KeyAssign it is sent, from anyone, so on a devnet it is a faucet again —
 * bounded by a rate per source. A real deployment's signer decides whom it signs for (a logged-in DApp user, say).
 * A fresh key per devnet: the nodes trust only this devnet's signer.
 */
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";

import { sourceOf, RateLimiter } from "../../node/api/rate-limit.ts";
import { signKeyAssign } from "../../node/api/key-assign-auth.ts";
import { randomNonZeroScalar, systemRng } from "../../node/crypto/field.ts";
import { G, pointFromCoordinates } from "../../node/crypto/point.ts";

export interface DevSigner {
  /** The full URL torus.js's `signerHost` and the SDK's `signer` option take. */
  url: string;
  /** The public key every node's `api.keyAssignSigner` is set to. */
  publicKey: { pubKeyX: string; pubKeyY: string };
  stop(): Promise<void>;
}

const MAX_BODY = 4096;

export async function startDevSigner(
  port: number,
  options: { host?: string; perSecond?: number } = {},
): Promise<DevSigner> {
  const host = options.host ?? "127.0.0.1";
  const key = randomNonZeroScalar(systemRng);
  const pub = G.multiply(key);
  const perSecond = options.perSecond ?? 5;
  const limiter = new RateLimiter(perSecond, perSecond * 4);
  const server: Server = createServer((request, response) => {
    // torus.js calls it from browsers too: any origin, any header (its post adds API-key and client headers).
    response.setHeader("access-control-allow-origin", "*");
    response.setHeader("access-control-allow-methods", "POST, OPTIONS");
    response.setHeader("access-control-allow-headers", "*");
    const answer = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    };
    if (request.method === "OPTIONS") return void response.writeHead(204).end();
    if (request.method !== "POST" || !request.url?.startsWith("/api/sign"))
      return answer(404, { error: "POST /api/sign" });
    let body = "";
    let tooLarge = false;
    request.on("data", (chunk: Buffer) => {
      body += chunk.toString();
      if (body.length > MAX_BODY) tooLarge = true;
    });
    request.on("end", () => {
      if (tooLarge) return answer(413, { error: `a KeyAssign request is under ${MAX_BODY} bytes` });
      if (!limiter.take(sourceOf(request.socket.remoteAddress ?? "")))
        return answer(429, { error: "too many signatures for your address; retry later" });
      let node;
      try {
        node = pointFromCoordinates(
          BigInt("0x" + String(request.headers.pubkeyx)),
          BigInt("0x" + String(request.headers.pubkeyy)),
          "node",
        );
      } catch {
        return answer(400, { error: "pubKeyX and pubKeyY headers must be the node's public key (hex)" });
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        return answer(400, { error: "the body must be a JSON-RPC KeyAssign request" });
      }
      const params = (parsed as { method?: unknown; params?: { verifier?: unknown; verifier_id?: unknown } }) ?? {};
      if (
        params.method !== "KeyAssign" ||
        typeof params.params?.verifier !== "string" ||
        typeof params.params.verifier_id !== "string"
      )
        return answer(400, { error: "only KeyAssign requests with a verifier and a verifier_id are signed" });
      answer(200, signKeyAssign(key, body, node, randomUUID()));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  return {
    url: `http://${host}:${port}/api/sign`,
    publicKey: { pubKeyX: pub.x.toString(16), pubKeyY: pub.y.toString(16) },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
