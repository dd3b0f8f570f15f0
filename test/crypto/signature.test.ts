import { secp256k1 } from "@noble/curves/secp256k1.js";
import { expect } from "chai";
import { SigningKey, Signature, keccak256, toUtf8Bytes } from "ethers";
import fc from "fast-check";

import { CryptoError, type CryptoErrorCode } from "../../node/crypto/errors.ts";
import { ORDER, bigIntToBytes } from "../../node/crypto/field.ts";
import { G, Point } from "../../node/crypto/point.ts";
import {
  createTorusVerifier,
  parseTorusSignature,
  recoverSigner,
  signTorus,
  torusDigest,
  verifyTorus,
} from "../../node/crypto/signature.ts";
import { envCount } from "../support/prng.ts";
import { describeOnBackends } from "../support/backends.ts";

// PROPERTY_RUNS=10000 runs more cases; a failure prints fast-check's seed, PROPERTY_SEED=<seed> replays it.
const PROPERTY = { numRuns: envCount("PROPERTY_RUNS", 50), seed: envCount("PROPERTY_SEED", 20260417) };

const privateKey = fc.bigInt({ min: 1n, max: ORDER - 1n });
const data = fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.string({ unit: "grapheme", maxLength: 80 }));

const KEY = 0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318n;
const PUBLIC = G.multiply(KEY);
// CommitmentRequest data as the Go node built it: prefix␜tokencommitment␜temppubx␜temppuby␜verifier␜unix seconds.
const COMMITMENT = ["mug00", "ab".repeat(32), "01".repeat(32), "02".repeat(32), "google", "1700000000"].join("\x1c");

const hex64 = (value: bigint): string => value.toString(16).padStart(64, "0");
const withParts = (signature: string, parts: { r?: bigint; s?: bigint; v?: string }): string =>
  (parts.r === undefined ? signature.slice(0, 64) : hex64(parts.r)) +
  (parts.s === undefined ? signature.slice(64, 128) : hex64(parts.s)) +
  (parts.v ?? signature.slice(128));

function expectRefusal(action: () => unknown, code: CryptoErrorCode, message?: RegExp): void {
  try {
    action();
  } catch (error) {
    expect(error).to.be.instanceOf(CryptoError);
    expect((error as CryptoError).code).to.equal(code);
    if (message) expect((error as CryptoError).message).to.match(message);
    return;
  }
  expect.fail("expected a CryptoError");
}

function ethersKey(key: bigint): SigningKey {
  return new SigningKey("0x" + hex64(key));
}

describeOnBackends(`signature: Torus node signatures (${PROPERTY.numRuns} runs, seed ${PROPERTY.seed})`, function () {
  describe("compatibility with ethers", function () {
    it("equals ethers SigningKey.sign(keccak256(data)).serialized byte for byte", function () {
      fc.assert(
        fc.property(privateKey, data, (key, message) => {
          const bytes = typeof message === "string" ? toUtf8Bytes(message) : message;
          const expected = ethersKey(key).sign(keccak256(bytes)).serialized;
          expect("0x" + signTorus(key, message)).to.equal(expected);
        }),
        PROPERTY,
      );
    });

    it("is recovered by ethers to the signing key", function () {
      fc.assert(
        fc.property(privateKey, data, (key, message) => {
          const signature = signTorus(key, message);
          const recovered = SigningKey.recoverPublicKey(torusDigest(message), Signature.from("0x" + signature));
          expect(recovered).to.equal(ethersKey(key).publicKey);
        }),
        PROPERTY,
      );
    });

    it("verifies ethers' signatures, and recovers their signer", function () {
      fc.assert(
        fc.property(privateKey, data, (key, message) => {
          const signature = ethersKey(key).sign(torusDigest(message)).serialized.slice(2);
          const publicKey = G.multiply(key);
          expect(verifyTorus(publicKey, message, signature)).to.be.true;
          expect(recoverSigner(message, signature).equals(publicKey)).to.be.true;
        }),
        PROPERTY,
      );
    });
  });

  describe("format", function () {
    it("is 130 lowercase hex chars ending in 1b or 1c, without 0x, over keccak256 of the UTF-8 bytes", function () {
      const signature = signTorus(KEY, COMMITMENT);
      expect(signature).to.match(/^[0-9a-f]{128}1[bc]$/);
      expect(signTorus(KEY, new TextEncoder().encode(COMMITMENT))).to.equal(signature);
      expect(Buffer.from(torusDigest(COMMITMENT)).toString("hex")).to.equal(
        keccak256(toUtf8Bytes(COMMITMENT)).slice(2),
      );
    });

    it("is deterministic (RFC 6979) and verifies, and recovers its signer", function () {
      fc.assert(
        fc.property(privateKey, data, (key, message) => {
          const signature = signTorus(key, message);
          expect(signTorus(key, message)).to.equal(signature);
          expect(verifyTorus(G.multiply(key), message, signature)).to.be.true;
          expect(recoverSigner(message, signature).equals(G.multiply(key))).to.be.true;
        }),
        PROPERTY,
      );
    });

    it("always emits low-s", function () {
      fc.assert(
        fc.property(privateKey, data, (key, message) => {
          expect(parseTorusSignature(signTorus(key, message)).s <= ORDER >> 1n).to.be.true;
        }),
        PROPERTY,
      );
    });

    it("refuses a private key of 0 or ≥ q", function () {
      expectRefusal(() => signTorus(0n, "x"), "ZERO_SECRET");
      expectRefusal(() => signTorus(ORDER, "x"), "INVALID_SCALAR");
      expectRefusal(() => signTorus(-1n, "x"), "INVALID_SCALAR");
    });
  });

  describe("attacks on verification", function () {
    const signature = signTorus(KEY, COMMITMENT);
    const { r, s } = parseTorusSignature(signature);
    const v = signature.slice(128);
    const otherV = v === "1b" ? "1c" : "1b";

    it("refuses the high-s twin (r, q − s, flipped v), which plain ECDSA and the Go node accepted", function () {
      const twin = withParts(signature, { s: ORDER - s, v: otherV });
      // The twin is a valid ECDSA signature by the same key (Go's ecdsa.Verify checks r and s only)...
      const compact = Buffer.from(twin.slice(0, 128), "hex");
      const plain = { prehash: false, lowS: false } as const;
      expect(secp256k1.verify(compact, torusDigest(COMMITMENT), PUBLIC.toBytes(false), plain)).to.be.true;
      // ...but it is a second spelling of the same signature, so we refuse it, as ethers does.
      expect(() => Signature.from("0x" + twin).s).to.throw(/non-canonical s/);
      expect(verifyTorus(PUBLIC, COMMITMENT, twin)).to.be.false;
      expectRefusal(() => parseTorusSignature(twin), "INVALID_SIGNATURE", /high-s/);
      expectRefusal(() => recoverSigner(COMMITMENT, twin), "INVALID_SIGNATURE", /high-s/);
    });

    it("refuses the v-flipped copy (right r and s, wrong v)", function () {
      const flipped = withParts(signature, { v: otherV });
      expect(verifyTorus(PUBLIC, COMMITMENT, flipped)).to.be.false;
      expect(recoverSigner(COMMITMENT, flipped).equals(PUBLIC)).to.be.false;
    });

    it("refuses a wrong length: empty, 128, 129, 131 and 132 chars, and a 0x prefix", function () {
      for (const bad of ["", signature.slice(0, 128), signature.slice(0, 129), signature + "0", signature + "00"]) {
        expect(verifyTorus(PUBLIC, COMMITMENT, bad)).to.be.false;
        expectRefusal(() => parseTorusSignature(bad), "INVALID_SIGNATURE", /130 hex chars/);
      }
      expect(verifyTorus(PUBLIC, COMMITMENT, "0x" + signature)).to.be.false;
    });

    it("refuses uppercase hex, non-hex characters and non-strings", function () {
      expect(verifyTorus(PUBLIC, COMMITMENT, signature.toUpperCase())).to.be.false;
      expectRefusal(() => parseTorusSignature(signature.toUpperCase()), "INVALID_SIGNATURE", /lowercase hex/);
      expectRefusal(() => parseTorusSignature("g" + signature.slice(1)), "INVALID_SIGNATURE", /lowercase hex/);
      expectRefusal(() => parseTorusSignature(" " + signature.slice(1)), "INVALID_SIGNATURE", /lowercase hex/);
      for (const bad of [undefined, null, 42, Buffer.from(signature, "hex"), { signature }]) {
        expect(verifyTorus(PUBLIC, COMMITMENT, bad)).to.be.false;
        expectRefusal(() => parseTorusSignature(bad), "INVALID_SIGNATURE");
      }
    });

    it("refuses a v byte other than 27 or 28 (raw 0/1, 29/30 overflow ids, ff)", function () {
      for (const bad of ["00", "01", "1a", "1d", "1e", "ff"]) {
        expect(verifyTorus(PUBLIC, COMMITMENT, withParts(signature, { v: bad }))).to.be.false;
        expectRefusal(() => parseTorusSignature(withParts(signature, { v: bad })), "INVALID_SIGNATURE", /v byte/);
      }
    });

    it("refuses r or s = 0, = q, or ≥ q (2^256 − 1)", function () {
      for (const bad of [0n, ORDER, ORDER + 1n, 2n ** 256n - 1n]) {
        for (const parts of [{ r: bad }, { s: bad }]) {
          const forged = withParts(signature, parts);
          expect(verifyTorus(PUBLIC, COMMITMENT, forged)).to.be.false;
          expectRefusal(() => parseTorusSignature(forged), "INVALID_SIGNATURE", /must be in \[1, q\)/);
        }
      }
    });

    it("refuses r + q as r (the same R.x, reduced differently)", function () {
      if (r + ORDER < 2n ** 256n) {
        expect(verifyTorus(PUBLIC, COMMITMENT, withParts(signature, { r: r + ORDER }))).to.be.false;
      }
    });

    it("refuses a signature over other data (a different timestamp, one flipped bit)", function () {
      expect(verifyTorus(PUBLIC, COMMITMENT.replace("1700000000", "1700000001"), signature)).to.be.false;
      const bytes = new TextEncoder().encode(COMMITMENT);
      bytes[0]! ^= 1;
      expect(verifyTorus(PUBLIC, bytes, signature)).to.be.false;
    });

    it("refuses a signature by another key", function () {
      fc.assert(
        fc.property(privateKey, data, (key, message) => {
          fc.pre(key !== KEY);
          expect(verifyTorus(PUBLIC, message, signTorus(key, message))).to.be.false;
          expect(recoverSigner(message, signTorus(key, message)).equals(PUBLIC)).to.be.false;
        }),
        PROPERTY,
      );
    });

    it("refuses any single flipped bit of the encoding", function () {
      const bytes = Buffer.from(signature, "hex");
      for (let bit = 0; bit < bytes.length * 8; bit++) {
        const copy = Buffer.from(bytes);
        copy[bit >> 3]! ^= 1 << (bit & 7);
        expect(verifyTorus(PUBLIC, COMMITMENT, copy.toString("hex")), `bit ${bit}`).to.be.false;
      }
    });

    it("recoverSigner refuses an r that is no point's x-coordinate", function () {
      // About half of all r have no point on the curve; search for one from 1 up.
      let x = 1n;
      for (; ; x++) {
        try {
          Point.fromBytes(Uint8Array.of(0x02, ...bigIntToBytes(x)));
        } catch {
          break;
        }
      }
      expectRefusal(() => recoverSigner(COMMITMENT, withParts(signature, { r: x })), "INVALID_SIGNATURE", /recovers/);
      expect(verifyTorus(PUBLIC, COMMITMENT, withParts(signature, { r: x }))).to.be.false;
    });

    it("throws for a public key that is not a finite curve point (the caller's bug, not the peer's)", function () {
      expectRefusal(() => verifyTorus(Point.ZERO, COMMITMENT, signature), "INVALID_POINT");
    });
  });
});

describeOnBackends("createTorusVerifier: verifyTorus with a precomputed key table", function () {
  it("agrees with verifyTorus on valid, tampered, malleated and foreign signatures", function () {
    const privateKey = 0x1234567890abcdefn;
    const publicKey = G.multiply(privateKey);
    const other = G.multiply(privateKey + 1n);
    const verify = createTorusVerifier(publicKey);
    for (let i = 0; i < 40; i++) {
      const data = `message ${i}`;
      const signature = signTorus(privateKey, data);
      const flippedV = signature.slice(0, 128) + (signature.endsWith("1b") ? "1c" : "1b");
      const tampered = (signature[5] === "0" ? "1" : "0").padStart(6, signature.slice(0, 5)) + signature.slice(6);
      const cases: [unknown, string][] = [
        [signature, data],
        [signature, data + "!"],
        [flippedV, data],
        [tampered, data],
        [signTorus(privateKey + 1n, data), data],
        ["zz", data],
      ];
      for (const [sig, message] of cases) expect(verify(message, sig)).to.equal(verifyTorus(publicKey, message, sig));
      expect(verify(data, signature)).to.equal(true);
      expect(createTorusVerifier(other)(data, signature)).to.equal(false);
    }
  });
});
