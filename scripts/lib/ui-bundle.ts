/**
 * Builds the devnet's pages (ui/) with esbuild, in memory, when the UI server starts: the DApp's and the status page's
 * scripts and the shared style sheet, minified, with source maps. The DApp imports the SDK by its package name,
 * `@torus-threshold-network/sdk`, which is aliased to the SDK's source (client/index.ts): the page always runs the
 * SDK of this checkout, with no `npm pack` or client/dist build first.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

export interface Asset {
  body: Uint8Array | string;
  type: string;
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const UI_DIR = path.join(ROOT, "ui");
const SDK_SOURCE = path.join(ROOT, "client", "index.ts");

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".html": "text/html; charset=utf-8",
};

/** Every asset by its URL path: `/` (the DApp), `/status`, and `/assets/…`. */
export async function buildUi(): Promise<Map<string, Asset>> {
  const result = await build({
    entryPoints: {
      dapp: path.join(UI_DIR, "dapp", "main.ts"),
      status: path.join(UI_DIR, "status", "main.ts"),
      style: path.join(UI_DIR, "shared", "style.css"),
    },
    outdir: path.join(UI_DIR, "assets"),
    write: false,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    sourcemap: "linked",
    alias: { "@torus-threshold-network/sdk": SDK_SOURCE },
    logLevel: "silent",
  });
  const assets = new Map<string, Asset>();
  for (const file of result.outputFiles) {
    const name = path.basename(file.path);
    assets.set(`/assets/${name}`, {
      body: file.contents,
      type: TYPES[path.extname(name)] ?? "application/octet-stream",
    });
  }
  for (const [route, file] of [
    ["/", "dapp/index.html"],
    ["/status", "status/index.html"],
  ] as const) {
    assets.set(route, { body: await readFile(path.join(UI_DIR, file), "utf8"), type: TYPES[".html"]! });
  }
  return assets;
}
