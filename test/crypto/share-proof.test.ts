import { expect } from "chai";

import { mulG, mulH } from "../../node/crypto/generators.ts";
import { proveShare, verifyShareProof, verifyShareProofs } from "../../node/crypto/share-proof.ts";
import { Prng } from "../support/prng.ts";
import { describeOnBackends } from "../support/backends.ts";

const rng = (() => {
  const prng = new Prng(99);
  return (bytes: number) => Uint8Array.from({ length: bytes }, () => prng.nextUint32() & 0xff);
})();
const context = new TextEncoder().encode("epoch 1 key 7 node 3");

describeOnBackends("share proof: Y = a·G opens C = a·G + b·H", function () {
  const a = 0x1234n;
  const b = 0x5678n;

  it("verifies an honest proof, bound to its context", function () {
    const { Y, C, proof } = proveShare(a, b, context, rng);
    expect(Y.equals(mulG(a))).to.equal(true);
    expect(C.equals(mulG(a).add(mulH(b)))).to.equal(true);
    expect(verifyShareProof(Y, C, proof, context)).to.equal(true);
    expect(verifyShareProof(Y, C, proof, new TextEncoder().encode("epoch 1 key 7 node 4"))).to.equal(false);
  });

  it("refuses −Y, another node's Y, or a Y for another share with the same commitment", function () {
    const { Y, C, proof } = proveShare(a, b, context, rng);
    expect(verifyShareProof(Y.negate(), C, proof, context)).to.equal(false);
    expect(verifyShareProof(mulG(a + 1n), C, proof, context)).to.equal(false);
    const other = proveShare(a + 1n, b, context, rng);
    expect(verifyShareProof(other.Y, C, other.proof, context)).to.equal(false);
  });

  it("refuses tampered responses and announcements", function () {
    const { Y, C, proof } = proveShare(a, b, context, rng);
    expect(verifyShareProof(Y, C, { ...proof, u1: proof.u1 + 1n }, context)).to.equal(false);
    expect(verifyShareProof(Y, C, { ...proof, u2: proof.u2 + 1n }, context)).to.equal(false);
    expect(verifyShareProof(Y, C, { ...proof, T1: proof.T1.add(mulG(1n)) }, context)).to.equal(false);
    expect(verifyShareProof(Y, C, { ...proof, u1: -1n }, context)).to.equal(false);
  });
});

describeOnBackends("verifyShareProofs: many share proofs in one combination", function () {
  const claims = Array.from({ length: 6 }, (_, i) => {
    const ctx = new TextEncoder().encode(`key ${i}`);
    const { Y, C, proof } = proveShare(BigInt(1000 + i), BigInt(i), ctx, rng);
    return { Y, C, proof, context: ctx };
  });

  it("accepts a batch of valid proofs (including a zero blinding)", function () {
    expect(verifyShareProofs(claims, rng)).to.deep.equal(Array(6).fill(true));
  });

  it("names the one bad proof in a batch", function () {
    const bad = claims.map((c, i) => (i === 3 ? { ...c, Y: c.Y.negate() } : c));
    expect(verifyShareProofs(bad, rng)).to.deep.equal([true, true, true, false, true, true]);
  });
});
