/**
 * The protocol cores of one epoch that live for the whole run: the key-mapping app (over the state the epoch's chain
 * store holds), the mempool in front of it, the
 * BFT signature scheme and the signer the key generation and handover use, all keyed by the epoch's node keys, and the
 * signing domain they sign over (also the BFT chain id). Builds only; the drivers step them.
 */
import type { AppState } from "../app/app-state.ts";
import { KeyMappingApp } from "../app/key-mapping-app.ts";
import { ecdsaScheme } from "../bft/ecdsa-scheme.ts";
import { Mempool } from "../bft/mempool.ts";
import type { SignatureScheme } from "../bft/types.ts";
import type { EpochView } from "../chain/registry.ts";
import { pointFromCoordinates } from "../crypto/point.ts";
import { encodeDomain, type Deployment } from "../crypto/domain.ts";
import { createTorusVerifier, signTorus } from "../crypto/signature.ts";
import type { NodeSigner } from "../dkg/types.ts";
import { thresholdsOf, transitionId } from "./handover.ts";

export interface EpochCores {
  /** The encoded signing domain every signature of this epoch's cores names; the BFT chain id too. */
  chainId: string;
  scheme: SignatureScheme;
  app: KeyMappingApp;
  mempool: Mempool;
  signer: NodeSigner;
}

export function buildCores(
  epoch: EpochView,
  successor: { from: EpochView; attempt: number } | undefined,
  privateKey: bigint,
  keygen: { batchSize: number },
  deployment: Deployment,
  state: AppState,
): EpochCores {
  const publicKeys = epoch.nodes.map((n) => pointFromCoordinates(n.pubKx, n.pubKy, `node ${n.index} key`));
  const scheme = ecdsaScheme(privateKey, publicKeys);
  // One BFT chain per deployment and epoch, and in a successor epoch one per transition attempt: nothing signed in an
  // aborted attempt counts in a retry, and nothing signed with a reused node key counts in another deployment.
  const chainId = encodeDomain({
    deployment,
    epoch: epoch.epoch,
    ...(successor ? { handover: { oldEpoch: successor.from.epoch, attempt: successor.attempt } } : {}),
  });
  const app = new KeyMappingApp({
    chainId,
    validators: epoch.n,
    epoch: epoch.epoch,
    k: epoch.k,
    t: epoch.t,
    keysPerBatch: keygen.batchSize * epoch.k,
    ...(successor
      ? {
          handover: {
            transition: transitionId(epoch.epoch, successor.attempt),
            old: thresholdsOf(successor.from),
            new: thresholdsOf(epoch),
          },
        }
      : {}),
    verify: (validator, message, signature) => scheme.verify(validator, message, signature),
    state,
  });
  const mempool = new Mempool((tx) => app.checkTx(tx));
  const verifiers = publicKeys.map(createTorusVerifier);
  // The key generation and the handover number nodes 1..n: node i's key is at i − 1.
  const signer: NodeSigner = {
    sign: (message) => signTorus(privateKey, message),
    verify: (node, message, signature) => verifiers[node - 1]?.(message, signature) ?? false,
  };
  return { chainId, scheme, app, mempool, signer };
}
