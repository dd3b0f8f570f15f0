/**
 * Slow and many connections (issue 19, item 4): the API server closes a connection whose headers never finish,
 * refuses sockets beyond its cap, and keys its quotas on the socket's address unless told to trust a reverse proxy.
 * Real sockets on loopback with short limits; the assertions are on what the server did (closed, answered, refused),
 * never on how long it took.
 */
import { connect, type Socket } from "node:net";

import { expect } from "chai";
import type { FastifyInstance } from "fastify";

import { buildApiServer, type HttpLimits } from "../../node/api/server.ts";
import { G } from "../../node/crypto/point.ts";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { FakeKeyNetwork, fakeStatusSource } from "../support/fake-key-network.ts";

const hex64 = (v: bigint) => v.toString(16).padStart(64, "0");

describe("the API server against slow and many connections", function () {
  this.timeout(20_000);
  let app: FastifyInstance | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await app?.close();
    app = undefined;
  });

  async function listen(http: Partial<HttpLimits>, openCommitmentsPerSource = 1000): Promise<number> {
    const network = new FakeKeyNetwork(5, 1, 3, 1);
    const service = network.nodes[0]!;
    app = buildApiServer({
      service,
      status: fakeStatusSource(service),
      settings: {
        // Never asked for its keys here: only CommitmentRequest runs, which checks the name alone.
        verifiers: [
          {
            name: "dev",
            issuer: "http://127.0.0.1:9",
            jwksUri: "http://127.0.0.1:9/jwks",
            audience: "torus-devnet",
            verifierIdClaim: "email",
            maxTokenAgeSeconds: 600,
            algorithms: ["RS256"],
          },
        ],
        keyAssignPerSecond: 100,
        commitmentsPerSecond: 100,
        openCommitmentsPerSource,
      },
      log: { error: () => undefined },
      http,
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    return (app.server.address() as { port: number }).port;
  }

  /** A socket that reports how it ended: the bytes the server sent, and whether it closed. */
  function open(port: number): Promise<{ socket: Socket; ended: Promise<string> }> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port }, () => resolve({ socket, ended }));
      sockets.push(socket);
      let received = "";
      socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
      const ended = new Promise<string>((done) => socket.on("close", () => done(received)));
      socket.on("error", () => undefined);
      socket.once("error", reject);
    });
  }

  const ping =
    'POST /jrpc HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 38\r\n\r\n{"jsonrpc":"2.0","id":1,"method":"Ping"}'.replace(
      "Content-Length: 38",
      `Content-Length: ${'{"jsonrpc":"2.0","id":1,"method":"Ping"}'.length}`,
    );

  it("closes a connection whose headers do not arrive in time (slowloris)", async function () {
    const port = await listen({ headersTimeoutMs: 200, requestTimeoutMs: 300, checkIntervalMs: 50 });
    const { socket, ended } = await open(port);
    socket.write("POST /jrpc HTTP/1.1\r\nHost: x\r\n");
    const trickle = setInterval(() => socket.writable && socket.write("X-Slow: 1\r\n"), 20);
    try {
      expect(await ended).to.match(/^HTTP\/1\.1 408/);
    } finally {
      clearInterval(trickle);
    }
  });

  it("closes a connection that sends nothing, and an idle keep-alive connection", async function () {
    const port = await listen({ idleTimeoutMs: 200, keepAliveTimeoutMs: 100 });
    const silent = await open(port);
    expect(await silent.ended).to.equal("");
    const kept = await open(port);
    kept.socket.write(ping);
    const answer = await kept.ended;
    expect(answer).to.match(/^HTTP\/1\.1 200/);
    expect(answer).to.include('"result"');
  });

  it("refuses sockets beyond the connection cap, and serves again once one closes", async function () {
    const port = await listen({ maxConnections: 2 });
    const first = await open(port);
    const second = await open(port);
    const third = await open(port);
    expect(await third.ended).to.equal("");
    first.socket.write(ping);
    second.socket.write(ping);
    first.socket.end();
    expect(await first.ended).to.match(/^HTTP\/1\.1 200/);
    const fourth = await open(port);
    fourth.socket.end(ping);
    expect(await fourth.ended).to.match(/^HTTP\/1\.1 200/);
  });

  it("keys quotas on the socket's address, or on X-Forwarded-For only behind a trusted proxy", async function () {
    const commitment = (token: string) => {
      const p = G.multiply(7n);
      return JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "CommitmentRequest",
        params: {
          messageprefix: "mug00",
          tokencommitment: bytesToHex(keccak_256(new TextEncoder().encode(token))),
          temppubx: hex64(p.x),
          temppuby: hex64(p.y),
          verifieridentifier: "dev",
        },
      });
    };
    const send = (token: string, forwardedFor: string) =>
      app!.inject({
        method: "POST",
        url: "/jrpc",
        remoteAddress: "10.9.9.9",
        headers: { "content-type": "application/json", "x-forwarded-for": forwardedFor },
        payload: commitment(token),
      });
    // Untrusted: two clients claiming other addresses share the proxy's (here, the socket's) quota of 1.
    await listen({}, 1);
    expect((await send("a", "1.1.1.1")).json<{ error?: { data: string } }>().error).to.equal(undefined);
    expect((await send("b", "2.2.2.2")).json<{ error?: { data: string } }>().error?.data).to.match(/its quota/);
    await app!.close();
    // Behind a trusted proxy: each forwarded client has its own quota; the header from anyone else is ignored.
    await listen({ trustProxy: ["10.9.9.9"] }, 1);
    expect((await send("a", "1.1.1.1")).json<{ error?: unknown }>().error).to.equal(undefined);
    expect((await send("b", "2.2.2.2")).json<{ error?: unknown }>().error).to.equal(undefined);
    expect((await send("c", "1.1.1.1")).json<{ error?: { data: string } }>().error?.data).to.match(/its quota/);
  });
});
