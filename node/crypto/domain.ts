/**
 * The signing domain: which deployment, which epoch and (in a successor epoch) which handover a signature belongs to.
 * A node key can be whitelisted in several epochs and reused in another deployment; a local chain repeats its chain id
 * and its first contract address on every restart, so the deployment is named by the hash of the block that deployed
 * the NodeList as well (as node/store/deployment-binding.ts binds a data directory). Every sign-bytes function puts
 * the encoded domain right after its own message tag, so a signature made for one deployment, epoch or handover
 * attempt verifies in no other.
 *
 * Pure: the composition root builds the domain from the deployment identity it read on-chain and hands it to the cores.
 */

/** The deployment a network runs on, as the chain names it. */
export interface Deployment {
  /** Decimal chain id. */
  chainId: string;
  /** The NodeList contract's address (any case; encoded in lowercase). */
  nodeList: string;
  /** 0x-prefixed hash of the block that deployed the NodeList. */
  deploymentBlockHash: string;
}

export interface SigningDomain {
  deployment: Deployment;
  /** The epoch whose nodes sign (in a successor epoch: the new epoch). */
  epoch: number;
  /** In a successor epoch: the epoch it takes over from and the transition attempt it runs. */
  handover?: { oldEpoch: number; attempt: number };
}

export class DomainError extends Error {
  override readonly name = "DomainError";
}

const CHAIN_ID = /^(0|[1-9][0-9]{0,77})$/;
const ADDRESS = /^0x[0-9a-f]{40}$/;
const HASH = /^0x[0-9a-f]{64}$/;

/** The deployment with its fields in canonical form (lowercase hex), or a DomainError naming the bad field. */
export function canonicalDeployment(deployment: Deployment): Deployment {
  const nodeList = deployment.nodeList.toLowerCase();
  const deploymentBlockHash = deployment.deploymentBlockHash.toLowerCase();
  if (!CHAIN_ID.test(deployment.chainId))
    throw new DomainError(`chain id ${JSON.stringify(deployment.chainId)} is not a decimal integer`);
  if (!ADDRESS.test(nodeList))
    throw new DomainError(`NodeList address ${JSON.stringify(deployment.nodeList)} is not a 20-byte hex address`);
  if (!HASH.test(deploymentBlockHash))
    throw new DomainError(
      `deployment block hash ${JSON.stringify(deployment.deploymentBlockHash)} is not a 32-byte hex hash`,
    );
  return { chainId: deployment.chainId, nodeList, deploymentBlockHash };
}

function epochNumber(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new DomainError(`${what} ${value} is not a non-negative integer`);
  return value;
}

/**
 * The one encoding of a domain every sign-bytes function uses. Each field is checked to hold only hex digits, digits or
 * "0x", so the separators ";" and "=" never occur inside a field and two different domains never encode alike; nor does
 * the encoding contain the \x1c the sign-bytes functions separate their fields with.
 */
export function encodeDomain(domain: SigningDomain): string {
  const { chainId, nodeList, deploymentBlockHash } = canonicalDeployment(domain.deployment);
  const parts = [
    "torus-domain/1",
    `chain=${chainId}`,
    `nodelist=${nodeList}`,
    `block=${deploymentBlockHash}`,
    `epoch=${epochNumber(domain.epoch, "epoch")}`,
  ];
  if (domain.handover) {
    parts.push(`from=${epochNumber(domain.handover.oldEpoch, "old epoch")}`);
    parts.push(`attempt=${epochNumber(domain.handover.attempt, "attempt")}`);
  }
  return parts.join(";");
}

/**
 * The fields appended to a commitment signature's `data` (after the Torus fields), in this order: chain id, NodeList
 * address, deployment block hash, epoch. torus.js forwards `data` without reading it; nodes and the SDK check them.
 */
export function commitmentDomainFields(deployment: Deployment, epoch: number): string[] {
  const d = canonicalDeployment(deployment);
  return [d.chainId, d.nodeList, d.deploymentBlockHash, String(epochNumber(epoch, "epoch"))];
}
