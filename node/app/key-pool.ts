/**
 * The pool of the epoch's keys: every published or moved public key by index, which user (verifier, verifierId) holds
 * which key, and the queue of free keys handed out in index order.
 *
 * Owns: keys, the index of public keys, assignments and owners, the free queue.
 * Must never: decide whether a key may join or be assigned now (frozen, installed, quorum: its callers decide), check
 * a signature, or hand a key out twice (a user keeps the key it holds; a key has at most one owner).
 */
import type { MovedKeyEntry, PublicKeyHex } from "./transactions.ts";

export interface Owner {
  verifier: string;
  verifierId: string;
}

const userKey = (verifier: string, verifierId: string) => `${verifier}\x1c${verifierId}`;

export class KeyPool {
  readonly #keys = new Map<number, PublicKeyHex>();
  readonly #indexByPublicKey = new Map<string, number>();
  readonly #assignments = new Map<string, number>();
  readonly #owners = new Map<number, Owner>();
  /** Free key indexes in ascending order, consumed from `#freeHead`. */
  #free: number[] = [];
  #freeHead = 0;

  has(keyIndex: number): boolean {
    return this.#keys.has(keyIndex);
  }

  publicKey(keyIndex: number): PublicKeyHex | undefined {
    return this.#keys.get(keyIndex);
  }

  /** The key index a user holds, if any. */
  keyOf(verifier: string, verifierId: string): number | undefined {
    return this.#assignments.get(userKey(verifier, verifierId));
  }

  keyByPublicKey(publicKey: PublicKeyHex): { keyIndex: number; owner?: Owner } | undefined {
    const keyIndex = this.#indexByPublicKey.get(`${publicKey.x}:${publicKey.y}`);
    return keyIndex === undefined ? undefined : { keyIndex, owner: this.#owners.get(keyIndex) };
  }

  get published(): number {
    return this.#keys.size;
  }

  get assigned(): number {
    return this.#assignments.size;
  }

  get free(): number {
    return this.#free.length - this.#freeHead;
  }

  /** Gives a user without a key the lowest free one; undefined when none is free (nothing is consumed). */
  assignNext(verifier: string, verifierId: string): number | undefined {
    if (this.free === 0) return undefined;
    const keyIndex = this.#free[this.#freeHead++]!;
    this.#assignments.set(userKey(verifier, verifierId), keyIndex);
    this.#owners.set(keyIndex, { verifier, verifierId });
    // The consumed head is dropped once it is most of the queue, so that months of assignments do not keep it.
    if (this.#freeHead > 1024 && this.#freeHead * 2 > this.#free.length) {
      this.#free = this.#free.slice(this.#freeHead);
      this.#freeHead = 0;
    }
    return keyIndex;
  }

  /** The keys of a publication that reached its quorum: all free. */
  publish(startIndex: number, publicKeys: PublicKeyHex[]): void {
    publicKeys.forEach((key, i) => this.#addKey(startIndex + i, key));
    this.#addFree(publicKeys.map((_, i) => startIndex + i));
  }

  /** The keys of a moved chunk that reached its quorum: owned ones stay with their owners, the others are free. */
  install(keys: MovedKeyEntry[]): void {
    for (const { keyIndex, publicKey, owner } of keys) {
      this.#addKey(keyIndex, publicKey);
      if (owner) {
        this.#assignments.set(userKey(owner.verifier, owner.verifierId), keyIndex);
        this.#owners.set(keyIndex, owner);
      }
    }
    this.#addFree(keys.filter((k) => !k.owner).map((k) => k.keyIndex));
  }

  /** Every key with its owner, if assigned, in key-index order. */
  entries(): MovedKeyEntry[] {
    return [...this.#keys.entries()]
      .sort(([a], [b]) => a - b)
      .map(([keyIndex, publicKey]) => {
        const owner = this.#owners.get(keyIndex);
        return owner ? { keyIndex, publicKey, owner } : { keyIndex, publicKey };
      });
  }

  #addKey(keyIndex: number, key: PublicKeyHex): void {
    this.#keys.set(keyIndex, key);
    this.#indexByPublicKey.set(`${key.x}:${key.y}`, keyIndex);
  }

  #addFree(indexes: number[]): void {
    const live = this.#free.slice(this.#freeHead);
    const last = live[live.length - 1];
    // Batches usually publish in order; an out-of-order batch needs a sort to keep allocation in index order.
    this.#free =
      last === undefined || indexes[0]! > last ? [...live, ...indexes] : [...live, ...indexes].sort((a, b) => a - b);
    this.#freeHead = 0;
  }
}
