/**
 * The old node's side of the handover, sans-IO: for every chunk of moved keys it sends each new node the chunk's
 * records (the moved state, identical at every honest old node) and its resharing: per key a random symmetric
 * k_new × k_new bivariate polynomial with f(0, 0) = its share s_i (node/dkg/sharing.ts says why symmetric), the
 * Feldman commitments, and the new node's row (which is also its column).
 *
 * The polynomials come from a keyed deterministic generator (HMAC-SHA256 of the node's secret seed, the transition,
 * the chunk, the dealer and a digest of the keys dealt), so a dealer that restarts deals the very same polynomials
 * again without having stored them: it can never hand one new node a row of one polynomial and another a row of a
 * second. The digest covers each key's index, public key and Y vector (what is being dealt, not its owner): were a
 * chunk ever dealt again with other keys, a generator keyed without it would repeat every non-constant coefficient,
 * and a new node holding rows of both dealings would see the difference of two shares in the clear.
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";

import { bivariateRow, randomSymmetricBivariate, type BivariatePolynomial } from "../crypto/bivariate.ts";
import { commitFeldmanMatrix } from "../crypto/commitments.ts";
import type { Rng } from "../crypto/field.ts";
import { matricesToWire, scalarHex } from "../dkg/wire.ts";
import type { MovedKey, PssMessage, Thresholds } from "./types.ts";
import { parsePssMessage, type PssShape } from "./wire.ts";

export interface DealerConfig {
  transition: number;
  old: Thresholds;
  new: Thresholds;
  /** This node's index in the old epoch, 1..n_old. */
  self: number;
  chunkSize: number;
  /** The key index e + 1's key generation continues from (past every key e generated or abandoned). */
  nextKeyIndex: number;
  /** Secret seed of the deterministic dealing (random, kept by the node for the epoch; never sent). */
  seed: Uint8Array;
}

/** A key this old node holds: the moved record and its share. */
export interface DealerKey {
  moved: MovedKey;
  share: bigint;
}

export interface DealerSend {
  to: number;
  message: PssMessage;
}

/** A deterministic Rng: HMAC-SHA256(seed, label ‖ counter) blocks. */
export function keyedRng(seed: Uint8Array, label: string): Rng {
  let counter = 0;
  let buffer = new Uint8Array(0);
  return (bytes) => {
    while (buffer.length < bytes) {
      const block = hmac(sha256, seed, utf8ToBytes(`${label}\x1c${counter++}`));
      const next = new Uint8Array(buffer.length + block.length);
      next.set(buffer);
      next.set(block, buffer.length);
      buffer = next;
    }
    const out = buffer.slice(0, bytes);
    buffer = buffer.slice(bytes);
    return out;
  };
}

/** SHA-256 of what a chunk deals: each key's index, public key and Y vector, in order (hex strings and integers). */
export function dealtKeysDigest(keys: readonly DealerKey[]): string {
  const text = keys.map(({ moved }) => `${moved.keyIndex}\x1c${moved.publicKey}\x1c${moved.shareKeys.join(",")}`);
  return bytesToHex(sha256(utf8ToBytes(text.join("\x1d"))));
}

interface Dealing {
  polynomials: BivariatePolynomial[];
  commitments: string[][][];
}

export class ReshareDealer {
  readonly #c: DealerConfig;
  readonly #keys: readonly DealerKey[];
  readonly #shape: PssShape;
  readonly #dealings = new Map<number, Dealing>();

  constructor(config: DealerConfig, keys: readonly DealerKey[]) {
    if (config.self < 1 || config.self > config.old.n) throw new RangeError(`self must be in 1..${config.old.n}`);
    if (!(config.chunkSize >= 1)) throw new RangeError("chunkSize must be at least 1");
    for (let i = 1; i < keys.length; i++) {
      if (keys[i]!.moved.keyIndex <= keys[i - 1]!.moved.keyIndex) throw new RangeError("keys must be sorted by index");
    }
    this.#c = config;
    this.#keys = keys;
    this.#shape = { nOld: config.old.n, nNew: config.new.n, kNew: config.new.k, chunkSize: config.chunkSize };
  }

  get chunks(): number {
    return Math.max(1, Math.ceil(this.#keys.length / this.#c.chunkSize));
  }

  /** Records and resharing of every chunk, to every new node. */
  start(): DealerSend[] {
    const out: DealerSend[] = [];
    for (let chunk = 0; chunk < this.chunks; chunk++)
      for (let j = 1; j <= this.#c.new.n; j++) out.push(...this.chunkFor(chunk, j));
    return out;
  }

  /** A new node's message: only a resend request concerns a dealer. Anything else is ignored. */
  onMessage(from: number, raw: unknown): DealerSend[] {
    if (!Number.isSafeInteger(from) || from < 1 || from > this.#c.new.n) return [];
    let message;
    try {
      message = parsePssMessage(raw, this.#shape);
    } catch {
      return [];
    }
    if (message.type !== "resend" || message.epoch !== this.#c.transition || message.batch >= this.chunks) return [];
    return this.chunkFor(message.batch, from);
  }

  /** What new node j gets for one chunk: the records, then this dealer's resharing. */
  chunkFor(chunk: number, j: number): DealerSend[] {
    const keys = this.#keys.slice(chunk * this.#c.chunkSize, (chunk + 1) * this.#c.chunkSize);
    if (keys.length === 0) return [];
    const { transition } = this.#c;
    const dealing = this.#dealing(chunk, keys);
    const rows = dealing.polynomials.map((f) => bivariateRow(f, BigInt(j)).map(scalarHex));
    return [
      {
        to: j,
        message: {
          type: "records",
          transition,
          chunk,
          chunks: this.chunks,
          nextKeyIndex: this.#c.nextKeyIndex,
          keys: keys.map((k) => k.moved),
        },
      },
      {
        to: j,
        message: {
          type: "send",
          transition,
          chunk,
          dealer: this.#c.self,
          commitments: dealing.commitments,
          rows,
          // The polynomials are symmetric: node j's column is its row.
          cols: rows,
        },
      },
    ];
  }

  #dealing(chunk: number, keys: readonly DealerKey[]): Dealing {
    let dealing = this.#dealings.get(chunk);
    if (!dealing) {
      const { seed, transition, self } = this.#c;
      const rng = keyedRng(seed, `pss-deal/2\x1c${transition}\x1c${chunk}\x1c${self}\x1c${dealtKeysDigest(keys)}`);
      const polynomials = keys.map((k) => randomSymmetricBivariate(k.share, this.#c.new.k, rng));
      dealing = { polynomials, commitments: matricesToWire(polynomials.map((f) => commitFeldmanMatrix(f))) };
      this.#dealings.set(chunk, dealing);
    }
    return dealing;
  }
}
