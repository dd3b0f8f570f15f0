/** The devnet's OIDC issuer as a node configuration names it (scripts/lib/dev-oidc.ts serves it). */
export const DEV_VERIFIER_CONFIG = {
  name: "dev",
  issuer: "http://127.0.0.1:5555",
  jwksUri: "http://127.0.0.1:5555/jwks",
  audience: "torus-devnet",
  verifierIdClaim: "email",
  maxTokenAgeSeconds: 600,
  algorithms: ["RS256"],
};

/** A node configuration with every required field but the node key, for tests of configuration and key loading. */
export const KEYLESS_NODE_CONFIG = {
  chain: { rpcUrl: "http://127.0.0.1:8545", nodeList: "0x" + "ab".repeat(20) },
  api: { port: 7001 },
  p2p: { listen: "/ip4/127.0.0.1/tcp/9001" },
  dataDir: "data",
  verifiers: [DEV_VERIFIER_CONFIG],
};
