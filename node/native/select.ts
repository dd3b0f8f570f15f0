/**
 * Chooses the node's curve backend from its configuration (`crypto.backend`, `crypto.allowSlowFallback`; environment
 * TORUS_CRYPTO_BACKEND) and installs it, once, before the node builds its protocol cores (node/cli.ts).
 *
 * A node on the pure-JS backend is 10–50× slower per curve operation: key generation, handovers and logins slow
 * down by a similar factor and its peers wait for it. So a node configured for "native" (the default) refuses to
 * start without the addon unless the operator allowed the fallback, and the refusal says how to get the addon.
 */
import { installCurveBackend, nobleBackend, type CurveBackend } from "../crypto/backend.ts";
import { loadNativeBackend } from "./secp256k1-backend.ts";

export type CryptoBackendName = "native" | "noble";

export const CRYPTO_BACKENDS: readonly CryptoBackendName[] = ["native", "noble"];

export interface CryptoConfig {
  backend: CryptoBackendName;
  /** Run on noble when the native addon is missing (default false: refuse to start). */
  allowSlowFallback: boolean;
}

export interface SelectedBackend {
  backend: CurveBackend;
  /** What the node logs beside the backend's name: the addon's file, or why it runs on noble. */
  detail: string;
  /** Set when the node runs on noble although native was configured. */
  fallbackReason?: string;
}

export class CryptoBackendError extends Error {
  override readonly name = "CryptoBackendError";
}

/** How to get the addon, for the refusal and the fallback warning. */
export const NATIVE_HOWTO =
  "run `npm run build:native` (part of `npm run setup`; it compiles libsecp256k1 with node-gyp and needs python3, " +
  'make and a C++ compiler), or set crypto.allowSlowFallback: true or crypto.backend: "noble" to run on the ' +
  "pure-JS backend, 10–50× slower per curve operation";

/** Selects the backend `config` asks for; throws CryptoBackendError when native is required and cannot load. */
export function selectCurveBackend(config: CryptoConfig, load = loadNativeBackend): SelectedBackend {
  if (config.backend === "noble") return { backend: nobleBackend, detail: "pure JavaScript (@noble/curves)" };
  const native = load();
  if (native.ok) {
    const origin = native.builtHere ? "built in this checkout" : "prebuilt binary shipped in the npm package";
    return { backend: native.backend, detail: `libsecp256k1 addon ${native.binary} (${origin})` };
  }
  if (!config.allowSlowFallback) {
    throw new CryptoBackendError(`the native secp256k1 backend is not available: ${native.reason}; ${NATIVE_HOWTO}`);
  }
  return { backend: nobleBackend, detail: "pure JavaScript (@noble/curves)", fallbackReason: native.reason };
}

/** Selects and installs the backend for this process; returns what was installed. */
export function installConfiguredBackend(config: CryptoConfig): SelectedBackend {
  const selected = selectCurveBackend(config);
  installCurveBackend(selected.backend);
  return selected;
}
