// A pg_auto_failover formation on loopback: a monitor, a primary and a
// synchronous standby (Debian's postgresql-15-auto-failover), every process
// run as the `postgres` user from a temporary directory. The same steps as
// test/faults/HA.md describes.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chownSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { sleep } from "./config.js";
import { PG_BIN } from "./pgcluster.js";
import { freePort } from "./server.js";

export function autoctlAvailable(): boolean {
  return spawnSync("pg_autoctl", ["--version"], { stdio: "ignore" }).status === 0;
}

function postgresIds(): { uid: number; gid: number } {
  const uid = Number(spawnSync("id", ["-u", "postgres"], { encoding: "utf8" }).stdout.trim());
  const gid = Number(spawnSync("id", ["-g", "postgres"], { encoding: "utf8" }).stdout.trim());
  return { uid, gid };
}

export interface Node {
  name: string;
  port: number;
  pgdata: string;
  keeper: ChildProcess;
}

export interface Formation {
  monitorUrl: string;
  nodes: Node[];
  /** postgresql://…@h1:p1,h2:p2/baton?target_session_attrs=read-write */
  multiHostUrl: string;
  /** The node the monitor reports as primary now. */
  primary(): Promise<Node | undefined>;
  /** The states the monitor reports, by node name. */
  states(): Promise<Record<string, string>>;
  /** SIGKILLs a node's keeper and its PostgreSQL: the machine "dies". */
  kill(node: Node): void;
  destroy(): void;
}

export async function startFormation(log: (line: string) => void = () => {}): Promise<Formation> {
  const ids = postgresIds();
  const base = mkdtempSync(path.join(tmpdir(), "baton-ha-"));
  chownSync(base, ids.uid, ids.gid);
  const env = {
    ...process.env,
    PATH: `${PG_BIN}:/usr/local/bin:/usr/bin:/bin`,
    PG_REGRESS_SOCK_DIR: base,
    PGHOST: base,
    XDG_CONFIG_HOME: path.join(base, "config"),
    XDG_DATA_HOME: path.join(base, "data"),
    HOME: base,
  };
  const as = { uid: ids.uid, gid: ids.gid, env, cwd: base };
  const children: ChildProcess[] = [];
  const run = (args: string[]) => {
    // Its own process group: pg_autoctl forks services that must die with it.
    const child = spawn("pg_autoctl", args, { ...as, stdio: ["ignore", "pipe", "pipe"], detached: true });
    child.stdout!.on("data", (d: Buffer) => log(d.toString()));
    child.stderr!.on("data", (d: Buffer) => log(d.toString()));
    children.push(child);
    return child;
  };
  const monitorPort = await freePort();
  const monitorData = path.join(base, "monitor");
  execFileSync(
    "pg_autoctl",
    ["create", "monitor", "--pgdata", monitorData, "--pgport", String(monitorPort), "--hostname", "127.0.0.1", "--auth", "trust", "--no-ssl"],
    { ...as, stdio: "pipe" },
  );
  run(["run", "--pgdata", monitorData]);
  const monitorUrl = `postgres://autoctl_node@127.0.0.1:${monitorPort}/pg_auto_failover?sslmode=disable`;
  let monitor: pg.Client;
  for (let i = 0; ; i++) {
    monitor = new pg.Client({ host: base, port: monitorPort, user: "postgres", database: "pg_auto_failover" });
    try {
      await monitor.connect();
      break;
    } catch (error) {
      await monitor.end().catch(() => {});
      if (i > 150) throw error;
      await sleep(200);
    }
  }
  // Notice a dead primary in seconds, not the default tens of seconds.
  for (const setting of [
    "pgautofailover.health_check_period = 1000",
    "pgautofailover.health_check_timeout = 1000",
    "pgautofailover.health_check_max_retries = 1",
    "pgautofailover.health_check_retry_delay = 500",
    "pgautofailover.node_considered_unhealthy_timeout = 3000",
    "pgautofailover.primary_demote_timeout = 5000",
  ]) {
    await monitor.query(`ALTER SYSTEM SET ${setting}`);
  }
  await monitor.query("SELECT pg_reload_conf()");

  const nodes: Node[] = [];
  for (const name of ["node1", "node2"]) {
    const port = await freePort();
    const pgdata = path.join(base, name);
    const keeper = run([
      "create",
      "postgres",
      "--pgdata",
      pgdata,
      "--pgport",
      String(port),
      "--hostname",
      "127.0.0.1",
      "--name",
      name,
      "--auth",
      "trust",
      "--no-ssl",
      "--dbname",
      "baton",
      "--monitor",
      monitorUrl,
      "--run",
    ]);
    nodes.push({ name, port, pgdata, keeper });
    // The first node must be primary before the second joins.
    const want = name === "node1" ? ["single"] : ["primary", "secondary"];
    for (let i = 0; ; i++) {
      const { rows } = await monitor.query("SELECT nodename, reportedstate FROM pgautofailover.node");
      const states = rows.map((r) => r.reportedstate as string);
      if (want.every((w) => states.includes(w))) break;
      if (i > 600) throw new Error(`formation did not reach ${want.join("+")}: ${JSON.stringify(rows)}`);
      await sleep(250);
    }
  }
  // A dead node cannot report: its reported state stays what it was, so read the goal state too.
  const states = async () => {
    const { rows } = await monitor.query("SELECT nodename, reportedstate, goalstate FROM pgautofailover.node");
    return Object.fromEntries(
      rows.map((r) => [r.nodename as string, r.reportedstate === r.goalstate ? (r.reportedstate as string) : `${r.reportedstate}->${r.goalstate}`]),
    );
  };
  return {
    monitorUrl,
    nodes,
    multiHostUrl: `postgresql://postgres@${nodes.map((n) => `127.0.0.1:${n.port}`).join(",")}/baton?target_session_attrs=read-write`,
    states,
    async primary() {
      const s = await states();
      return nodes.find((n) => ["primary", "wait_primary", "single"].includes(s[n.name] ?? ""));
    },
    kill(node) {
      killGroup(node.keeper);
      try {
        const pid = Number(readFileSync(path.join(node.pgdata, "postmaster.pid"), "utf8").split("\n")[0]);
        if (pid) process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    },
    destroy() {
      void monitor.end().catch(() => {});
      for (const child of children) killGroup(child);
      for (const dir of [monitorData, ...nodes.map((n) => n.pgdata)]) {
        try {
          const pid = Number(readFileSync(path.join(dir, "postmaster.pid"), "utf8").split("\n")[0]);
          if (pid) process.kill(pid, "SIGKILL");
        } catch {
          // not running
        }
      }
      // Keepers may still be writing as they die: retry the removal.
      for (let i = 0; i < 5; i++) {
        try {
          rmSync(base, { recursive: true, force: true });
          break;
        } catch {
          spawnSync("sleep", ["0.5"]);
        }
      }
    },
  };
}

function killGroup(child: ChildProcess): void {
  try {
    if (child.pid) process.kill(-child.pid, "SIGKILL");
  } catch {
    child.kill("SIGKILL");
  }
  child.stdout?.destroy();
  child.stderr?.destroy();
}
