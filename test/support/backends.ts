/**
 * Runs a crypto suite once per curve backend (node/crypto/backend.ts): noble, the reference, and the native
 * libsecp256k1 addon the nodes use. Replace a file's top-level `describe` with `describeOnBackends`; the backend is
 * installed before the suite's tests and the one before it (native, from native-backend-hook.ts) is put back after.
 *
 * The native addon is part of `npm run setup`: when it does not load, its copy of the suite is one failing test that
 * says why, never a silent skip.
 */
import { curveBackend, installCurveBackend, nobleBackend, type CurveBackend } from "../../node/crypto/backend.ts";
import { loadNativeBackend, type NativeLoad } from "../../node/native/secp256k1-backend.ts";

let native: NativeLoad | undefined;
/** The native addon, loaded once per process. */
export function nativeLoad(): NativeLoad {
  return (native ??= loadNativeBackend());
}

/** The native backend; throws with the loader's reason when the addon is not there. */
export function nativeBackend(): CurveBackend {
  const load = nativeLoad();
  if (!load.ok) throw new Error(`the native secp256k1 addon is required (npm run build:native): ${load.reason}`);
  return load.backend;
}

export function describeOnBackends(title: string, body: (this: Mocha.Suite) => void): void {
  for (const name of ["noble", "native"] as const) {
    describe(`${title} [${name}]`, function () {
      let backend: CurveBackend;
      try {
        backend = name === "noble" ? nobleBackend : nativeBackend();
      } catch (error) {
        it("needs the native addon", function () {
          throw error;
        });
        return;
      }
      let previous: CurveBackend;
      before(() => {
        previous = curveBackend();
        installCurveBackend(backend);
      });
      after(() => installCurveBackend(previous));
      body.call(this);
    });
  }
}
