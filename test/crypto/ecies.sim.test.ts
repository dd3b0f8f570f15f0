import { createCipheriv, createHash, createHmac } from "node:crypto";

import eccrypto from "@toruslabs/eccrypto";
import { expect } from "chai";
import fc from "fast-check";

import {
  eciesDecrypt,
  eciesEncrypt,
  eciesFromLegacyShare,
  eciesFromWire,
  eciesToLegacyShare,
  eciesToWire,
  type EciesMessage,
} from "../../node/crypto/ecies.ts";
import { CryptoError, type CryptoErrorCode } from "../../node/crypto/errors.ts";
import { ORDER, bigIntToBytes, systemRng, type Rng } from "../../node/crypto/field.ts";
import { G, Point } from "../../node/crypto/point.ts";
import { Prng, envCount } from "../support/prng.ts";
import { describeOnBackends } from "../support/backends.ts";

// @toruslabs/eccrypto is CommonJS: under ESM its functions are members of the default export (module.exports).

const PROPERTY = { numRuns: envCount("PROPERTY_RUNS", 50), seed: envCount("PROPERTY_SEED", 20260417) };

const privateKey = fc.bigInt({ min: 1n, max: ORDER - 1n });
const plaintext = fc.uint8Array({ maxLength: 100 });

/** A reproducible Rng for tests (never for secrets). */
function seededRng(seed: number): Rng {
  const prng = new Prng(seed);
  return (bytes) => Uint8Array.from({ length: bytes }, () => prng.nextUint32() & 0xff);
}

/** An Rng that returns the given chunks in order: an ephemeral key, then an IV. */
function scriptedRng(...chunks: Uint8Array[]): Rng {
  return (bytes) => {
    const chunk = chunks.shift();
    if (chunk?.length !== bytes) throw new Error(`scripted rng: wanted ${bytes} bytes`);
    return chunk;
  };
}

const buf = (bytes: Uint8Array): Buffer => Buffer.from(bytes);
const key32 = (key: bigint): Buffer => Buffer.from(bigIntToBytes(key));
const toEccrypto = (m: EciesMessage) => ({
  iv: buf(m.iv),
  ephemPublicKey: buf(m.ephemPublicKey),
  ciphertext: buf(m.ciphertext),
  mac: buf(m.mac),
});

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

/** ECIES spelled out step by step with the x-coordinate in a chosen byte form, as the Go node (padded) did. */
function encryptWithPx(px: Uint8Array, ephemeral: bigint, iv: Uint8Array, message: Uint8Array): EciesMessage {
  const h = createHash("sha512").update(px).digest();
  const cipher = createCipheriv("aes-256-cbc", h.subarray(0, 32), iv);
  const ciphertext = new Uint8Array(Buffer.concat([cipher.update(message), cipher.final()]));
  const ephemPublicKey = G.multiply(ephemeral).toBytes(false);
  const mac = createHmac("sha256", h.subarray(32)).update(iv).update(ephemPublicKey).update(ciphertext).digest();
  return { iv, ephemPublicKey, ciphertext, mac: new Uint8Array(mac) };
}

describeOnBackends(`ecies: eccrypto-compatible ECIES (${PROPERTY.numRuns} runs, seed ${PROPERTY.seed})`, function () {
  const RECIPIENT = 0x1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988n;
  const RECIPIENT_PUBLIC = G.multiply(RECIPIENT);
  const SHARE = bigIntToBytes(0xc0ffeen, 32);

  describe("compatibility with @toruslabs/eccrypto 3.0.0", function () {
    it("eccrypto decrypts what we encrypt", async function () {
      await fc.assert(
        fc.asyncProperty(privateKey, plaintext, fc.integer(), async (key, message, seed) => {
          const sealed = eciesEncrypt(G.multiply(key), message, seededRng(seed));
          const opened = await eccrypto.decrypt(key32(key), toEccrypto(sealed));
          expect(new Uint8Array(opened)).to.deep.equal(message);
        }),
        PROPERTY,
      );
    });

    it("we decrypt what eccrypto encrypts", async function () {
      await fc.assert(
        fc.asyncProperty(privateKey, plaintext, async (key, message) => {
          const sealed = await eccrypto.encrypt(Buffer.from(G.multiply(key).toBytes(false)), Buffer.from(message));
          expect(eciesDecrypt(key, sealed)).to.deep.equal(message);
        }),
        PROPERTY,
      );
    });

    it("round-trips with ourselves, and the same rng gives the same message (reproducible simulations)", function () {
      fc.assert(
        fc.property(privateKey, plaintext, fc.integer(), (key, message, seed) => {
          const sealed = eciesEncrypt(G.multiply(key), message, seededRng(seed));
          expect(eciesDecrypt(key, sealed)).to.deep.equal(message);
          expect(eciesEncrypt(G.multiply(key), message, seededRng(seed))).to.deep.equal(sealed);
        }),
        PROPERTY,
      );
    });

    it("uses a fresh ephemeral key and IV each time", function () {
      const a = eciesEncrypt(RECIPIENT_PUBLIC, SHARE, systemRng);
      const b = eciesEncrypt(RECIPIENT_PUBLIC, SHARE, systemRng);
      expect(a.ephemPublicKey).to.not.deep.equal(b.ephemPublicKey);
      expect(a.iv).to.not.deep.equal(b.iv);
    });
  });

  describe("the x-coordinate with a leading zero byte (1 in 256)", function () {
    // Search ephemeral keys until x(e · recipient) starts with a zero byte, where stripped and padded forms differ.
    let ephemeral = 0n;
    let padded: Uint8Array = new Uint8Array();
    const prng = seededRng(7);
    for (let tries = 0; ; tries++) {
      if (tries > 100_000) throw new Error("no x-coordinate with a leading zero byte found");
      ephemeral = BigInt("0x" + Buffer.from(prng(32)).toString("hex")) % ORDER;
      if (ephemeral === 0n) continue;
      padded = bigIntToBytes(RECIPIENT_PUBLIC.multiply(ephemeral).toAffine().x, 32);
      if (padded[0] === 0) break;
    }
    const stripped = padded.subarray(padded.findIndex((b) => b !== 0));
    const iv = Uint8Array.from({ length: 16 }, (_, i) => i);

    it("eccrypto's own derive strips the zero byte (the case is real)", async function () {
      expect(stripped.length).to.be.below(32);
      const derived = await eccrypto.derive(key32(ephemeral), Buffer.from(RECIPIENT_PUBLIC.toBytes(false)));
      expect(new Uint8Array(derived)).to.deep.equal(stripped);
      const derivedPadded = await eccrypto.derivePadded(key32(ephemeral), Buffer.from(RECIPIENT_PUBLIC.toBytes(false)));
      expect(new Uint8Array(derivedPadded)).to.deep.equal(padded);
    });

    it("we encrypt with the stripped form, byte for byte, and eccrypto decrypts it", async function () {
      const sealed = eciesEncrypt(RECIPIENT_PUBLIC, SHARE, scriptedRng(bigIntToBytes(ephemeral), iv));
      expect(sealed).to.deep.equal(encryptWithPx(stripped, ephemeral, iv, SHARE));
      expect(sealed.mac).to.not.deep.equal(encryptWithPx(padded, ephemeral, iv, SHARE).mac);
      // eccrypto.encrypt with the same ephemeral key and IV gives the very same message.
      const theirs = await eccrypto.encrypt(Buffer.from(RECIPIENT_PUBLIC.toBytes(false)), Buffer.from(SHARE), {
        ephemPrivateKey: key32(ephemeral),
        iv: Buffer.from(iv),
      });
      expect(toEccrypto(sealed)).to.deep.equal(theirs);
      // Its first (stripped) try succeeds: no reliance on the padded fallback, which eccrypto 2.x lacked.
      const opened = await eccrypto.decrypt(key32(RECIPIENT), toEccrypto(sealed), false);
      expect(new Uint8Array(opened)).to.deep.equal(SHARE);
    });

    it("we also decrypt a message made with the padded form, as the Go node made them", async function () {
      const goStyle = encryptWithPx(padded, ephemeral, iv, SHARE);
      expect(eciesDecrypt(RECIPIENT, goStyle)).to.deep.equal(SHARE);
      // eccrypto 3.0.0 opens it too, through its padded fallback.
      expect(new Uint8Array(await eccrypto.decrypt(key32(RECIPIENT), toEccrypto(goStyle)))).to.deep.equal(SHARE);
    });

    it("refuses a message whose MAC matches neither form", function () {
      const goStyle = encryptWithPx(padded, ephemeral, iv, SHARE);
      goStyle.mac[31]! ^= 1;
      expectRefusal(() => eciesDecrypt(RECIPIENT, goStyle), "DECRYPTION_FAILED", /MAC/);
    });
  });

  describe("attacks and malformed input", function () {
    const sealed = (): EciesMessage => eciesEncrypt(RECIPIENT_PUBLIC, SHARE, seededRng(1));

    it("refuses a tampered MAC, ciphertext, IV or ephemeral key with DECRYPTION_FAILED", function () {
      for (const field of ["mac", "ciphertext", "iv"] as const) {
        for (const index of [0, 15]) {
          const message = sealed();
          message[field][index]! ^= 0x80;
          expectRefusal(() => eciesDecrypt(RECIPIENT, message), "DECRYPTION_FAILED");
        }
      }
      // A different valid ephemeral key: the MAC covers the key as sent.
      expectRefusal(
        () => eciesDecrypt(RECIPIENT, { ...sealed(), ephemPublicKey: G.multiply(5n).toBytes(false) }),
        "DECRYPTION_FAILED",
      );
    });

    it("refuses the wrong private key", function () {
      fc.assert(
        fc.property(privateKey, (other) => {
          fc.pre(other !== RECIPIENT);
          expectRefusal(() => eciesDecrypt(other, sealed()), "DECRYPTION_FAILED");
        }),
        PROPERTY,
      );
    });

    it("refuses a compressed ephemeral key (eccrypto accepts one; the wire form is uncompressed)", function () {
      const message = sealed();
      const compressed = G.multiply(3n).toBytes(true);
      expectRefusal(() => eciesDecrypt(RECIPIENT, { ...message, ephemPublicKey: compressed }), "INVALID_ENCODING");
    });

    it("refuses an ephemeral key off the curve, at infinity, or with coordinates ≥ p", function () {
      const message = sealed();
      const offCurve = Uint8Array.from(message.ephemPublicKey);
      offCurve[64]! ^= 1;
      const infinity = new Uint8Array(65);
      infinity[0] = 0x04;
      const overflow = new Uint8Array(65).fill(0xff);
      overflow[0] = 0x04;
      for (const bad of [offCurve, infinity, overflow]) {
        expectRefusal(() => eciesDecrypt(RECIPIENT, { ...message, ephemPublicKey: bad }), "INVALID_POINT");
      }
      const zeroByte = new Uint8Array(1); // the SEC1 encoding of infinity
      expectRefusal(() => eciesDecrypt(RECIPIENT, { ...message, ephemPublicKey: zeroByte }), "INVALID_ENCODING");
    });

    it("refuses wrong lengths of IV, MAC and ciphertext", function () {
      const message = sealed();
      const cases: [Partial<EciesMessage>, RegExp][] = [
        [{ iv: message.iv.subarray(0, 15) }, /iv must be 16 bytes/],
        [{ iv: new Uint8Array(17) }, /iv must be 16 bytes/],
        [{ mac: message.mac.subarray(0, 31) }, /mac must be 32 bytes/],
        [{ mac: new Uint8Array(0) }, /mac must be 32 bytes/],
        [{ ciphertext: new Uint8Array(0) }, /ciphertext/],
        [{ ciphertext: message.ciphertext.subarray(0, 17) }, /ciphertext/],
      ];
      for (const [change, reason] of cases) {
        expectRefusal(() => eciesDecrypt(RECIPIENT, { ...message, ...change }), "INVALID_LENGTH", reason);
      }
    });

    it("refuses fields that are not bytes", function () {
      const message = sealed();
      for (const field of ["iv", "mac", "ciphertext", "ephemPublicKey"] as const) {
        const bad = { ...message, [field]: toEccrypto(message)[field].toString("hex") };
        expectRefusal(() => eciesDecrypt(RECIPIENT, bad), "INVALID_ENCODING", new RegExp(field));
      }
    });

    it("refuses bad PKCS#7 padding under a valid MAC (a broken sender) without crashing", function () {
      const iv = new Uint8Array(16);
      const ephemeral = 12345n;
      const px = bigIntToBytes(RECIPIENT_PUBLIC.multiply(ephemeral).toAffine().x, 32);
      const h = createHash("sha512")
        .update(px.subarray(px.findIndex((b) => b !== 0)))
        .digest();
      const cipher = createCipheriv("aes-256-cbc", h.subarray(0, 32), iv).setAutoPadding(false);
      const ciphertext = new Uint8Array(Buffer.concat([cipher.update(new Uint8Array(16).fill(0x20)), cipher.final()]));
      const ephemPublicKey = G.multiply(ephemeral).toBytes(false);
      const mac = createHmac("sha256", h.subarray(32)).update(iv).update(ephemPublicKey).update(ciphertext).digest();
      const message = { iv, ephemPublicKey, ciphertext, mac: new Uint8Array(mac) };
      expectRefusal(() => eciesDecrypt(RECIPIENT, message), "DECRYPTION_FAILED", /padding/);
    });

    it("refuses a private key of 0 or ≥ q, and a recipient at infinity", function () {
      expectRefusal(() => eciesDecrypt(0n, sealed()), "ZERO_SECRET");
      expectRefusal(() => eciesDecrypt(ORDER, sealed()), "INVALID_SCALAR");
      expectRefusal(() => eciesEncrypt(Point.ZERO, SHARE, systemRng), "INVALID_POINT");
    });

    it("refuses an rng that returns the wrong number of IV bytes", function () {
      const shortIv: Rng = (bytes) => (bytes === 32 ? bigIntToBytes(7n) : new Uint8Array(15));
      expectRefusal(() => eciesEncrypt(RECIPIENT_PUBLIC, SHARE, shortIv), "INVALID_LENGTH");
    });
  });

  describe("wire forms", function () {
    const message = eciesEncrypt(RECIPIENT_PUBLIC, SHARE, seededRng(2));

    it("writes lowercase hex fields and reads them back", function () {
      const wire = eciesToWire(message);
      expect(wire.iv).to.match(/^[0-9a-f]{32}$/);
      expect(wire.ephemPublicKey).to.match(/^04[0-9a-f]{128}$/);
      expect(wire.mac).to.match(/^[0-9a-f]{64}$/);
      expect(wire.ciphertext).to.match(/^[0-9a-f]{96}$/);
      expect(eciesFromWire(wire, "msg")).to.deep.equal(message);
      expect(eciesDecrypt(RECIPIENT, eciesFromWire(JSON.parse(JSON.stringify(wire)) as object, "msg"))).to.deep.equal(
        SHARE,
      );
    });

    it("refuses wire fields of the wrong length or case, missing, or over the ciphertext cap", function () {
      const wire = eciesToWire(message);
      expectRefusal(() => eciesFromWire({ ...wire, iv: wire.iv.slice(2) }, "msg"), "INVALID_LENGTH", /msg\.iv/);
      expectRefusal(() => eciesFromWire({ ...wire, mac: wire.mac.toUpperCase() }, "msg"), "INVALID_ENCODING");
      expectRefusal(() => eciesFromWire({ ...wire, ephemPublicKey: undefined }, "msg"), "INVALID_ENCODING");
      expectRefusal(() => eciesFromWire(wire, "msg", 32), "INVALID_LENGTH", /msg\.ciphertext/);
    });

    it("writes Share as base64 of the hex ciphertext and Metadata as hex, which torus.js 8.0.1 decodes", async function () {
      const { Share, Metadata } = eciesToLegacyShare(message);
      expect(Buffer.from(Share, "base64").toString("ascii")).to.equal(toEccrypto(message).ciphertext.toString("hex"));
      expect(Metadata.mode).to.equal("AES256");
      // torus.js 8.0.1 (torusUtils.cjs.js:651-660), applied to our JSON.
      const opened = await eccrypto.decrypt(key32(RECIPIENT), {
        ephemPublicKey: Buffer.from(Metadata.ephemPublicKey, "hex"),
        iv: Buffer.from(Metadata.iv, "hex"),
        mac: Buffer.from(Metadata.mac, "hex"),
        ciphertext: Buffer.from(Buffer.from(Share, "base64").toString("binary").padStart(64, "0"), "hex"),
      });
      expect(new Uint8Array(opened)).to.deep.equal(SHARE);
      expect(eciesFromLegacyShare(Share, Metadata, "keys[0]")).to.deep.equal(message);
    });

    it("shows why shares go as 32 bytes: torus.js's padStart(64) breaks a one-block ciphertext", async function () {
      const short = eciesToLegacyShare(eciesEncrypt(RECIPIENT_PUBLIC, Uint8Array.of(1, 2, 3), seededRng(3)));
      const asTorusJsReadsIt = Buffer.from(
        Buffer.from(short.Share, "base64").toString("binary").padStart(64, "0"),
        "hex",
      );
      expect(asTorusJsReadsIt).to.have.length(32); // 16 zero bytes were put in front of the real 16
      const attempt = eccrypto.decrypt(key32(RECIPIENT), {
        ephemPublicKey: Buffer.from(short.Metadata.ephemPublicKey, "hex"),
        iv: Buffer.from(short.Metadata.iv, "hex"),
        mac: Buffer.from(short.Metadata.mac, "hex"),
        ciphertext: asTorusJsReadsIt,
      });
      await attempt.then(
        () => expect.fail("torus.js would have decrypted a one-block ciphertext"),
        (error: Error) => expect(error.message).to.match(/bad MAC/),
      );
    });

    it("refuses a non-canonical or non-hex Share, and missing Metadata", function () {
      const { Share, Metadata } = eciesToLegacyShare(message);
      for (const bad of [Share.slice(0, -1), Share + "=", ` ${Share}`, Share.replace(/.$/, "!")]) {
        expectRefusal(() => eciesFromLegacyShare(bad, Metadata, "keys[0]"), "INVALID_ENCODING", /keys\[0\]\.Share/);
      }
      const notHex = Buffer.from("zz".repeat(48), "ascii").toString("base64");
      expectRefusal(() => eciesFromLegacyShare(notHex, Metadata, "keys[0]"), "INVALID_ENCODING", /ciphertext/);
      expectRefusal(() => eciesFromLegacyShare(Share, null, "keys[0]"), "INVALID_ENCODING", /Metadata/);
      expectRefusal(() => eciesFromLegacyShare(Share, { ...Metadata, iv: 1 }, "keys[0]"), "INVALID_ENCODING", /iv/);
      expectRefusal(() => eciesFromLegacyShare(42, Metadata, "keys[0]"), "INVALID_ENCODING");
      const huge = Buffer.from("00".repeat(8192), "ascii").toString("base64");
      expectRefusal(() => eciesFromLegacyShare(huge, Metadata, "keys[0]"), "INVALID_LENGTH");
    });
  });
});
