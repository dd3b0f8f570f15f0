/** Drives one consensus core by hand: signed proposals and votes from the other validators, outputs inspected. */
import { Consensus, type ConsensusApp, type ConsensusOutput } from "../../node/bft/consensus.ts";
import { blockHash, proposalSignBytes, voteSignBytes } from "../../node/bft/encoding.ts";
import { Mempool } from "../../node/bft/mempool.ts";
import {
  DEFAULT_TIMEOUTS,
  type Block,
  type Commit,
  type Hash,
  type Proposal,
  type SignatureScheme,
  type Vote,
  type VoteType,
} from "../../node/bft/types.ts";
import { fastSchemes } from "../sim/fast-signer.ts";

export const CHAIN = "driver-chain";

/** The app hash the driver's app reports after the block of `height`. */
export const appHashAt = (height: number) => height.toString(16).padStart(64, "a");

export interface DriverOptions {
  /** Runs the core with `deferFinalize` (then `finalize` answers its finalize outputs). */
  deferFinalize?: boolean;
  /** The app's hash after a block, given the hash before it (default: appHashAt(block.height)). */
  appHash?: (block: Block, lastAppHash: Hash) => Hash;
}

export class Driver {
  readonly schemes: SignatureScheme[];
  readonly core: Consensus;
  readonly mempool = new Mempool(() => ({ ok: true }));
  readonly applied: Block[] = [];
  readonly app: ConsensusApp;

  constructor(
    readonly n: number,
    readonly self: number,
    schemes: SignatureScheme[] = fastSchemes(n, "driver"),
    options: DriverOptions = {},
  ) {
    this.schemes = schemes;
    let lastAppHash = "";
    this.app = {
      processProposal: () => true,
      finalizeBlock: (block) => {
        this.applied.push(block);
        lastAppHash = options.appHash?.(block, lastAppHash) ?? appHashAt(block.height);
        return { appHash: lastAppHash, results: block.txs.map(() => "ok") };
      },
    };
    this.core = new Consensus(
      {
        chainId: CHAIN,
        validators: n,
        self,
        timeouts: DEFAULT_TIMEOUTS,
        ...(options.deferFinalize ? { deferFinalize: true } : {}),
      },
      { scheme: this.schemes[self]!, mempool: this.mempool, app: this.app },
      { height: 1, lastBlockHash: "", lastAppHash: "" },
    );
  }

  /** Answers a finalize output as a runtime does: applies the block with the app, then steps `finalized`. */
  finalize(commit: Commit): ConsensusOutput[] {
    const { appHash, results } = this.app.finalizeBlock(commit.block);
    return this.core.step({ type: "finalized", height: commit.block.height, appHash, results });
  }

  block(txs: string[] = ["tx"], proposer = 1): Block {
    return { height: this.core.height, prevHash: "", lastAppHash: "", proposer, txs, evidence: [] };
  }

  proposal(from: number, block: Block, round = 0, validRound = -1): Proposal {
    const hash = blockHash(block);
    const bytes = proposalSignBytes(CHAIN, { height: block.height, round, validRound, blockHash: hash });
    return {
      type: "proposal",
      height: block.height,
      round,
      block,
      validRound,
      validator: from,
      signature: this.schemes[from]!.sign(bytes),
    };
  }

  vote(from: number, type: VoteType, blockHash: Hash | null, round = 0, height = this.core.height): Vote {
    const unsigned = { type, height, round, blockHash };
    return { ...unsigned, validator: from, signature: this.schemes[from]!.sign(voteSignBytes(CHAIN, unsigned)) };
  }

  deliver(from: number, message: unknown): ConsensusOutput[] {
    return this.core.step({ type: "message", from, message });
  }

  /** The other validators, excluding self and the listed ones. */
  others(...except: number[]): number[] {
    return [...Array(this.n).keys()].filter((v) => v !== this.self && !except.includes(v));
  }
}

export function broadcasts(outputs: ConsensusOutput[]) {
  return outputs.flatMap((o) => (o.type === "broadcast" ? [o.message] : []));
}

export function ownVotes(outputs: ConsensusOutput[], type: VoteType): Vote[] {
  return broadcasts(outputs).filter((m): m is Vote => m.type === type);
}
