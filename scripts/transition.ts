/**
 * `npm run devnet:transition -- --nodes 9`: asks the running devnet (`npm start`) to hand every key and the whole
 * mapping over to a new epoch of that many node processes, and prints its progress: the new nodes list themselves,
 * governance starts the transition, the old nodes freeze and deal, the new ones confirm on-chain, the new epoch
 * serves, and the demo user logs in there with the same address.
 *
 * Options: --nodes <n> (default: as many as the current epoch), --dir <devnet state dir> (.devnet, or DEVNET_DIR).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";

import { devnetDir } from "./lib/devnet-dir.ts";

const { values } = parseArgs({
  options: { nodes: { type: "string" }, dir: { type: "string", default: devnetDir() } },
});

const file = path.join(values.dir, "network.json");
let network: { control?: string; epoch: { n: number } };
try {
  network = JSON.parse(await readFile(file, "utf8")) as typeof network;
} catch {
  console.error(`no devnet description at ${file}: start the devnet first (npm start)`);
  process.exit(1);
}
if (!network.control) {
  console.error(`${file} names no control endpoint: restart the devnet with this version (npm start)`);
  process.exit(1);
}
const nodes = values.nodes === undefined ? network.epoch.n : Number(values.nodes);
let response: Response;
try {
  response = await fetch(`${network.control}/transition`, { method: "POST", body: JSON.stringify({ nodes }) });
} catch {
  console.error(`the devnet does not answer at ${network.control}: is npm start still running?`);
  process.exit(1);
}
let last = "";
const decoder = new TextDecoder();
for await (const chunk of response.body ?? []) {
  const text = decoder.decode(chunk as Uint8Array, { stream: true });
  process.stdout.write(text);
  last =
    (last + text)
      .split("\n")
      .filter((line) => line !== "")
      .pop() ?? last;
}
process.exit(response.ok && last === "ok" ? 0 : 1);
