/**
 * Key assignment: a user (verifier, verifierId) gets the next free key of the pool, once. Unsigned, since any client
 * may ask a node's API (which rate-limits); the app makes it idempotent, so a repeated request answers the same key
 * (Torus appended a new key on every call).
 *
 * Owns: nothing but the rules of when a user may get a key; the keys and owners are the pool's (key-pool.ts).
 * Must never: assign while frozen for a handover (what moves is one agreed state) or before a successor epoch installed
 * its moved mapping (a user may own a moved key), nor consume a key when it refuses.
 */
import type { KeyPool } from "./key-pool.ts";
import { NOT_INSTALLED, type AppPhase } from "./phase.ts";
import type { AssignTx, PublicKeyHex } from "./transactions.ts";

export type AssignResult =
  | { code: "OK"; keyIndex: number; publicKey: PublicKeyHex }
  | { code: "NO_FREE_KEY" }
  | { code: "FROZEN"; nextEpoch: number }
  | { code: "INVALID"; detail: string };

export class Assignments {
  readonly #pool: KeyPool;
  readonly #phase: AppPhase;

  constructor(pool: KeyPool, phase: AppPhase) {
    this.#pool = pool;
    this.#phase = phase;
  }

  /** The mempool admits an assignment only if it would assign now; a repeated one would answer the same key. */
  problem({ verifier, verifierId }: AssignTx): string | undefined {
    if (this.#pool.keyOf(verifier, verifierId) !== undefined) return "already assigned";
    if (this.#phase.frozen) return "frozen for the handover";
    if (!this.#phase.installed) return NOT_INSTALLED;
    if (this.#pool.free === 0) return "no free key";
    return undefined;
  }

  /** Idempotent: a user that has a key keeps it. */
  assign({ verifier, verifierId }: AssignTx): AssignResult {
    const keyIndex = this.#pool.keyOf(verifier, verifierId);
    if (keyIndex !== undefined) return { code: "OK", keyIndex, publicKey: this.#pool.publicKey(keyIndex)! };
    // Refused rather than carried over as a second delta: the handover is short, a client retries, and what moves
    // is then one agreed state.
    const frozen = this.#phase.frozen;
    if (frozen) return { code: "FROZEN", nextEpoch: frozen.nextEpoch };
    // A successor epoch assigns nothing before the whole moved mapping is installed: a user may own a moved key.
    if (!this.#phase.installed) return { code: "INVALID", detail: NOT_INSTALLED };
    const assigned = this.#pool.assignNext(verifier, verifierId);
    return assigned === undefined ? { code: "NO_FREE_KEY" } : { code: "OK", ...assigned };
  }
}
