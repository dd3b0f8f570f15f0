/**
 * This node's signed votes in the key-mapping app: key publications, moved-chunk votes, and freeze and unfreeze votes.
 * Signs with the node key (the one registered on-chain) over the BFT chain id, so a vote counts on this chain only.
 *
 * Must never let the private key leave it, nor decide when to vote (the drivers do).
 */
import {
  encodeTx,
  freezeSignBytes,
  moveKeysSignBytes,
  publishKeysSignBytes,
  type MoveKeysBody,
  type PublishKeysBody,
} from "../app/transactions.ts";
import { signTorus } from "../crypto/signature.ts";
import type { ValidatorIndex } from "./node-index.ts";

export class OwnVotes {
  constructor(
    readonly chainId: string,
    private readonly validator: ValidatorIndex,
    private readonly privateKey: bigint,
  ) {}

  publishKeys(body: PublishKeysBody): string {
    const signature = signTorus(this.privateKey, publishKeysSignBytes(this.chainId, body));
    return encodeTx({ type: "publishKeys", body, validator: this.validator, signature });
  }

  moveKeys(body: MoveKeysBody): string {
    const signature = signTorus(this.privateKey, moveKeysSignBytes(this.chainId, body));
    return encodeTx({ type: "moveKeys", body, validator: this.validator, signature });
  }

  freeze(type: "freeze" | "unfreeze", nextEpoch: number, attempt: number): string {
    const signature = signTorus(this.privateKey, freezeSignBytes(this.chainId, nextEpoch, attempt, type));
    return encodeTx({ type, nextEpoch, attempt, validator: this.validator, signature });
  }
}
