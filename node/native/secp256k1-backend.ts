/**
 * The native curve backend of a node: libsecp256k1 through the `secp256k1` npm package (an N-API addon that
 * `npm run build:native`, part of `npm run setup`, compiles here with node-gyp against the local Node headers).
 * Measured on these machines against noble without tables: k·G 82 vs 1,126 µs, variable-base k·P 119 vs 6,570 µs,
 * ECDSA verify 80 vs 5,019 µs (shared/reference/performance-model.md, addendum).
 *
 * Only the composition root loads this module (node/native/select.ts); the protocol cores see the backend through
 * node/crypto/backend.ts and never import the addon.
 *
 * The package's main entry (`secp256k1/index.js`) silently falls back to `elliptic`, a pure-JS implementation
 * slower than noble, when the addon is missing. So the addon is loaded through `secp256k1/bindings.js`, which throws
 * instead, and the binary node-gyp-build resolved is reported, so the node can say which one it runs.
 */
import { createRequire } from "node:module";
import path from "node:path";

import type { CurveBackend, FixedBaseMultiplier } from "../crypto/backend.ts";
import { bigIntToBytes, bytesToBigInt, ORDER } from "../crypto/field.ts";
import { Point, computedPoint } from "../crypto/point.ts";

/** The part of the `secp256k1` package's API used here (v5, Uint8Array in and out). */
interface Secp256k1Api {
  publicKeyCreate(privateKey: Uint8Array, compressed?: boolean): Uint8Array;
  publicKeyTweakMul(publicKey: Uint8Array, tweak: Uint8Array, compressed?: boolean): Uint8Array;
  publicKeyCombine(publicKeys: Uint8Array[], compressed?: boolean): Uint8Array;
  ecdsaSign(digest: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number };
  ecdsaRecover(signature: Uint8Array, recid: number, digest: Uint8Array, compressed?: boolean): Uint8Array;
}

export type NativeLoad =
  | {
      ok: true;
      backend: CurveBackend;
      /** The `.node` file that was loaded. */
      binary: string;
      /** True when it was compiled in this checkout (build/Release), false for a prebuilt binary from the package. */
      builtHere: boolean;
    }
  | { ok: false; reason: string };

const HALF_ORDER = ORDER >> 1n;
/** The `secp256k1` package's message when publicKeyCombine's sum is the point at infinity (lib/index.js). */
const COMBINE_AT_INFINITY = "The sum of the public keys is not valid";

/** Loads the addon; never falls back. The result says why when it cannot. */
export function loadNativeBackend(): NativeLoad {
  const require = createRequire(import.meta.url);
  let packageDir: string;
  try {
    packageDir = path.dirname(require.resolve("secp256k1/package.json"));
  } catch {
    return { ok: false, reason: "the npm package secp256k1 is not installed" };
  }
  let binary: string;
  let api: Secp256k1Api;
  try {
    // node-gyp-build's resolver: build/Release first, then the package's prebuilds; it throws when there is neither.
    binary = (require("node-gyp-build") as { path(dir: string): string }).path(packageDir);
    api = require("secp256k1/bindings.js") as Secp256k1Api;
  } catch (error) {
    return { ok: false, reason: `the secp256k1 addon did not load: ${(error as Error).message.split("\n")[0]}` };
  }
  if (!binary.endsWith(".node") || typeof api.publicKeyTweakMul !== "function") {
    return { ok: false, reason: `secp256k1 loaded ${binary}, which is not its native addon` };
  }
  const backend = nativeBackend(api);
  // One known answer before the node relies on it: 1·G is the generator.
  if (!backend.fixedBase(Point.BASE).mul(1n).equals(Point.BASE)) {
    return { ok: false, reason: `the secp256k1 addon at ${binary} computes 1·G wrongly` };
  }
  return { ok: true, backend, binary, builtHere: binary.split(path.sep).includes("build") };
}

function nativeBackend(api: Secp256k1Api): CurveBackend {
  // Points cross the addon boundary as 65-byte uncompressed encodings (compressed ones would cost a square root each,
  // ≈ 100 µs). The addon's outputs are valid points by construction, so they skip noble's curve-equation check.
  const decode = (bytes: Uint8Array) => computedPoint(bytes);
  const mulBytes = (encoded: Uint8Array, k: bigint) => decode(api.publicKeyTweakMul(encoded, bigIntToBytes(k), false));
  const mul = (point: Point, k: bigint) => mulBytes(point.toBytes(false), k);

  const recoverBytes = (digest: Uint8Array, compact: Uint8Array, recovery: number): Uint8Array | undefined => {
    if (compact.length !== 64 || digest.length !== 32 || !Number.isInteger(recovery) || recovery < 0 || recovery > 3)
      return undefined;
    try {
      return api.ecdsaRecover(compact, recovery, digest, false);
    } catch {
      return undefined;
    }
  };
  const sameBytes = (a: Uint8Array | undefined, b: Uint8Array) =>
    a !== undefined && a.length === b.length && a.every((byte, i) => byte === b[i]);
  /** What noble's verification checks with `lowS` and the recovered format: s ≤ q/2 and R's parity in {0, 1}. */
  const verifiedSigner = (digest: Uint8Array, compact: Uint8Array, recovery: number) =>
    (recovery === 0 || recovery === 1) && compact.length === 64 && bytesToBigInt(compact.subarray(32)) <= HALF_ORDER
      ? recoverBytes(digest, compact, recovery)
      : undefined;

  return {
    name: "native",
    fastVariableBase: true,
    fixedBase(base: Point): FixedBaseMultiplier {
      // libsecp256k1's generator multiplication has its own precomputed table and is constant time.
      if (base.equals(Point.BASE)) {
        const mulG = (k: bigint) => decode(api.publicKeyCreate(bigIntToBytes(k), false));
        return { mul: mulG, mulPublic: mulG };
      }
      const encoded = base.toBytes(false);
      const mulBase = (k: bigint) => mulBytes(encoded, k);
      return { mul: mulBase, mulPublic: mulBase };
    },
    // libsecp256k1's variable-base multiplication is constant time, so one routine serves secrets and public scalars.
    mul,
    mulPublic: mul,
    sumOfProducts(points, scalars) {
      if (points.length !== scalars.length || points.length === 0) throw new RangeError("one scalar per point, ≥ 1");
      // ecmult's cost grows with the scalar's length (≈ 14 µs for 8 bits, ≈ 27 µs for 77, ≈ 42 µs for 256 here).
      const products = points.map((point, n) => api.publicKeyTweakMul(point, bigIntToBytes(scalars[n]!), false));
      let sum: Uint8Array;
      try {
        sum = api.publicKeyCombine(products, false);
      } catch (error) {
        // The addon's one refusal of valid points: a sum at infinity (it cannot encode it).
        if ((error as Error).message === COMBINE_AT_INFINITY) return undefined;
        throw error;
      }
      return decode(sum);
    },
    sign(digest, privateKey) {
      // libsecp256k1's default nonce function is RFC 6979 with no extra data, and it always emits low-s: the same
      // bytes as noble's deterministic signatures.
      const { signature, recid } = api.ecdsaSign(digest, privateKey);
      return { compact: signature, recovery: recid };
    },
    // Recovering the key and comparing it checks the equation and that R has the parity `recovery` (the v byte):
    // the recovered key is (s·R − z·G)/r for the R of that parity, which equals the signer's key only if
    // (z/s)·G + (r/s)·P = R. One recovery (≈ 140 µs) costs less than a noble verification.
    verify: (digest, compact, recovery, publicKey) =>
      sameBytes(verifiedSigner(digest, compact, recovery), publicKey.toBytes(false)),
    verifier(publicKey) {
      const encoded = publicKey.toBytes(false);
      return (digest, compact, recovery) => sameBytes(verifiedSigner(digest, compact, recovery), encoded);
    },
    recover(digest, compact, recovery) {
      const bytes = recoverBytes(digest, compact, recovery);
      return bytes === undefined ? undefined : decode(bytes);
    },
  };
}
