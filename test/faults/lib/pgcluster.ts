// A PostgreSQL cluster this test owns, from Debian's PostgreSQL 15 binaries,
// so it can be stopped in `fast` or `immediate` mode and started again (the
// shared embedded cluster of `npm test` cannot be restarted under others).
// PostgreSQL refuses to run as root: as root, it runs as the `postgres` user.
import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import path from "node:path";
import pg from "pg";
import { freePort } from "./server.js";

export const PG_BIN = process.env["BATON_PG_BIN"] ?? "/usr/lib/postgresql/15/bin";

export function pgBinariesAvailable(): boolean {
  return existsSync(path.join(PG_BIN, "pg_ctl")) && existsSync(path.join(PG_BIN, "initdb"));
}

function postgresUser(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const out = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
  if (out.status !== 0) throw new Error("running as root needs a `postgres` user to run PostgreSQL as");
  return { uid: Number(out.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

export interface Cluster {
  url: string;
  adminUrl: string;
  port: number;
  dataDir: string;
  start(): void;
  stop(mode: "smart" | "fast" | "immediate"): void;
  restart(mode: "fast" | "immediate"): void;
  /** Terminates every backend of `application` (or every client backend). */
  terminateBackends(application?: string): Promise<number>;
  destroy(): void;
}

export async function startCluster(options: { database?: string; extraConf?: string[] } = {}): Promise<Cluster> {
  const owner = postgresUser();
  const base = mkdtempSync(path.join(tmpdir(), "baton-faults-pg-"));
  const dataDir = path.join(base, "data");
  if (owner) chownSync(base, owner.uid, owner.gid);
  const as = owner ? { uid: owner.uid, gid: owner.gid } : {};
  const run = (bin: string, args: string[]) => execFileSync(path.join(PG_BIN, bin), args, { ...as, stdio: ["ignore", "pipe", "pipe"], cwd: base });
  run("initdb", ["-D", dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
  const port = await freePort();
  const opts = [
    `-p ${port}`,
    "-c listen_addresses=127.0.0.1",
    `-c unix_socket_directories=${base}`,
    "-c max_connections=300",
    // fsync off is safe here: the OS never crashes, only PostgreSQL does. synchronous_commit stays on:
    // an immediate shutdown must not lose what was acknowledged.
    "-c fsync=off",
    ...(options.extraConf ?? []).map((c) => `-c ${c}`),
  ].join(" ");
  const logFile = path.join(base, "postgres.log");
  const cluster: Cluster = {
    url: `postgres://postgres@127.0.0.1:${port}/${options.database ?? "baton"}`,
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    start() {
      run("pg_ctl", ["-D", dataDir, "-o", opts, "-l", logFile, "-w", "-t", "60", "start"]);
    },
    stop(mode) {
      run("pg_ctl", ["-D", dataDir, "-m", mode, "-w", "-t", "60", "stop"]);
    },
    restart(mode) {
      cluster.stop(mode);
      cluster.start();
    },
    async terminateBackends(application) {
      const admin = new pg.Client({ connectionString: cluster.adminUrl });
      await admin.connect();
      try {
        const { rows } = await admin.query(
          `SELECT count(*)::int AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
           WHERE pid <> pg_backend_pid() AND backend_type = 'client backend' AND ($1::text IS NULL OR application_name = $1)) t`,
          [application ?? null],
        );
        return rows[0].n as number;
      } finally {
        await admin.end();
      }
    },
    destroy() {
      try {
        cluster.stop("immediate");
      } catch {
        // already stopped
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
  cluster.start();
  const admin = new pg.Client({ connectionString: cluster.adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${options.database ?? "baton"}`);
  await admin.end();
  return cluster;
}
