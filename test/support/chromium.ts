/**
 * The real browser of the browser tests: Debian's Chromium (`apt-get install -y chromium`; `.ci/run` installs it),
 * driven by playwright-core, whose own browser downloads cannot work on the project's machines. CHROMIUM_PATH names
 * another binary.
 */
import { access, constants, mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { chromium, type Browser } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Screenshots of the browser tests: git-ignored, to look at after a run. */
export const SCREENSHOTS = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "test-output",
  "screenshots",
);

export async function launchChromium(): Promise<Browser> {
  try {
    await access(CHROMIUM, constants.X_OK);
  } catch {
    throw new Error(
      `no Chromium at ${CHROMIUM}: the browser tests need one (apt-get install -y chromium, as .ci/run does), or set ` +
        `CHROMIUM_PATH to a Chromium or Chrome binary`,
    );
  }
  await mkdir(SCREENSHOTS, { recursive: true });
  // As root (CI, the project's machines) Chromium refuses to start without --no-sandbox.
  const args = process.getuid?.() === 0 ? ["--no-sandbox"] : [];
  return chromium.launch({ executablePath: CHROMIUM, args });
}
