/**
 * Where the app stands in the epoch's life, as the sub-machines read it from each other: frozen for a handover
 * (freeze-votes.ts) and, in a successor epoch, whether every moved chunk is installed (moved-chunks.ts).
 *
 * Owns: nothing; it is the read-only view the sub-machines share, so that none holds another's state.
 * Must never: grow a setter; only the sub-machine that owns a flag changes it.
 */
export interface AppPhase {
  /** Set from the block where a quorum froze the state for the handover to `nextEpoch` until it thaws. */
  readonly frozen: { readonly nextEpoch: number } | undefined;
  /** Always in a genesis epoch; in a successor epoch once every moved chunk is installed. */
  readonly installed: boolean;
}

export const NOT_INSTALLED = "the keys moved from the previous epoch are not all installed yet";

/** A genesis epoch receives no handover: it installs no moved keys and orders no reshare decisions. */
export const NO_HANDOVER = "this epoch runs no handover";
