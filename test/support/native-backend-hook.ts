/**
 * Mocha root hook (hardhat.config.ts `test.mocha.require`): every test file runs on the native curve backend, as a
 * node does, so simulations, protocol tests and process tests exercise libsecp256k1. In parallel mode the hook runs
 * before each file, so a file that switched backends (describeOnBackends) does not leak its choice into the next file
 * of the same worker. Fails every file, saying why, when the addon does not load.
 */
import { installCurveBackend } from "../../node/crypto/backend.ts";
import { nativeBackend } from "./backends.ts";

export const mochaHooks = {
  beforeAll(): void {
    installCurveBackend(nativeBackend());
  },
};
