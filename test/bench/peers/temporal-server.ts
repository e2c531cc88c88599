// Temporal's own server (go.temporal.io/server v1.29.1, the version the CLI
// embeds) as it is deployed: frontend, history, matching and worker services
// in one process, on PostgreSQL — a database of its own (and one for
// visibility) on the bench's cluster, the one Baton runs on. Its schema is
// made by its own tool (temporal-sql-tool) from the schema files in its module.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { cacheDir, runCommand, sleep, stopChild, track, until } from "../lib/util.js";
import type { PeerContext } from "./index.js";
import { goInstall } from "./install.js";

export const TEMPORAL_SERVER = { module: "go.temporal.io/server", version: "v1.29.1" };

/**
 * History shards: fixed when a cluster is created. Each shard serializes its
 * writes (history.shardIOConcurrency 1), so shards are how a history host
 * writes in parallel: the development config's 4 serialize the bench's 64
 * concurrent runs four ways. Temporal's load tests use 512 on clusters of
 * several hosts; here 512 shards' background queue work swamped the 2-core
 * machine's database (README). BATON_BENCH_TEMPORAL_SHARDS overrides it.
 */
export const TEMPORAL_SHARDS = Number(process.env["BATON_BENCH_TEMPORAL_SHARDS"] ?? 16);

/**
 * Dynamic config changed from the server's defaults (README: Temporal says why each).
 * Rate limits are admission limits protecting a shared cluster, set far above
 * this bench's load as Temporal's load tests do; one task-queue partition for
 * one worker process (partitions spread many pollers); eager activity dispatch
 * on, as the Go SDK asks for it by default.
 */
export const TEMPORAL_DYNAMIC_CONFIG: Record<string, unknown> = {
  "matching.numTaskqueueReadPartitions": 1,
  "matching.numTaskqueueWritePartitions": 1,
  "system.enableActivityEagerExecution": true,
  "frontend.rps": 100_000,
  "frontend.namespaceRPS": 100_000,
  "matching.rps": 100_000,
  "history.rps": 100_000,
  "frontend.persistenceMaxQPS": 100_000,
  "matching.persistenceMaxQPS": 100_000,
  "history.persistenceMaxQPS": 100_000,
};

function dynamicConfigYaml(settings: Record<string, unknown>): string {
  return Object.entries(settings)
    .map(([k, v]) => `${k}:\n  - value: ${JSON.stringify(v)}\n`)
    .join("");
}

/** The server's config: the module's development-postgres12.yaml with loopback ports and the bench's databases. */
function config(
  db: { host: string; port: string; user: string; password: string },
  names: { main: string; visibility: string },
  ports: Record<string, number>,
  dynamicConfigFile: string,
): string {
  const store = (name: string, maxConns: number) => `
      sql:
        pluginName: "postgres12"
        databaseName: "${name}"
        connectAddr: "${db.host}:${db.port}"
        connectProtocol: "tcp"
        user: "${db.user}"
        password: "${db.password}"
        maxConns: ${maxConns}
        maxIdleConns: ${maxConns}
        maxConnLifetime: "1h"`;
  const service = (name: string) => `
  ${name}:
    rpc:
      grpcPort: ${ports[`${name}Grpc`]}
      membershipPort: ${ports[`${name}Membership`]}
      bindOnLocalHost: true${name === "frontend" ? `\n      httpPort: ${ports["frontendHttp"]}` : ""}`;
  return `log:
  stdout: true
  level: error
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: ${TEMPORAL_SHARDS}
  datastores:
    postgres-default:${store(names.main, 20)}
    postgres-visibility:${store(names.visibility, 2)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"
services:${["frontend", "matching", "history", "worker"].map(service).join("")}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: "frontend"
      rpcAddress: "127.0.0.1:${ports["frontendGrpc"]}"
dcRedirectionPolicy:
  policy: "noop"
dynamicConfigClient:
  filepath: "${dynamicConfigFile}"
  pollInterval: "60s"
`;
}

/** A free loopback port below 32768: Temporal stores membership ports in a smallint column. */
async function lowFreePort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (taken.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once("error", () => resolve(false));
      srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
    });
    if (free) {
      taken.add(port);
      return port;
    }
  }
}

/** The module's directory in the Go module cache (for its schema files). */
async function moduleDir(): Promise<string> {
  const r = await runCommand("go", ["mod", "download", "-json", `${TEMPORAL_SERVER.module}@${TEMPORAL_SERVER.version}`], { timeoutMs: 10 * 60_000 });
  const dir = (JSON.parse(r.stdout || "{}") as { Dir?: string }).Dir;
  if (!dir) throw new Error(`go mod download ${TEMPORAL_SERVER.module}@${TEMPORAL_SERVER.version} failed: ${(r.stderr || r.stdout).slice(-800)}`);
  return dir;
}

export interface TemporalServer {
  address: string;
  pid: number;
  args: string[];
  facts: Record<string, unknown>;
  down(): Promise<void>;
}

export async function startTemporalServer(ctx: PeerContext, cli: string): Promise<TemporalServer> {
  const log = ctx.options.log;
  const server = await goInstall(`${TEMPORAL_SERVER.module}/cmd/server`, TEMPORAL_SERVER.version, "server", log);
  const sqlTool = await goInstall(`${TEMPORAL_SERVER.module}/cmd/tools/sql`, TEMPORAL_SERVER.version, "sql", log);
  const schema = path.join(await moduleDir(), "schema/postgresql/v12");
  const names = { main: `bench_peer_temporal_${process.pid}`, visibility: `bench_peer_temporal_vis_${process.pid}` };
  const u = new URL(await ctx.cluster.createDatabase(names.main));
  await ctx.cluster.createDatabase(names.visibility);
  const db = { host: u.hostname, port: u.port || "5432", user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
  const dir = mkdtempSync(path.join(tmpdir(), "baton-bench-temporal-server-"));
  const dropAll = async () => {
    for (const name of [names.main, names.visibility]) await ctx.cluster.dropDatabase(name).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const [name, versioned] of [
      [names.main, "temporal"],
      [names.visibility, "visibility"],
    ] as const) {
      const base = ["--plugin", "postgres12", "--ep", db.host, "-p", db.port, "-u", db.user, "--pw", db.password, "--db", name];
      for (const step of [
        ["setup-schema", "-v", "0.0"],
        ["update-schema", "-d", path.join(schema, versioned, "versioned")],
      ]) {
        const r = await runCommand(sqlTool, [...base, ...step], { timeoutMs: 5 * 60_000 });
        if (r.code !== 0) throw new Error(`temporal-sql-tool ${step[0]} on ${name} failed: ${(r.stderr || r.stdout).slice(-1500)}`);
      }
    }
    const ports: Record<string, number> = {};
    const taken = new Set<number>();
    for (const k of [
      "frontendGrpc",
      "frontendMembership",
      "frontendHttp",
      "matchingGrpc",
      "matchingMembership",
      "historyGrpc",
      "historyMembership",
      "workerGrpc",
      "workerMembership",
    ])
      ports[k] = await lowFreePort(taken);
    mkdirSync(path.join(dir, "config"), { recursive: true });
    const dynamicConfigFile = path.join(dir, "config", "dynamic.yaml");
    writeFileSync(dynamicConfigFile, dynamicConfigYaml(TEMPORAL_DYNAMIC_CONFIG));
    writeFileSync(path.join(dir, "config", "bench.yaml"), config(db, names, ports, dynamicConfigFile));
    const args = ["--root", dir, "--config", "config", "--env", "bench", "--allow-no-auth", "start"];
    const child = track(spawn(server, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] }));
    // Its first error lines say why it stopped (the stack traces after them fill any tail).
    let output = "";
    let firstErrors = "";
    // Its whole log (errors only) goes to the report's logs/, so a failure's cause can be read after the run.
    const logFile = path.join(ctx.options.outDir, "logs", "temporal-server.log");
    mkdirSync(path.dirname(logFile), { recursive: true });
    const file = createWriteStream(logFile);
    const keep = (d: Buffer) => {
      file.write(d);
      output = (output + d.toString()).slice(-5000);
      if (firstErrors.length < 1500)
        firstErrors += d
          .toString()
          .split("\n")
          .filter((l) => /"level":"(error|fatal)"|Error|error:/.test(l))
          .map((l) => l.slice(0, 600))
          .join("\n");
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    const address = `127.0.0.1:${ports["frontendGrpc"]}`;
    const stop = async () => {
      await stopChild(child, "SIGTERM", 20_000);
      await dropAll();
    };
    // Up when the CLI can register the namespace the workers use (the server makes none by itself).
    const registered = await until(
      async () => {
        if (child.exitCode !== null) return true;
        const r = await runCommand(cli, ["operator", "namespace", "create", "--namespace", "default", "--address", address], { timeoutMs: 20_000 });
        return r.code === 0 || /already exists|AlreadyExists/i.test(r.stderr + r.stdout);
      },
      180_000,
      1000,
    );
    if (!registered || child.exitCode !== null) {
      await stop();
      throw new Error(`temporal server did not come up on ${address}: ${firstErrors.slice(0, 1500) || output.slice(-1500)}`);
    }
    // A new namespace reaches every service's cache within seconds.
    await sleep(12_000);
    cacheDir("temporal");
    return {
      address,
      pid: child.pid!,
      args,
      facts: {
        server: `go.temporal.io/server ${TEMPORAL_SERVER.version} (cmd/server), all four services in one process, ${TEMPORAL_SHARDS} history shards`,
        dynamicConfig: TEMPORAL_DYNAMIC_CONFIG,
        store: "the bench's PostgreSQL (postgres12 plugin; a database for its state, one for visibility; same cluster and settings as Baton's)",
      },
      down: stop,
    };
  } catch (error) {
    await dropAll();
    throw error;
  }
}
