/**
 * Runs the mocha suites of one test tier (`npm run test:unit`, `test:sim`, `test:e2e`), all three one after another
 * (`test:all`, which `npm test` runs), or all three at small seed counts (`test:quick`). A test file's tier follows
 * from its name, so a new file lands in its tier without a list to update:
 *
 * - e2e: `*.e2e.test.ts`, and every test file under test/process/, test/compat/ and test/browser/: suites that start
 *   processes or servers outside mocha's (node processes, a hardhat node, a devnet, npm, a browser). They run one file
 *   at a time, each in its own `hardhat test mocha`, so that two files' processes do not compete for the CPU.
 * - sim: `*.sim.test.ts`: long in-process suites (seeded simulations, invariant and large randomised runs).
 * - unit: every other `*.test.ts`: in-process and quick; two files at a time, as hardhat.config.ts says.
 *
 * A unit or sim file that imports one of the helpers that start processes (or node:child_process) is refused, with
 * the name it should have. Options: `--list` prints the files of each tier and runs nothing; `--jobs 2` runs the e2e
 * files two at a time in one mocha run; anything else (`--grep <re>`, `--bail`, files) goes to `hardhat test mocha`.
 * Files given on the command line run only if they belong to the tier.
 */
import { spawn } from "node:child_process";
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";

type Tier = "unit" | "sim" | "e2e";
const TIERS: readonly Tier[] = ["unit", "sim", "e2e"];

/** Directories whose every test file starts processes (or a browser), whatever its name. */
const E2E_DIRS = ["test/process/", "test/compat/", "test/browser/"];

/** Imports that start processes: a file that has one belongs in the e2e tier. */
const STARTS_PROCESSES =
  /from "(node:child_process|[./]+\/(support\/(kill-child|torus-node-run|sdk-consumer|torus-js)|scripts\/lib\/(devnet-processes|postgres-server))\.ts)"|\bstartChain\(/;

/**
 * `test:quick`: the randomised suites at small counts (README, "Randomised suites take their size from the
 * environment"). A variable already set wins.
 */
const QUICK_ENV: Record<string, string> = {
  INVARIANT_RUNS: "8",
  PROPERTY_RUNS: "10",
  BFT_SEEDS: "3",
  BFT_SEEDS_N9: "1",
  BFT_ECDSA_SEEDS: "1",
  BFT_DEFERRED_SEEDS: "2",
  DKG_SEEDS: "2",
  DKG_SEEDS_N9: "1",
  DKG_RESTART_SEEDS: "2",
  PSS_SEEDS: "3",
  COMMIT_RACE_SEEDS: "10",
  COMMIT_RACE_SEEDS_N9: "3",
  COMMITMENT_STORE_STEPS: "300",
  FUZZ_REQUESTS: "1000",
};

function tierOf(file: string): Tier {
  const posix = file.split(path.sep).join("/");
  if (posix.endsWith(".e2e.test.ts") || E2E_DIRS.some((dir) => posix.startsWith(dir))) return "e2e";
  if (posix.endsWith(".sim.test.ts")) return "sim";
  return "unit";
}

const root = path.join(import.meta.dirname, "..");
const cwd = process.cwd();
process.chdir(root);

async function testFiles(): Promise<string[]> {
  const entries = await readdir("test", { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(".test.ts"))
    .map((e) => path.join(e.parentPath, e.name).split(path.sep).join("/"))
    .sort();
}

function usage(message: string): never {
  console.error(`${message}\nusage: tsx scripts/test-tier.ts <unit|sim|e2e|all|quick> [--list] [--jobs 1|2] [...]`);
  process.exit(2);
}

const [command, ...rest] = process.argv.slice(2);
if (command !== "all" && command !== "quick" && !TIERS.includes(command as Tier)) usage(`unknown tier "${command}"`);
const tiers: readonly Tier[] = command === "all" || command === "quick" ? TIERS : [command as Tier];
let list = false;
let e2eJobs = 1;
const passed: string[] = [];
const chosen: string[] = [];
for (let i = 0; i < rest.length; i++) {
  const arg = rest[i]!;
  if (arg === "--list") list = true;
  else if (arg === "--jobs") {
    e2eJobs = Number(rest[++i]);
    if (e2eJobs !== 1 && e2eJobs !== 2) usage("--jobs is 1 or 2");
  } else if (arg.endsWith(".ts") && !arg.startsWith("-"))
    chosen.push(path.relative(root, path.resolve(cwd, arg)).split(path.sep).join("/"));
  else passed.push(arg);
}

const all = await testFiles();
for (const file of chosen) if (!all.includes(file)) usage(`${file} is not a test file under test/`);
const byTier = new Map<Tier, string[]>(TIERS.map((t) => [t, []]));
for (const file of all) byTier.get(tierOf(file))!.push(file);

// A file that starts processes but is not named (or placed) as e2e would slow the unit tier down, or flake there.
const misplaced: string[] = [];
for (const file of [...byTier.get("unit")!, ...byTier.get("sim")!])
  if (STARTS_PROCESSES.test(await readFile(file, "utf8"))) misplaced.push(file);
if (misplaced.length > 0) {
  console.error(
    `these files start processes, so they belong in the e2e tier: name them *.e2e.test.ts\n  ${misplaced.join("\n  ")}`,
  );
  process.exit(1);
}

for (const file of chosen)
  if (!tiers.includes(tierOf(file))) console.log(`${file} is in the ${tierOf(file)} tier: not run by ${command}`);
const count = (n: number) => `${n} file${n === 1 ? "" : "s"}`;

if (list) {
  for (const tier of tiers) {
    const files = byTier.get(tier)!;
    console.log(`${tier} (${count(files.length)})`);
    for (const file of files) console.log(`  ${file}`);
  }
  process.exit(0);
}

const env = { ...process.env };
if (command === "quick") for (const [name, value] of Object.entries(QUICK_ENV)) env[name] ??= value;
const hardhat = path.join(root, "node_modules", ".bin", "hardhat");

/** One `hardhat test mocha` over `files`; resolves with whether every test passed. */
function mocha(files: string[]): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn(hardhat, ["test", "mocha", "--no-compile", ...passed, ...files], { stdio: "inherit", env });
    child.once("error", reject);
    child.once("exit", (code) => resolve(code === 0));
  });
}

const seconds = (since: number) => `${Math.round((performance.now() - since) / 1000)} s`;
const summary: string[] = [];
let failed = false;
for (const tier of tiers) {
  const files = byTier.get(tier)!.filter((f) => chosen.length === 0 || chosen.includes(f));
  if (files.length === 0) continue;
  console.log(`\n== ${tier}: ${count(files.length)}${command === "quick" ? " (small seed counts)" : ""}`);
  const started = performance.now();
  let ok = true;
  const perFile: string[] = [];
  if (tier === "e2e" && e2eJobs === 1)
    for (const file of files) {
      const fileStarted = performance.now();
      console.log(`\n== e2e: ${file}`);
      const fileOk = await mocha([file]);
      perFile.push(`  ${fileOk ? "ok  " : "FAIL"} ${file} (${seconds(fileStarted)})`);
      ok &&= fileOk;
    }
  else ok = await mocha(files);
  summary.push(`${ok ? "ok  " : "FAIL"} ${tier}: ${count(files.length)} in ${seconds(started)}`, ...perFile);
  failed ||= !ok;
}
console.log(`\n${summary.join("\n")}`);
process.exit(failed ? 1 : 0);
