/**
 * A node's data directory belongs to one deployment and one node key. A local chain repeats its chain id, its first
 * contract address and block numbers on every restart, and an operator can point a node at the wrong directory: a
 * node that then "recovered" another network's blocks, WAL and key files would replay a foreign chain, hang waiting
 * for peers that never existed, or hand out keys whose shares were dealt to other nodes.
 *
 * So the directory carries `deployment-binding.json`, written when the directory is first used: the chain id, the
 * NodeList address, the number and hash of the block that deployed it (the hash is what differs between two local
 * chains), and the node key's address (never the key). A start checks it before opening anything else in the
 * directory, and refuses with what differs.
 */
import { lstat, mkdir, readdir } from "node:fs/promises";
import path from "node:path";

import { writeJsonAtomically } from "./atomic-json.ts";
import { DataBindingError, readBindingFile, remedy } from "./binding-error.ts";

export const DEPLOYMENT_BINDING_FILE = "deployment-binding.json";

export interface DeploymentIdentity {
  /** Decimal chain id. */
  chainId: string;
  nodeList: string;
  deploymentBlock: number;
  deploymentBlockHash: string;
  /** The address of the node key that writes this data. */
  nodeAddress: string;
}

const DEPLOYMENT_FIELDS = [
  ["chainId", "chain id"],
  ["nodeList", "NodeList address"],
  ["deploymentBlock", "NodeList deployment block"],
  ["deploymentBlockHash", "deployment block hash"],
] as const;

/**
 * Makes `dataDir` this deployment's and this key's, or refuses it: creates the directory (0700) and its binding when
 * it is missing or empty, accepts it when the binding matches, and throws a DataBindingError otherwise.
 */
export async function bindDataDir(dataDir: string, identity: DeploymentIdentity): Promise<"created" | "matches"> {
  const file = path.join(dataDir, DEPLOYMENT_BINDING_FILE);
  const kind = await lstat(dataDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  if (kind === undefined) await mkdir(dataDir, { recursive: true, mode: 0o700 });
  else if (!kind.isDirectory()) throw new DataBindingError("BAD_BINDING", `dataDir ${dataDir} is not a directory`);

  const stored = await readBindingFile(file, dataDir);
  if (stored === undefined) {
    if ((await readdir(dataDir)).length > 0) {
      throw new DataBindingError(
        "UNBOUND",
        `dataDir ${dataDir} holds files but no ${DEPLOYMENT_BINDING_FILE}: it was written by an older version or ` +
          `by something else, and may belong to another deployment. ${remedy(dataDir)}`,
      );
    }
    await writeJsonAtomically(file, identity);
    return "created";
  }
  checkBinding(`dataDir ${dataDir}`, parseBinding(file, stored, dataDir), identity, remedy(dataDir));
  return "matches";
}

function parseBinding(file: string, value: unknown, dataDir: string): DeploymentIdentity {
  const v = value as Partial<Record<keyof DeploymentIdentity, unknown>> | null;
  const ok =
    typeof v === "object" &&
    v !== null &&
    typeof v.chainId === "string" &&
    typeof v.nodeList === "string" &&
    Number.isSafeInteger(v.deploymentBlock) &&
    typeof v.deploymentBlockHash === "string" &&
    typeof v.nodeAddress === "string";
  if (!ok) throw new DataBindingError("BAD_BINDING", `${file} lacks fields of a binding. ${remedy(dataDir)}`);
  return v as DeploymentIdentity;
}

function same(a: string | number, b: string | number): boolean {
  // Addresses and hashes are hex: EIP-55 checksums differ only in case.
  return String(a).toLowerCase() === String(b).toLowerCase();
}

/**
 * Refuses data bound to another deployment or node key: `where` names it ("dataDir …", "the database …"), `remedy`
 * says what the operator can do. Shared by a data directory's binding and the PostgreSQL database's.
 */
export function checkBinding(
  where: string,
  stored: DeploymentIdentity,
  current: DeploymentIdentity,
  remedy: string,
): void {
  const differences = DEPLOYMENT_FIELDS.filter(([field]) => !same(stored[field], current[field])).map(
    ([field, label]) => `${label} ${String(stored[field])} there, ${String(current[field])} here`,
  );
  if (differences.length > 0) {
    throw new DataBindingError(
      "OTHER_DEPLOYMENT",
      `${where} belongs to another deployment (${differences.join("; ")}). ${remedy}`,
    );
  }
  if (!same(stored.nodeAddress, current.nodeAddress)) {
    throw new DataBindingError(
      "OTHER_NODE_KEY",
      `${where} belongs to another node key of this deployment (node ${stored.nodeAddress} there, ` +
        `${current.nodeAddress} here). ${remedy}`,
    );
  }
}
