/**
 * A DApp's project outside the repository, as the SDK package test builds it: a folder with its own package.json,
 * the SDK installed from its tarball, a Node script and a TypeScript example that import it by its package name, and
 * the strict consumer tsconfigs the example must compile under.
 */
import { spawn } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";

/** What a child process printed, and how it ended. */
export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to its end. npm's own `npm_*` variables of the `npm test` that started mocha are left out, so the
 * npm run here reads only its own folder's configuration (as a DApp developer's would).
 */
export function run(command: string, args: string[], cwd: string): Promise<Ran> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs a command and returns its output, or throws with everything it printed. */
export async function runOk(command: string, args: string[], cwd: string): Promise<string> {
  const ran = await run(command, args, cwd);
  if (ran.code !== 0)
    throw new Error(`${command} ${args.join(" ")} (in ${cwd}) exited with ${ran.code}:\n${ran.stdout}\n${ran.stderr}`);
  return ran.stdout;
}

/**
 * The machine's own `node`: the first on PATH outside any node_modules (where `npm run` puts the project's Node 22),
 * or this process's Node when there is none. The Node entry must run on Node ≥ 20, which CI's and this machine's
 * system Node are.
 */
export function systemNode(): string {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, "node");
    if (dir !== "" && !dir.split(path.sep).includes("node_modules") && existsSync(candidate))
      return realpathSync(candidate);
  }
  return process.execPath;
}

/** The consumer's Node script: reads the node set from the NodeList, gets the user's key, logs in; prints JSON. */
const loginScript = (sdk: string) => `
import { getOrAssignKey, login, networkFromDescription, networkFromNodeList } from "${sdk}";

const { description, user, idToken } = JSON.parse(process.argv[2]);
const { rpcUrl, nodeList } = description.chain;
const network = await networkFromNodeList({ rpcUrl, nodeList, scheme: "http" });
const key = await getOrAssignKey(network, user, { signer: description.signerHost });
const session = await login(network, { ...user, idToken });
console.log(JSON.stringify({
  node: process.versions.node,
  resolved: import.meta.resolve("${sdk}"),
  fromChain: network,
  fromDescription: networkFromDescription(description),
  key,
  session: { ...session, privateKey: session.privateKey.toString(16) },
}));
`;

/** The consumer's TypeScript: every public name used with its declared types, and misuses that must not compile. */
const example = (sdk: string) => `
import {
  LoginError,
  NodeListError,
  getOrAssignKey,
  login,
  networkFromDescription,
  networkFromNodeList,
  revealQuorum,
  type Deployment,
  type KeyInfo,
  type LoginResult,
  type Network,
  type SdkOptions,
} from "${sdk}";

export async function signIn(rpcUrl: string, nodeList: string, idToken: string): Promise<string> {
  const network: Network = await networkFromNodeList({ rpcUrl, nodeList, scheme: "http" }, { timeoutMs: 5_000 });
  const deployment: Deployment = network.deployment;
  const options: SdkOptions = { signer: "http://127.0.0.1:5558/api/sign", timeoutMs: 5_000 };
  const user = { verifier: "dev", verifierId: "alice@example.com" };
  const key: KeyInfo = await getOrAssignKey(network, user, options);
  try {
    const session: LoginResult = await login(network, { ...user, idToken }, options);
    const privateKey: bigint = session.privateKey;
    return [deployment.chainId, key.address, session.publicKey.x, privateKey > 0n].join(" ");
  } catch (error) {
    if (error instanceof LoginError && error.code === "TOO_FEW_SIGNATURES") return "get a fresh token";
    if (error instanceof NodeListError) return error.code;
    throw error;
  }
}

export const quorum: number = revealQuorum(5, 1);
export const fromFile: Network = networkFromDescription({
  chain: { chainId: "31337", nodeList: "0x5fbdb2315678afecb367f032d93f642f64180aa3", deploymentBlockHash: "0x00" },
  nodes: [{ index: 1, endpoint: "http://127.0.0.1:7001/jrpc", pubX: "1", pubY: "2" }],
  epoch: { id: 1, t: 0 },
});

// The declarations are precise, not \`any\`: each line below must be a type error.
// @ts-expect-error a verifier id is a string
void getOrAssignKey(fromFile, { verifier: "dev", verifierId: 42 });
// @ts-expect-error a login needs the ID token
void login(fromFile, { verifier: "dev", verifierId: "alice@example.com" });
// @ts-expect-error not one of LoginError's codes
export const code: LoginError["code"] = "TIMEOUT";
export const privateKeyHex = async (idToken: string): Promise<string> =>
  // @ts-expect-error the private key is a bigint
  (await login(fromFile, { verifier: "dev", verifierId: "alice@example.com", idToken })).privateKey;
`;

/** A strict consumer tsconfig for one module resolution (what Node uses, or what bundlers use). */
const tsconfig = (resolution: "node16" | "bundler") => ({
  compilerOptions: {
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    noEmit: true,
    // The package's declarations are checked too, not trusted (the compiler's own lib files need not be).
    skipLibCheck: false,
    skipDefaultLibCheck: true,
    target: "es2022",
    lib: ["es2022", "dom"],
    types: [],
    module: resolution === "node16" ? "node16" : "esnext",
    moduleResolution: resolution,
  },
  files: ["example.ts"],
});

/** Writes the consumer project (without installing anything) into `dir`. */
export async function writeConsumer(dir: string, sdk: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const json = (value: unknown) => JSON.stringify(value, null, 2) + "\n";
  await writeFile(path.join(dir, "package.json"), json({ name: "sdk-consumer", private: true, type: "module" }));
  await writeFile(path.join(dir, "login.mjs"), loginScript(sdk));
  await writeFile(path.join(dir, "example.ts"), example(sdk));
  await writeFile(path.join(dir, "tsconfig.node16.json"), json(tsconfig("node16")));
  await writeFile(path.join(dir, "tsconfig.bundler.json"), json(tsconfig("bundler")));
}
