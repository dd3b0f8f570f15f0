/**
 * Domain separation of every signature (issue 21, item 3): a node key reused in another deployment (the same chain id
 * and NodeList address, another deployment block: a restarted local chain), in the next epoch, or in another handover
 * attempt or old–new epoch pair, signs nothing that counts there. Each kind of signed message is signed by real node
 * keys through the cores a node builds (node/runtime/epoch-cores.ts) for one context and checked by the cores of
 * another; the same message signed in the checker's own context is accepted, so the refusal is the signature's.
 */
import { expect } from "chai";

import { AppState } from "../../node/app/app-state.ts";
import type { FastifyInstance } from "fastify";

import { buildApiServer } from "../../node/api/server.ts";
import { commitmentData, otherDomainEntries, screenEntries } from "../../node/auth/commit-reveal.ts";
import { encodeTx, freezeSignBytes, moveKeysSignBytes, publishKeysSignBytes } from "../../node/app/transactions.ts";
import { Consensus, type ConsensusOutput } from "../../node/bft/consensus.ts";
import { blockHash, proposalSignBytes, voteSignBytes } from "../../node/bft/encoding.ts";
import { Mempool } from "../../node/bft/mempool.ts";
import { DEFAULT_TIMEOUTS, type Block } from "../../node/bft/types.ts";
import type { EpochView } from "../../node/chain/registry.ts";
import { commitmentDomainFields, DomainError, encodeDomain, type Deployment } from "../../node/crypto/domain.ts";
import { toLegacyHex } from "../../node/crypto/encoding.ts";
import { G } from "../../node/crypto/point.ts";
import { signTorus } from "../../node/crypto/signature.ts";
import { decisionProblem } from "../../node/dkg/decision.ts";
import type { DealerDecision } from "../../node/dkg/types.ts";
import { readySignBytes } from "../../node/dkg/wire.ts";
import { reshareDecisionProblem } from "../../node/pss/decision.ts";
import type { ReshareDecision } from "../../node/pss/types.ts";
import { PSS_DOMAIN } from "../../node/pss/wire.ts";
import { buildCores, type EpochCores } from "../../node/runtime/epoch-cores.ts";
import { transitionId } from "../../node/runtime/handover.ts";
import { login, LoginError, networkFromDescription } from "../../client/index.ts";
import { fakePublicKey } from "../bft/helpers.ts";
import { FakeKeyNetwork, fakeStatusSource } from "../support/fake-key-network.ts";

const N = 5;
const THRESHOLDS = { n: N, t: 1, k: 3 };
const SECRETS = Array.from({ length: N }, (_, i) => 0x5eed_0000_0000n + BigInt(i) * 7919n + 1n);
const PUBLIC_KEYS = SECRETS.map((s) => G.multiply(s));

/** A local chain's id and first contract address, deployed twice: only the deployment block's hash differs. */
const D1: Deployment = {
  chainId: "31337",
  nodeList: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  deploymentBlockHash: "0x" + "d1".repeat(32),
};
const D2: Deployment = { ...D1, deploymentBlockHash: "0x" + "d2".repeat(32) };

/** Where a node's cores run: a deployment, an epoch and, in a successor epoch, the handover it runs. */
interface Context {
  deployment: Deployment;
  epoch: number;
  handover?: { from: number; attempt: number };
}

function epochView(epoch: number): EpochView {
  return {
    epoch,
    ...THRESHOLDS,
    state: "Active",
    prevEpoch: Math.max(epoch - 1, 0),
    nextEpoch: 0,
    nodes: PUBLIC_KEYS.map((p, i) => ({
      index: i + 1,
      address: `0x${(i + 1).toString(16).padStart(40, "0")}`,
      pubKx: p.x,
      pubKy: p.y,
      declaredIp: "127.0.0.1",
      p2pListenAddress: "/ip4/127.0.0.1/tcp/1",
    })),
  };
}

const coresCache = new Map<string, EpochCores>();
/** The cores node `validator` (0-based) builds for `context`, as node.ts builds them. */
function cores(context: Context, validator: number): EpochCores {
  const key = `${JSON.stringify(context)}/${validator}`;
  let built = coresCache.get(key);
  if (!built) {
    const successor = context.handover && { from: epochView(context.handover.from), attempt: context.handover.attempt };
    built = buildCores(
      epochView(context.epoch),
      successor,
      SECRETS[validator]!,
      { batchSize: 1 },
      context.deployment,
      AppState.inMemory(),
    );
    coresCache.set(key, built);
  }
  return built;
}

const transitionOf = (c: Context) => transitionId(c.epoch, c.handover!.attempt);

// Serving epochs: epoch 2 of D1 is the home; replays come from D2 and from epoch 1 (nodes whitelisted in both).
const HOME: Context = { deployment: D1, epoch: 2 };
const SERVING_REPLAYS: [string, Context][] = [
  ["another deployment of the same chain id and address", { deployment: D2, epoch: 2 }],
  ["another chain id", { deployment: { ...D1, chainId: "1" }, epoch: 2 }],
  ["another NodeList", { deployment: { ...D1, nodeList: "0x" + "ee".repeat(20) }, epoch: 2 }],
  ["the previous epoch", { deployment: D1, epoch: 1 }],
];
// Successor epochs: epoch 3 taking over from 2 in attempt 1 is the home.
const SUCCESSOR: Context = { deployment: D1, epoch: 3, handover: { from: 2, attempt: 1 } };
const HANDOVER_REPLAYS: [string, Context][] = [
  ["another deployment", { ...SUCCESSOR, deployment: D2 }],
  ["another attempt", { ...SUCCESSOR, handover: { from: 2, attempt: 2 } }],
  ["another old epoch", { ...SUCCESSOR, handover: { from: 1, attempt: 1 } }],
  ["another new epoch", { deployment: D1, epoch: 4, handover: { from: 2, attempt: 1 } }],
];

describe("domain separation of every signature (issue 21, item 3)", function () {
  this.timeout(60_000);

  describe("the signing domain", function () {
    const base = { deployment: D1, epoch: 2 };

    it("encodes deployment, epoch and handover, one encoding per domain, address and hash in lowercase", function () {
      expect(encodeDomain(base)).to.equal(
        `torus-domain/1;chain=31337;nodelist=${D1.nodeList.toLowerCase()};block=${D1.deploymentBlockHash};epoch=2`,
      );
      expect(
        encodeDomain({ ...base, deployment: { ...D1, nodeList: D1.nodeList.toUpperCase().replace("0X", "0x") } }),
      ).to.equal(encodeDomain(base));
      const variants = [
        base,
        { ...base, deployment: D2 },
        { ...base, deployment: { ...D1, chainId: "1" } },
        { ...base, deployment: { ...D1, nodeList: "0x" + "ee".repeat(20) } },
        { ...base, epoch: 3 },
        { ...base, handover: { oldEpoch: 1, attempt: 0 } },
        { ...base, handover: { oldEpoch: 1, attempt: 1 } },
        { ...base, handover: { oldEpoch: 0, attempt: 1 } },
      ];
      expect(new Set(variants.map(encodeDomain)).size).to.equal(variants.length);
    });

    it("refuses a field that could carry a separator or another field, naming it", function () {
      const bad: [Partial<Deployment> | { epoch: number }, RegExp][] = [
        [{ chainId: "31337;epoch=9" }, /chain id/],
        [{ chainId: "031337" }, /chain id/],
        [{ nodeList: D1.nodeList + ";" }, /NodeList address/],
        [{ deploymentBlockHash: "0xd1" }, /deployment block hash/],
        [{ epoch: -1 }, /epoch -1/],
        [{ epoch: 1.5 }, /epoch 1.5/],
      ];
      for (const [change, message] of bad) {
        const domain =
          "epoch" in change ? { ...base, ...change } : { ...base, deployment: { ...D1, ...(change as Deployment) } };
        expect(() => encodeDomain(domain)).to.throw(DomainError, message);
      }
      expect(() => commitmentDomainFields({ ...D1, chainId: "1\x1c2" }, 1)).to.throw(DomainError, /chain id/);
    });

    it("is what the BFT chain id of a node's cores is, from the deployment it read", function () {
      expect(cores(HOME, 0).chainId).to.equal(encodeDomain(base));
      expect(cores(SUCCESSOR, 0).chainId).to.equal(
        encodeDomain({ deployment: D1, epoch: 3, handover: { oldEpoch: 2, attempt: 1 } }),
      );
    });
  });

  /** Checks `accepts(signedIn(verifier))` and, for every replay context, `refuses(signedIn(replay))`. */
  function replays(
    home: Context,
    others: [string, Context][],
    check: (signer: Context, verifier: Context) => string | undefined,
    refusal: RegExp,
  ): void {
    expect(check(home, home), "signed in its own context").to.equal(undefined);
    for (const [what, other] of others) {
      expect(check(other, home), `signed in ${what}, checked at home`).to.match(refusal);
      expect(check(home, other), `signed at home, checked in ${what}`).to.match(refusal);
    }
  }

  describe("BFT messages", function () {
    /** A consensus core of validator 0 at height 1 in `context`, and what it said of `message` from validator 1. */
    function deliver(context: Context, message: unknown): string | undefined {
      const own = cores(context, 0);
      const core = new Consensus(
        { chainId: own.chainId, validators: N, self: 0, timeouts: DEFAULT_TIMEOUTS },
        {
          scheme: own.scheme,
          mempool: new Mempool(() => ({ ok: true })),
          app: { processProposal: () => true, finalizeBlock: () => ({ appHash: "", results: [] }) },
        },
        { height: 1, lastBlockHash: "", lastAppHash: "" },
      );
      core.start();
      const outputs: ConsensusOutput[] = core.step({ type: "message", from: 1, message });
      const rejected = outputs.find((o) => o.type === "rejected");
      return rejected?.type === "rejected" ? rejected.reason : undefined;
    }

    it("refuses a vote signed for another deployment, epoch or handover attempt", function () {
      const check = (signer: Context, verifier: Context) => {
        const unsigned = { type: "prevote" as const, height: 1, round: 0, blockHash: "ab".repeat(32) };
        const own = cores(signer, 1);
        const signature = own.scheme.sign(voteSignBytes(own.chainId, unsigned));
        return deliver(verifier, { ...unsigned, validator: 1, signature });
      };
      replays(HOME, SERVING_REPLAYS, check, /^bad vote signature$/);
      replays(SUCCESSOR, HANDOVER_REPLAYS, check, /^bad vote signature$/);
    });

    it("refuses a proposal signed for another deployment, epoch or handover attempt", function () {
      const check = (signer: Context, verifier: Context) => {
        // Validator 1 proposes at height 1, round 0.
        const block: Block = { height: 1, prevHash: "", lastAppHash: "", proposer: 1, txs: [], evidence: [] };
        const own = cores(signer, 1);
        const fields = { height: 1, round: 0, validRound: -1 };
        const signature = own.scheme.sign(proposalSignBytes(own.chainId, { ...fields, blockHash: blockHash(block) }));
        return deliver(verifier, { type: "proposal", ...fields, block, validator: 1, signature });
      };
      replays(HOME, SERVING_REPLAYS, check, /^bad proposal signature$/);
      replays(SUCCESSOR, HANDOVER_REPLAYS, check, /^bad proposal signature$/);
    });
  });

  describe("app votes", function () {
    /** What the verifier's replicated app says of `tx` before ordering it (the same check decides it in a block). */
    const checkTx = (verifier: Context, tx: string) => {
      const result = cores(verifier, 0).app.checkTx(tx);
      return result.ok ? undefined : result.detail;
    };

    it("refuses a key publication vote signed for another deployment or epoch", function () {
      replays(
        HOME,
        SERVING_REPLAYS,
        (signer, verifier) => {
          const body = { startIndex: 0, publicKeys: [fakePublicKey(0), fakePublicKey(1)] };
          const own = cores(signer, 2);
          const signature = own.scheme.sign(publishKeysSignBytes(own.chainId, body));
          return checkTx(verifier, encodeTx({ type: "publishKeys", body, validator: 2, signature }));
        },
        /^bad signature$/,
      );
    });

    it("refuses a handover freeze vote signed for another deployment, old epoch or attempt", function () {
      const freeze = (signer: Context, verifier: Context, attempt = 1) => {
        const own = cores(signer, 2);
        const signature = own.scheme.sign(freezeSignBytes(own.chainId, 3, attempt, "freeze"));
        return checkTx(verifier, encodeTx({ type: "freeze", nextEpoch: 3, attempt: 2, validator: 2, signature }));
      };
      // The vote names the old epoch's domain (deployment, epoch 2), the next epoch and the attempt.
      replays(HOME, SERVING_REPLAYS, (signer, verifier) => freeze(signer, verifier, 2), /^bad signature$/);
      expect(freeze(HOME, HOME, 1), "a vote for attempt 1 replayed for attempt 2").to.equal("bad signature");
    });

    it("refuses a moved-chunk vote signed for another deployment, attempt or old–new epoch pair", function () {
      replays(
        SUCCESSOR,
        HANDOVER_REPLAYS,
        (signer, verifier) => {
          // The body is one the verifier would take: only the signature's domain is the signer's.
          const body = {
            transition: transitionOf(verifier),
            chunk: 0,
            chunks: 1,
            nextKeyIndex: 2,
            keys: [{ keyIndex: 0, publicKey: fakePublicKey(0) }],
          };
          const own = cores(signer, 2);
          const signature = own.scheme.sign(moveKeysSignBytes(own.chainId, body));
          return checkTx(verifier, encodeTx({ type: "moveKeys", body, validator: 2, signature }));
        },
        /^bad signature$/,
      );
    });

    it("refuses a key-generation dealer decision whose readies were signed for another deployment or epoch", function () {
      replays(
        HOME,
        SERVING_REPLAYS,
        (signer, verifier) =>
          checkTx(verifier, encodeTx({ type: "dkgDecision", decision: dealerDecision(signer, verifier) })),
        /^dealer 1 has a bad ready$/,
      );
    });

    it("refuses a reshare decision whose readies were signed for another deployment, attempt or epoch pair", function () {
      replays(
        SUCCESSOR,
        HANDOVER_REPLAYS,
        (signer, verifier) =>
          checkTx(verifier, encodeTx({ type: "reshareDecision", decision: reshareDecision(signer, verifier) })),
        /^dealer 1 has a bad ready$/,
      );
    });
  });

  /** Batch 0 of the verifier's epoch: dealers 1..4, each with readies of nodes 1..4 signed in `signer`. */
  function dealerDecision(signer: Context, verifier: Context): DealerDecision {
    const hash = "ab".repeat(32);
    return {
      type: "dealers",
      epoch: verifier.epoch,
      batch: 0,
      dealers: [1, 2, 3, 4].map((dealer) => ({
        dealer,
        hash,
        readies: [1, 2, 3, 4].map((node) => {
          const own = cores(signer, node - 1);
          const id = { epoch: verifier.epoch, batch: 0, dealer };
          return { node, signature: own.signer.sign(readySignBytes(own.chainId, id, hash)) };
        }),
      })),
    };
  }

  /** A reshare decision of chunk 0 of the verifier's transition: old dealers 1..3, readies of new nodes 1..4. */
  function reshareDecision(signer: Context, verifier: Context): ReshareDecision {
    const hash = "cd".repeat(32);
    const transition = transitionOf(verifier);
    return {
      type: "reshareDealers",
      transition,
      chunk: 0,
      dealers: [1, 2, 3].map((dealer) => ({
        dealer,
        hash,
        readies: [1, 2, 3, 4].map((node) => {
          const own = cores(signer, node - 1);
          const id = { epoch: transition, batch: 0, dealer };
          return { node, signature: own.signer.sign(readySignBytes(own.chainId, id, hash, PSS_DOMAIN)) };
        }),
      })),
    };
  }

  describe("readies, as the key generation and the handover check them", function () {
    it("refuses a key-generation ready signed for another deployment or epoch", function () {
      replays(
        HOME,
        SERVING_REPLAYS,
        (signer, verifier) => {
          const own = cores(verifier, 0);
          return decisionProblem(dealerDecision(signer, verifier), THRESHOLDS, own.chainId, (node, bytes, sig) =>
            own.signer.verify(node, bytes, sig),
          );
        },
        /^dealer 1 has a bad ready$/,
      );
    });

    it("refuses a handover ready signed for another deployment, attempt or old–new epoch pair", function () {
      replays(
        SUCCESSOR,
        HANDOVER_REPLAYS,
        (signer, verifier) => {
          const own = cores(verifier, 0);
          return reshareDecisionProblem(
            reshareDecision(signer, verifier),
            THRESHOLDS,
            THRESHOLDS,
            own.chainId,
            (node, bytes, sig) => own.signer.verify(node, bytes, sig),
          );
        },
        /^dealer 1 has a bad ready$/,
      );
    });

    it("never takes a key-generation ready for a handover one, in one domain", function () {
      const own = cores(SUCCESSOR, 0);
      const id = { epoch: transitionOf(SUCCESSOR), batch: 0, dealer: 1 };
      const signature = own.signer.sign(readySignBytes(own.chainId, id, "cd".repeat(32)));
      expect(own.signer.verify(1, readySignBytes(own.chainId, id, "cd".repeat(32), PSS_DOMAIN), signature)).to.equal(
        false,
      );
    });
  });

  describe("commitment signatures", function () {
    const commitment = "aa".repeat(32);
    const temp = G.multiply(99n);
    const hex64 = (v: bigint) => v.toString(16).padStart(64, "0");
    const now = 1_800_000_000;
    /** Node signatures over commitment data naming `fields` (the Torus form, then the domain fields). */
    const entries = (fields: readonly string[]) =>
      SECRETS.map((secret, i) => {
        const data = commitmentData(commitment, hex64(temp.x), hex64(temp.y), "dev", now, fields);
        return {
          data,
          signature: signTorus(secret, data),
          nodepubx: toLegacyHex(PUBLIC_KEYS[i]!.x),
          nodepuby: toLegacyHex(PUBLIC_KEYS[i]!.y),
        };
      });
    const rules = (deployment: Deployment, epoch: number) => ({
      nodeKeys: PUBLIC_KEYS,
      nowSeconds: now,
      maxAgeSeconds: 600,
      domainFields: commitmentDomainFields(deployment, epoch),
    });

    it("a node counts none signed for another deployment or epoch, nor the old form, and says how many", function () {
      const home = rules(D1, 2);
      expect(screenEntries(entries(home.domainFields), commitment, "dev", home)).to.have.length(N);
      for (const [what, fields] of [
        ["another deployment", commitmentDomainFields(D2, 2)],
        ["another epoch", commitmentDomainFields(D1, 1)],
        ["the old form", []],
        ["a field too many", [...home.domainFields, "x"]],
      ] as const) {
        expect(screenEntries(entries(fields), commitment, "dev", home), what).to.deep.equal([]);
        expect(otherDomainEntries(entries(fields), commitment, "dev", home), what).to.equal(N);
      }
    });

    describe("the SDK", function () {
      let servers: FastifyInstance[] = [];
      const methodsSeen: string[] = [];
      afterEach(async () => {
        await Promise.all(servers.map((s) => s.close()));
        servers = [];
        methodsSeen.length = 0;
      });

      /** Five in-memory nodes serving epoch 2 of D1, reached over the SDK's fetch. */
      function nodesOf(deployment: Deployment, epoch: number) {
        const network = new FakeKeyNetwork(5, 1, 3, 1, deployment, epoch);
        servers = network.nodes.map((service) =>
          buildApiServer({
            service,
            status: fakeStatusSource(service),
            settings: {
              verifiers: [
                {
                  name: "dev",
                  issuer: "http://127.0.0.1:9/issuer",
                  jwksUri: "http://127.0.0.1:9/jwks",
                  audience: "dev",
                  verifierIdClaim: "email",
                  maxTokenAgeSeconds: 600,
                  algorithms: ["RS256"],
                },
              ],
              keyAssignPerSecond: 1000,
              commitmentsPerSecond: 1000,
            },
            log: { error: () => undefined },
          }),
        );
        const fetch = (async (url: string, init: { body: string }) => {
          methodsSeen.push((JSON.parse(init.body) as { method: string }).method);
          const server = servers[Number(new URL(url).hostname.split(".").at(-1)) - 1]!;
          const answer = await server.inject({
            method: "POST",
            url: "/jrpc",
            headers: { "content-type": "application/json" },
            payload: init.body,
          });
          return new Response(answer.body, { status: answer.statusCode });
        }) as unknown as typeof globalThis.fetch;
        return { network, fetch };
      }

      /** The SDK's view of the network, as a network description names it. */
      function description(network: FakeKeyNetwork, deployment: Deployment, epoch: number) {
        return networkFromDescription({
          chain: deployment,
          epoch: { id: epoch, t: 1 },
          nodes: network.nodeKeys.map((key, i) => ({
            index: i + 1,
            endpoint: `http://127.0.0.${i + 1}/jrpc`,
            pubX: key.x.toString(16),
            pubY: key.y.toString(16),
          })),
        });
      }

      it("refuses signatures that name another deployment or epoch, and never reveals the token", async function () {
        for (const [what, deployment, epoch] of [
          ["another deployment", D2, 2],
          ["another epoch", D1, 3],
        ] as const) {
          const { network, fetch } = nodesOf(D1, 2);
          const error = await login(
            description(network, deployment, epoch),
            { verifier: "dev", verifierId: "a@example.com", idToken: `token-${what}` },
            { fetch },
          ).catch((e: unknown) => e);
          expect(error, what).to.be.instanceOf(LoginError).with.property("code", "WRONG_DEPLOYMENT");
          expect((error as Error).message, what)
            .to.include(`/ ${epoch}`)
            .and.include("the token was not revealed");
          expect(methodsSeen, what).to.not.include("ShareRequest");
          await Promise.all(servers.map((s) => s.close()));
          methodsSeen.length = 0;
        }
      });

      it("reveals the token once the nodes' signatures name the network it was given", async function () {
        const { network, fetch } = nodesOf(D1, 2);
        const error = await login(
          description(network, D1, 2),
          { verifier: "dev", verifierId: "a@example.com", idToken: "token-home" },
          { fetch },
        ).catch((e: unknown) => e);
        // The token is fake, so the nodes refuse it; what matters is that the signatures counted and it was revealed.
        expect(error).to.be.instanceOf(LoginError).with.property("code", "NO_MAJORITY");
        expect(methodsSeen).to.include("ShareRequest");
      });
    });
  });
});
