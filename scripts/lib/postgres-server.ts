/**
 * A real PostgreSQL server of a test suite's own (or a benchmark's): `initdb` into a fresh directory under the
 * temporary directory, `pg_ctl start` on a free port of 127.0.0.1 (no other address, and its Unix socket in that
 * directory), stopped and removed by `stop()`. Each suite starts its own, so that two test files mocha runs in
 * parallel never share one, and one that stops its server (the outage tests) cannot break another's.
 *
 * PostgreSQL refuses to run as root: run as root (CI, containers), the server runs as the `postgres` user that
 * Debian's package creates, through `runuser`, in a directory chowned to it. Without PostgreSQL installed, `start`
 * throws with how to get it: the tests that need it fail rather than skip.
 *
 * fsync=off by default (tests): a killed server loses nothing (every commit is in the kernel's page cache before it
 * returns), only a power loss would, which no test makes; it spares the shared machine's disk. The bench and the
 * devnet ask for fsync on, as a node's server runs.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { chown, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The user the server runs as when this process is root. */
const SERVER_USER = "postgres";

/**
 * The bin directory of PG_BIN_DIR, or of the newest PostgreSQL Debian's packages installed under `root`; throws with
 * how to get PostgreSQL when there is none.
 */
export function postgresBinDir(env: NodeJS.ProcessEnv = process.env, root = "/usr/lib/postgresql"): string {
  const hasInitdb = (dir: string) => existsSync(path.join(dir, "initdb"));
  if (env.PG_BIN_DIR) {
    if (hasInitdb(env.PG_BIN_DIR)) return env.PG_BIN_DIR;
    throw new Error(`PG_BIN_DIR is ${env.PG_BIN_DIR}, which has no initdb. ${HOW_TO_GET_POSTGRES}`);
  }
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => hasInitdb(path.join(root, v, "bin")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0)
    throw new Error(`PostgreSQL is not installed (no ${root}/<version>/bin/initdb). ${HOW_TO_GET_POSTGRES}`);
  return path.join(root, versions[0]!, "bin");
}

const HOW_TO_GET_POSTGRES =
  "These tests and the bench run a real PostgreSQL server: run `npm run setup` (as root it installs Debian's " +
  "package: apt-get update && apt-get install -y postgresql), or install PostgreSQL 13 or newer and set PG_BIN_DIR " +
  "to the directory of its initdb and pg_ctl.";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export class PostgresServer {
  #running = false;

  private constructor(
    /** The temporary directory: the cluster in `data/`, the server's log in `server.log`, its socket. */
    readonly dir: string,
    readonly port: number,
    private readonly bin: string,
    private readonly asServerUser: boolean,
    private readonly fsync: boolean,
    private readonly settings: Record<string, string>,
  ) {}

  /** Initializes a cluster under the temporary directory and starts it. */
  static async start(options: { fsync?: boolean; settings?: Record<string, string> } = {}): Promise<PostgresServer> {
    const bin = postgresBinDir();
    const asServerUser = userInfo().uid === 0;
    const dir = await mkdtemp(path.join(tmpdir(), "pg-test-"));
    const server = new PostgresServer(
      dir,
      await freePort(),
      bin,
      asServerUser,
      options.fsync ?? false,
      options.settings ?? {},
    );
    try {
      if (asServerUser) await chown(dir, ...(await serverUserIds()));
      await server.#run("initdb", [
        "-D",
        server.dataDir,
        "-U",
        "torus",
        "-A",
        "trust",
        "--no-sync",
        "--no-instructions",
        "-E",
        "UTF8",
      ]);
      await server.resume();
      return server;
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  get dataDir(): string {
    return path.join(this.dir, "data");
  }

  /** The URL of database `name` (created with `createDatabase`; "postgres" always exists). */
  url(name = "postgres"): string {
    return `postgres://torus@127.0.0.1:${this.port}/${name}`;
  }

  /** Creates an empty database and returns its URL. */
  async createDatabase(name: string): Promise<string> {
    await this.#run("createdb", ["-h", "127.0.0.1", "-p", String(this.port), "-U", "torus", name]);
    return this.url(name);
  }

  /** Starts (again) the server on its port. */
  async resume(): Promise<void> {
    const options = [
      `-c listen_addresses=127.0.0.1`,
      `-c port=${this.port}`,
      `-c unix_socket_directories=${this.dir}`,
      `-c fsync=${this.fsync ? "on" : "off"}`,
      `-c max_connections=100`,
      ...Object.entries(this.settings).map(([name, value]) => `-c ${name}=${value}`),
    ].join(" ");
    await this.#run("pg_ctl", [
      "-D",
      this.dataDir,
      "-l",
      path.join(this.dir, "server.log"),
      "-o",
      options,
      "-w",
      "start",
    ]);
    this.#running = true;
  }

  /** Stops the server (connections are cut), keeping its data: `resume()` starts it again. */
  async halt(): Promise<void> {
    await this.#run("pg_ctl", ["-D", this.dataDir, "-m", "fast", "-w", "stop"]);
    this.#running = false;
  }

  /** Kills the server as a crash would (`pg_ctl stop -m immediate`: no checkpoint, WAL buffers not written). */
  async crash(): Promise<void> {
    await this.#run("pg_ctl", ["-D", this.dataDir, "-m", "immediate", "-w", "stop"]);
    this.#running = false;
  }

  /** Stops the server and removes its directory. */
  async stop(): Promise<void> {
    if (this.#running) await this.halt().catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }

  async #run(program: string, args: string[]): Promise<void> {
    const binary = path.join(this.bin, program);
    const [file, argv] = this.asServerUser ? ["runuser", ["-u", SERVER_USER, "--", binary, ...args]] : [binary, args];
    try {
      await run(file, argv, { cwd: this.dir, timeout: 60_000 });
    } catch (error) {
      const { stderr, stdout } = error as { stderr?: string; stdout?: string };
      throw new Error(`${program} ${args.join(" ")} failed: ${stderr || stdout || (error as Error).message}`);
    }
  }
}

/** The uid and gid of the server's user, which Debian's postgresql package creates. */
async function serverUserIds(): Promise<[number, number]> {
  try {
    const { stdout: uid } = await run("id", ["-u", SERVER_USER]);
    const { stdout: gid } = await run("id", ["-g", SERVER_USER]);
    return [Number(uid.trim()), Number(gid.trim())];
  } catch {
    throw new Error(
      `there is no "${SERVER_USER}" user to run PostgreSQL as (it refuses root): install Debian's postgresql ` +
        `package (npm run setup does), which creates it`,
    );
  }
}
