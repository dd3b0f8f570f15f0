/**
 * The curve backends a benchmark compares (node/crypto/backend.ts): the native libsecp256k1 addon, which nodes run
 * by default, then noble, in the same sitting so that their ratio means something on a machine whose speed moves
 * by up to 2× from hour to hour. BENCH_BACKENDS=native (or noble) runs one. A benchmark is a composition root: it
 * installs each backend itself, as node/cli.ts does for a node.
 */
import { installCurveBackend, nobleBackend, type CurveBackend } from "../node/crypto/backend.ts";
import { loadNativeBackend } from "../node/native/secp256k1-backend.ts";

export type BackendName = "native" | "noble";

/** The backends to run, native first; exits with the loader's reason when native is asked for and cannot load. */
export function benchBackends(): { name: BackendName; backend: CurveBackend }[] {
  const names = (process.env.BENCH_BACKENDS ?? "native,noble").split(",") as BackendName[];
  return names.map((name) => {
    if (name === "noble") return { name, backend: nobleBackend };
    if (name !== "native") throw new Error(`BENCH_BACKENDS: unknown backend ${String(name)}`);
    const native = loadNativeBackend();
    if (!native.ok) throw new Error(`the native backend did not load (${native.reason}); run npm run build:native`);
    return { name, backend: native.backend };
  });
}

/**
 * Runs `run` on each backend and returns the figures in the shape the benchmarks' JSON lines keep: the default
 * (native) backend's fields at the top, as before this backend existed, and the others under their names.
 */
export async function onEachBackend<T extends object>(
  run: (name: BackendName) => T | Promise<T>,
): Promise<T & { backend: BackendName } & Partial<Record<BackendName, T>>> {
  const results: Partial<Record<BackendName, T>> = {};
  for (const { name, backend } of benchBackends()) {
    installCurveBackend(backend);
    console.log(`-- ${name} backend`);
    results[name] = await run(name);
  }
  installCurveBackend(nobleBackend);
  const [first, ...others] = Object.keys(results) as BackendName[];
  return {
    backend: first!,
    ...results[first!]!,
    ...Object.fromEntries(others.map((name) => [name, results[name]])),
  };
}
