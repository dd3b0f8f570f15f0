/**
 * Operations per second of the crypto core on one core: `npm run bench:crypto`. Prints a table, then one JSON line
 * with the figures (operations per second). Row verification is one dealer's row check against its k×k Pedersen
 * matrix; batch verification is per share, in batches of 100 and 1,000 shares of many dealers. Every figure is taken
 * on the native backend and on noble in the same sitting (bench/backends.ts), side by side with their ratio; the JSON
 * line has native's figures at the top and noble's under `noble`.
 */
import { randomScalar, systemRng } from "../node/crypto/field.ts";
import { randomBivariate, bivariateRow } from "../node/crypto/bivariate.ts";
import { verifyBatch, type BatchItem } from "../node/crypto/batch-verify.ts";
import { commitPedersen, commitPedersenMatrix, verifyRow } from "../node/crypto/commitments.ts";
import { eciesDecrypt, eciesEncrypt } from "../node/crypto/ecies.ts";
import { H, mulG, mulH } from "../node/crypto/generators.ts";
import { evaluatePolynomial, randomPolynomial } from "../node/crypto/polynomial.ts";
import { G } from "../node/crypto/point.ts";
import { createTorusVerifier, signTorus, verifyTorus } from "../node/crypto/signature.ts";
import { curveBackend, installCurveBackend, nobleBackend } from "../node/crypto/backend.ts";
import { benchBackends, type BackendName } from "./backends.ts";

/** Runs `op` repeatedly for about `ms` milliseconds (after a warm-up) and returns operations per second. */
function measure(op: (i: number) => void, ms = 1500, perCall = 1): number {
  for (let i = 0; i < 5; i++) op(i);
  const start = performance.now();
  let calls = 0;
  while (performance.now() - start < ms) op(calls++);
  return (calls * perCall * 1000) / (performance.now() - start);
}

const scalars = Array.from({ length: 64 }, () => randomScalar(systemRng));

/** Every figure on the installed backend; the table and the JSON line put the backends side by side. */
function figuresOfBackend(): Record<string, number> {
  const figures: Record<string, number> = {};

  figures.kG = measure((i) => mulG(scalars[i % 64]!));
  figures.kH = measure((i) => mulH(scalars[i % 64]!));
  // Variable-base k·P (ECDH, share-proof challenges, the native multi-scalar multiplication).
  figures.kP = measure((i) => curveBackend().mul(H, scalars[i % 64]! || 1n));

  for (const [name, k] of [
    ["rowVerifyN5", 3],
    ["rowVerifyN9", 5],
  ] as const) {
    const f = randomBivariate(randomScalar(systemRng), k, systemRng);
    const r = randomBivariate(randomScalar(systemRng), k, systemRng);
    const matrix = commitPedersenMatrix(f, r);
    const row = bivariateRow(f, 2n);
    const blindingRow = bivariateRow(r, 2n);
    figures[name] = measure(() => {
      if (!verifyRow(matrix, k, 2n, row, blindingRow)) throw new Error("row did not verify");
    });
  }

  // Shares of many dealers (k = 3), each a Pedersen share against its dealer's commitment vector.
  const k = 3;
  const dealers = Array.from({ length: 50 }, () => {
    const a = randomPolynomial(randomScalar(systemRng), k - 1, systemRng);
    const b = randomPolynomial(randomScalar(systemRng), k - 1, systemRng);
    return { a, b, commitment: commitPedersen(a, b) };
  });
  function shareItems(count: number): BatchItem[] {
    return Array.from({ length: count }, (_, i) => {
      const d = dealers[i % dealers.length]!;
      const index = BigInt(1 + (i % 9));
      return {
        kind: "share",
        commitment: d.commitment,
        index,
        value: evaluatePolynomial(d.a, index),
        blinding: evaluatePolynomial(d.b, index),
      };
    });
  }
  for (const [name, size] of [
    ["batchVerifyPerShare100", 100],
    ["batchVerifyPerShare1000", 1000],
  ] as const) {
    const items = shareItems(size);
    figures[name] = measure(
      () => {
        if (!verifyBatch(items, k, systemRng).ok) throw new Error("batch did not verify");
      },
      3000,
      size,
    );
  }

  const privateKey = randomScalar(systemRng);
  const publicKey = G.multiply(privateKey);
  const message = "mug00\x1ctokencommitment\x1ctemppubx\x1ctemppuby\x1cgoogle\x1c1700000000";
  const signature = signTorus(privateKey, message);
  figures.sign = measure(() => signTorus(privateKey, message));
  figures.verify = measure(() => {
    if (!verifyTorus(publicKey, message, signature)) throw new Error("signature did not verify");
  });
  // The same check with the signer's key table precomputed, as consensus and ShareRequest use it for node keys.
  const verifyKnownSigner = createTorusVerifier(publicKey);
  figures.verifyPrecomputedKey = measure(() => {
    if (!verifyKnownSigner(message, signature)) throw new Error("signature did not verify");
  });

  const share = new Uint8Array(32).fill(7);
  const encrypted = eciesEncrypt(publicKey, share, systemRng);
  figures.eciesEncrypt = measure(() => eciesEncrypt(publicKey, share, systemRng));
  figures.eciesDecrypt = measure(() => eciesDecrypt(privateKey, encrypted));
  return figures;
}

const byBackend: Partial<Record<BackendName, Record<string, number>>> = {};
for (const { name, backend } of benchBackends()) {
  installCurveBackend(backend);
  byBackend[name] = figuresOfBackend();
}
installCurveBackend(nobleBackend);
const names = Object.keys(byBackend) as BackendName[];
console.log(
  `${"operation".padEnd(26)}${names.map((name) => `${name + " ops/s".padStart(8)} ${"µs/op".padStart(9)}`.padStart(28)).join("")}` +
    (names.length === 2 ? "   ratio" : ""),
);
for (const op of Object.keys(byBackend[names[0]!]!)) {
  const cells = names.map((name) => {
    const opsPerSec = byBackend[name]![op]!;
    return `${opsPerSec.toFixed(0).padStart(14)} ${(1e6 / opsPerSec).toFixed(1).padStart(9)}`.padStart(28);
  });
  const ratio =
    names.length === 2 ? `${(byBackend[names[0]!]![op]! / byBackend[names[1]!]![op]!).toFixed(1).padStart(7)}×` : "";
  console.log(`${op.padEnd(26)}${cells.join("")} ${ratio}`);
}
const rounded = (figures: Record<string, number>) =>
  Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, Math.round(v)]));
const [first, ...others] = names;
console.log(
  JSON.stringify({
    bench: "crypto",
    backend: first,
    ...rounded(byBackend[first!]!),
    ...Object.fromEntries(others.map((name) => [name, rounded(byBackend[name]!)])),
  }),
);
