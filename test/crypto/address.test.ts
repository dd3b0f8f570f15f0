import { expect } from "chai";
import { computeAddress, getAddress, SigningKey } from "ethers";
import fc from "fast-check";

import { addressFromPublicKey, isChecksumAddress, parseAddress } from "../../node/crypto/address.ts";
import { CryptoError } from "../../node/crypto/errors.ts";
import { ORDER } from "../../node/crypto/field.ts";
import { G, Point } from "../../node/crypto/point.ts";
import { envCount } from "../support/prng.ts";

const PROPERTY = { numRuns: envCount("PROPERTY_RUNS", 50), seed: envCount("PROPERTY_SEED", 20260417) };

const privateKey = fc.bigInt({ min: 1n, max: ORDER - 1n });
const rawAddress = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => "0x" + Buffer.from(b).toString("hex"));

// The examples of EIP-55 itself (all-caps, all-lower and mixed).
const EIP55_EXAMPLES = [
  "0x52908400098527886E0F7030069857D2E4169EE7",
  "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
  "0xde709f2102306220921060314715629080e2fb77",
  "0x27b1fdb04752bbc536007a920d24acb045561c26",
  "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
  "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
  "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
  "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
];

/** Flips the case of the first letter of the hex digits, breaking an EIP-55 checksum. */
function flipFirstLetter(address: string): string {
  const i = address.slice(2).search(/[a-fA-F]/) + 2;
  const c = address[i]!;
  return address.slice(0, i) + (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) + address.slice(i + 1);
}

describe(`address: Ethereum addresses and EIP-55 (${PROPERTY.numRuns} runs, seed ${PROPERTY.seed})`, function () {
  it("matches ethers computeAddress on random keys", function () {
    fc.assert(
      fc.property(privateKey, (key) => {
        const ethersAddress = computeAddress(new SigningKey("0x" + key.toString(16).padStart(64, "0")).publicKey);
        expect(addressFromPublicKey(G.multiply(key))).to.equal(ethersAddress);
      }),
      PROPERTY,
    );
  });

  it("gives the well-known address of private key 1", function () {
    expect(addressFromPublicKey(G)).to.equal("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf");
  });

  it("refuses the point at infinity", function () {
    expect(() => addressFromPublicKey(Point.ZERO))
      .to.throw(CryptoError)
      .with.property("code", "INVALID_POINT");
  });

  it("checksums as ethers getAddress, from any case", function () {
    fc.assert(
      fc.property(rawAddress, (address) => {
        const expected = getAddress(address);
        expect(parseAddress(address, "address")).to.equal(expected);
        expect(parseAddress(address.toUpperCase().replace("0X", "0x"), "address")).to.equal(expected);
        expect(parseAddress(expected, "address")).to.equal(expected);
        expect(isChecksumAddress(expected)).to.be.true;
      }),
      PROPERTY,
    );
  });

  it("accepts the EIP-55 examples and reproduces them", function () {
    for (const example of EIP55_EXAMPLES) {
      expect(parseAddress(example.toLowerCase(), "address")).to.equal(example);
      expect(isChecksumAddress(example)).to.be.true;
    }
  });

  it("isChecksumAddress refuses other spellings: lowercase, a flipped letter, no 0x, wrong length, non-strings", function () {
    const good = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
    for (const bad of [
      good.toLowerCase(),
      flipFirstLetter(good),
      good.slice(2),
      "0X" + good.slice(2),
      good.slice(0, 41),
      good + "0",
      ` ${good}`,
      undefined,
      42,
    ]) {
      expect(isChecksumAddress(bad), String(bad)).to.be.false;
    }
  });

  it("parseAddress refuses a mixed-case address with a wrong checksum (a typo), naming the field", function () {
    fc.assert(
      fc.property(rawAddress, (address) => {
        const typo = flipFirstLetter(getAddress(address));
        // Still mixed case after the flip (an all-one-case address carries no checksum claim).
        fc.pre(/[a-f]/.test(typo.slice(2)) && /[A-F]/.test(typo.slice(2)));
        expect(() => parseAddress(typo, "node.address")).to.throw(
          CryptoError,
          /node\.address has a bad EIP-55 checksum/,
        );
      }),
      PROPERTY,
    );
  });

  it("parseAddress refuses what is not 0x and 40 hex digits", function () {
    for (const bad of ["", "0x", "0x" + "0".repeat(39), "0x" + "0".repeat(41), "0".repeat(40), "0x" + "g".repeat(40)]) {
      expect(() => parseAddress(bad, "addr"))
        .to.throw(CryptoError, /addr must be 0x followed by 40 hex digits/)
        .with.property("code", "INVALID_ENCODING");
    }
    expect(() => parseAddress(null, "addr")).to.throw(CryptoError);
  });
});
