/**
 * One node's share of a key-generation batch in a large epoch: `npm run bench:large-epoch` (BENCH_LARGE_N, default
 * 90: k = 46, t = 22; BENCH_BATCH_SIZE, default 4 as a node's). It runs the steps keygen's share computation and
 * proofs take for one decided batch (node/dkg/keygen.ts #computeShares, #proofsMessage, #checkProofs), through the
 * same functions, over the k + t highest dealer indexes (the largest extraction weights): the extraction of shares,
 * blindings and column commitments, this node's share-key proofs, and the check of one peer's proofs (a batch
 * checks n − 1 of them; that figure is extrapolated). It also times the extraction of commitments by multiplying
 * with each reduced weight, for one coefficient of one sharing, and extrapolates it, to compare with the repeated
 * multiplication by x_j that extraction.ts uses. A whole batch in a simulated cluster at n = 90 is far beyond this:
 * every node deals k² Pedersen commitments per sharing and checks n dealers' rows, echoes and readies.
 */
import { randomScalar, systemRng } from "../node/crypto/field.ts";
import { evaluateCommitment, mulG, mulH, mulSmall } from "../node/crypto/generators.ts";
import { Point } from "../node/crypto/point.ts";
import { evaluatePolynomial, randomPolynomial } from "../node/crypto/polynomial.ts";
import { proveShare, verifyShareProofs, type ShareProofClaim } from "../node/crypto/share-proof.ts";
import { extractCommitments, extractScalar, extractionMatrix } from "../node/dkg/extraction.ts";

const n = Number(process.env.BENCH_LARGE_N ?? 90);
const batchSize = Number(process.env.BENCH_BATCH_SIZE ?? 4);
const t = Math.floor((n - 1) / 4);
const k = Math.floor(n / 2) + 1;
const [self, peer] = [1n, BigInt(n)];
const seconds = (since: number) => Math.round((performance.now() - since) / 10) / 100;

const kGStart = performance.now();
for (let i = 0; i < 200; i++) mulG(randomScalar(systemRng));
const kGPerSec = Math.round(200 / ((performance.now() - kGStart) / 1000));

console.log(`n = ${n}, t = ${t}, k = ${k}: ${k + t} dealers, ${batchSize} sharings each, ${batchSize * k} keys`);
const dealers = Array.from({ length: k + t }, (_, j) => BigInt(n - k - t + 1 + j));
// Per sharing and dealer: f_j(x, 0) and its blinding polynomial, and their Pedersen commitments (column 0).
const sharings = Array.from({ length: batchSize }, () =>
  dealers.map(() => {
    const f = randomPolynomial(randomScalar(systemRng), k - 1, systemRng);
    const b = randomPolynomial(randomScalar(systemRng), k - 1, systemRng);
    return { f, b, column: f.map((a, c) => mulG(a).add(mulH(b[c]!))) };
  }),
);
console.log(`set up ${batchSize * dealers.length * k} dealer commitments`);

function shareComputation(at: bigint) {
  const M = extractionMatrix(dealers, k);
  const shares: { s: bigint; r: bigint; column: Point[] }[] = [];
  for (const polys of sharings) {
    const values = polys.map(({ f }) => evaluatePolynomial(f, at));
    const blindings = polys.map(({ b }) => evaluatePolynomial(b, at));
    const columns = extractCommitments(
      dealers,
      polys.map(({ column }) => column),
      k,
    );
    for (let output = 0; output < k; output++)
      shares.push({
        s: extractScalar(M[output]!, values),
        r: extractScalar(M[output]!, blindings),
        column: columns[output]!,
      });
  }
  return shares;
}

const context = (key: number, node: bigint) => new TextEncoder().encode(`bench\x1c${key}\x1c${node}`);
function proofs(at: bigint, shares: ReturnType<typeof shareComputation>): ShareProofClaim[] {
  return shares.map(({ s, r, column }, key) => {
    const C = evaluateCommitment(column, at);
    const { Y, proof } = proveShare(s, r, context(key, at), systemRng, C);
    return { Y, C, proof, context: context(key, at) };
  });
}

let start = performance.now();
const own = shareComputation(self);
const shareComputationSeconds = seconds(start);
console.log(`share computation (extraction of shares, blindings, column commitments): ${shareComputationSeconds} s`);

start = performance.now();
proofs(self, own);
const proofsSeconds = seconds(start);
console.log(`this node's share-key proofs: ${proofsSeconds} s`);

// A peer's proofs, checked as #checkProofs does: the commitment at the peer from the columns, then one batch check.
const peerClaims = proofs(peer, shareComputation(peer));
start = performance.now();
const verdicts = verifyShareProofs(
  peerClaims.map((claim, key) => ({ ...claim, C: evaluateCommitment(own[key]!.column, peer) })),
  systemRng,
);
if (!verdicts.every(Boolean)) throw new Error("a peer's honest proof did not verify");
const peerProofCheckSeconds = seconds(start);
const batchProofChecksSeconds = Math.round(peerProofCheckSeconds * (n - 1) * 100) / 100;
console.log(
  `one peer's proofs: ${peerProofCheckSeconds} s; all ${n - 1} peers' (extrapolated): ${batchProofChecksSeconds} s`,
);

// The alternative: each reduced weight x_j^r mod q times the commitment (full-size scalars past r ≈ 64 / log2 x_j).
const M = extractionMatrix(dealers, k);
start = performance.now();
for (let output = 0; output < k; output++) {
  let acc = Point.ZERO;
  sharings[0]!.forEach(({ column }, j) => (acc = acc.add(mulSmall(column[0]!, M[output]![j]!))));
}
const directSeconds = Math.round(seconds(start) * k * batchSize * 100) / 100;
const speedup = Math.round((directSeconds / shareComputationSeconds) * 10) / 10;
console.log(`by reduced weights instead (extrapolated from one coefficient): ${directSeconds} s (${speedup}× slower)`);
console.log(`noble k·G: ${kGPerSec}/s`);
console.log(
  JSON.stringify({
    bench: "large-epoch",
    n,
    t,
    k,
    batchSize,
    keys: batchSize * k,
    shareComputationSeconds,
    proofsSeconds,
    peerProofCheckSeconds,
    batchProofChecksSeconds,
    byReducedWeightsSeconds: directSeconds,
    kGPerSec,
  }),
);
