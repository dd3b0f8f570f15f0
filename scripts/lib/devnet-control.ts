/**
 * The running devnet's control endpoint, on 127.0.0.1 only: `POST /transition {"nodes": n}` hands the network over to
 * a new epoch of n node processes (`npm run devnet:transition`). The answer streams progress as text lines and ends
 * with `ok` or `error: <why>`; one transition runs at a time (409 otherwise).
 */
import { createServer, type Server } from "node:http";

export type TransitionRunner = (nodes: number, say: (line: string) => void) => Promise<void>;

export const MAX_DEVNET_NODES = 32;

export async function startControl(
  port: number,
  transition: TransitionRunner,
): Promise<{ url: string; server: Server }> {
  let busy = false;
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => {
      body += chunk.toString();
      if (body.length > 1024) request.destroy();
    });
    request.on("end", () => {
      const refuse = (status: number, why: string) => {
        response.writeHead(status, { "content-type": "text/plain" });
        response.end(`error: ${why}\n`);
      };
      if (request.method !== "POST" || request.url !== "/transition") return refuse(404, "POST /transition only");
      let nodes: unknown;
      try {
        nodes = (JSON.parse(body) as { nodes?: unknown }).nodes;
      } catch {
        return refuse(400, 'the body must be JSON: {"nodes": <n>}');
      }
      if (typeof nodes !== "number" || !Number.isSafeInteger(nodes) || nodes < 1 || nodes > MAX_DEVNET_NODES)
        return refuse(400, `nodes must be an integer in 1..${MAX_DEVNET_NODES}`);
      if (busy) return refuse(409, "a transition is already running");
      busy = true;
      response.writeHead(200, { "content-type": "text/plain" });
      const say = (line: string) => {
        console.log(line);
        response.write(`${line}\n`);
      };
      transition(nodes, say)
        .then(
          () => response.end("ok\n"),
          (error: unknown) => {
            console.error(`the transition failed: ${(error as Error).message}`);
            response.end(`error: ${(error as Error).message}\n`);
          },
        )
        .finally(() => (busy = false));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const address = server.address();
  const actual = typeof address === "object" && address ? address.port : port;
  return { url: `http://127.0.0.1:${actual}`, server };
}
