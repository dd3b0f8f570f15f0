/**
 * The pool of the epoch's keys: every published or moved public key by index, which user (verifier, verifierId) holds
 * which key, and the queue of free keys handed out in index order — over the app's state tables (app-state.ts), so
 * that the keys may live in a store with only a block's rows in memory.
 *
 * Owns: the rows of keys, users, public keys and free keys, and the counts.
 * Must never: decide whether a key may join or be assigned now (frozen, installed, quorum: its callers decide), check
 * a signature, or hand a key out twice (a user keeps the key it holds; a key has at most one owner).
 */
import { publicKeyKey, userKey, type AppState, type Owner } from "./app-state.ts";
import type { MovedKeyEntry, PublicKeyHex } from "./transactions.ts";

export type { Owner } from "./app-state.ts";

export class KeyPool {
  readonly #state: AppState;

  constructor(state: AppState) {
    this.#state = state;
  }

  has(keyIndex: number): boolean {
    return this.#state.keys.has(keyIndex);
  }

  publicKey(keyIndex: number): PublicKeyHex | undefined {
    return this.#state.keys.get(keyIndex)?.publicKey;
  }

  /** The key index a user holds, if any. */
  keyOf(verifier: string, verifierId: string): number | undefined {
    return this.#state.users.get(userKey(verifier, verifierId));
  }

  keyByPublicKey(publicKey: PublicKeyHex): { keyIndex: number; owner?: Owner } | undefined {
    const keyIndex = this.#state.publicKeys.get(publicKeyKey(publicKey));
    return keyIndex === undefined ? undefined : { keyIndex, owner: this.#state.keys.get(keyIndex)?.owner };
  }

  get published(): number {
    return this.#state.scalars.pool.get().published;
  }

  get assigned(): number {
    return this.#state.scalars.pool.get().assigned;
  }

  get free(): number {
    return this.#state.free.count;
  }

  /** Gives a user without a key the lowest free one; undefined when none is free (nothing is consumed). */
  assignNext(verifier: string, verifierId: string): { keyIndex: number; publicKey: PublicKeyHex } | undefined {
    const key = this.#state.free.take();
    if (key === undefined) return undefined;
    this.#own(key.keyIndex, key.publicKey, { verifier, verifierId });
    this.#count({ assigned: 1 });
    return key;
  }

  /** The keys of a publication that reached its quorum: all free. */
  publish(startIndex: number, publicKeys: PublicKeyHex[]): void {
    const keys = publicKeys.map((publicKey, i) => ({ keyIndex: startIndex + i, publicKey }));
    for (const { keyIndex, publicKey } of keys) this.#addKey(keyIndex, publicKey);
    this.#count({ published: keys.length });
    this.#state.free.add(keys);
  }

  /** The keys of a moved chunk that reached its quorum: owned ones stay with their owners, the others are free. */
  install(keys: MovedKeyEntry[]): void {
    for (const { keyIndex, publicKey, owner } of keys) {
      this.#addKey(keyIndex, publicKey);
      if (owner) this.#own(keyIndex, publicKey, owner);
    }
    this.#count({ published: keys.length, assigned: keys.filter((k) => k.owner).length });
    this.#state.free.add(keys.filter((k) => !k.owner).map(({ keyIndex, publicKey }) => ({ keyIndex, publicKey })));
  }

  /** Every key with its owner, if assigned, in key-index order (a state held in memory only: see app-state.ts). */
  entries(): MovedKeyEntry[] {
    return [...this.#state.keys.entries()]
      .flatMap(([keyIndex, row]) => (row ? [{ keyIndex: keyIndex as number, ...row }] : []))
      .sort((a, b) => a.keyIndex - b.keyIndex)
      .map(({ keyIndex, publicKey, owner }) => (owner ? { keyIndex, publicKey, owner } : { keyIndex, publicKey }));
  }

  #addKey(keyIndex: number, publicKey: PublicKeyHex): void {
    this.#state.keys.set(keyIndex, { publicKey });
    this.#state.publicKeys.set(publicKeyKey(publicKey), keyIndex);
  }

  #own(keyIndex: number, publicKey: PublicKeyHex, owner: Owner): void {
    this.#state.users.set(userKey(owner.verifier, owner.verifierId), keyIndex);
    this.#state.keys.set(keyIndex, { publicKey, owner });
  }

  /** Adds to the published and assigned counts: once per publication, chunk or assignment, not per key. */
  #count({ published = 0, assigned = 0 }: { published?: number; assigned?: number }): void {
    const pool = this.#state.scalars.pool.get();
    this.#state.scalars.pool.set({ published: pool.published + published, assigned: pool.assigned + assigned });
  }
}
