// Netflix Conductor 3.15.0 (the server's `boot` jar from Maven Central) on
// Java 17, with its state and queues in a local Redis from Debian's packages
// (append-only file, fsync on every write, so its writes are durable like
// Baton's commits), its HTTP API on a loopback port. Workers poll the REST
// API from Node, as Conductor's own clients do.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { cacheDir, freePort, runCommand, stopChild, track, until, which } from "../lib/util.js";
import type { PeerContext, PeerUp } from "./index.js";
import { aptBinary, mavenArtifact } from "./install.js";

export const CONDUCTOR = { coordinates: "com.netflix.conductor:conductor-server:3.15.0:jar:boot", file: "conductor-server-3.15.0-boot.jar", version: "3.15.0" };

export function startRedis(binary: string, port: number, dir: string): ChildProcess {
  return track(
    spawn(
      binary,
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", dir, "--protected-mode", "yes"],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    ),
  );
}

/** Conductor's store and queues in the Redis on `redisPort` (3.15's own property names). */
export function redisProps(redisPort: number): Record<string, string> {
  return {
    "conductor.db.type": "redis_standalone",
    "conductor.queue.type": "redis_standalone",
    "conductor.redis.hosts": `127.0.0.1:${redisPort}:us-east-1c`,
    "conductor.redis.availabilityZone": "us-east-1c",
    "conductor.redis.dataCenterRegion": "us-east-1",
    "conductor.redis.queuesNonQuorumPort": String(redisPort),
    "conductor.redis.workflowNamespacePrefix": "conductor",
    "conductor.redis.queueNamespacePrefix": "conductor_queues",
    "conductor.app.ownerEmailMandatory": "false",
  };
}

/** A Conductor server (any 3.x boot jar) on a loopback port; `store` says where its data and queues live (a number: the Redis on that port). */
export function startConductor(
  jar: string,
  httpPort: number,
  store: number | Record<string, string>,
  logDir: string,
  stack = "bench",
  logFile?: string,
): { child: ChildProcess; output: () => string } {
  const props: Record<string, string> = {
    loadSample: "false",
    "server.port": String(httpPort),
    "server.address": "127.0.0.1",
    "conductor.indexing.enabled": "false",
    "conductor.grpc-server.enabled": "false",
    "conductor.app.stack": stack,
    "logging.level.root": "WARN",
    ...(typeof store === "number" ? redisProps(store) : store),
  };
  const child = track(
    spawn("java", ["-Xms512m", "-Xmx2g", ...Object.entries(props).map(([k, v]) => `-D${k}=${v}`), "-jar", jar], {
      cwd: logDir,
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  let output = "";
  // Its whole log, when asked for, so a failure's cause can be read after the run.
  const file = logFile ? (mkdirSync(path.dirname(logFile), { recursive: true }), createWriteStream(logFile)) : undefined;
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-8000);
    file?.write(d);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  return { child, output: () => output };
}

export async function healthy(base: string): Promise<boolean> {
  try {
    const r = await fetch(`${base}/api/metadata/taskdefs`, { signal: AbortSignal.timeout(2000) });
    return r.ok;
  } catch {
    return false;
  }
}

async function javaVersion(): Promise<string> {
  if (!which("java")) throw new Error("java is not installed (Conductor needs Java 17)");
  const version = await runCommand("java", ["-version"], { timeoutMs: 30_000 });
  const found = /version "([^"]+)"/.exec(version.stderr + version.stdout)?.[1] ?? "?";
  if (!/^(1[7-9]|2\d)/.test(found)) throw new Error(`Conductor needs Java 17+; found ${found}`);
  return found;
}

/** Starts `count` servers on one store and waits for each to answer; on failure stops what it started. */
async function startServers(ctx: PeerContext, name: string, jar: string, store: Record<string, string>, dir: string) {
  const servers: { child: ChildProcess; output: () => string; base: string }[] = [];
  const stop = async () => {
    for (const s of servers) await stopChild(s.child, "SIGTERM", 20_000);
  };
  try {
    // Two servers when the replicas scenario runs; the first serves everything else.
    const count = ctx.options.only.includes("replicas") ? 2 : 1;
    for (let i = 0; i < count; i++) {
      const httpPort = await freePort();
      const server = startConductor(jar, httpPort, store, dir, "bench", path.join(ctx.options.outDir, "logs", `${name}-server${i + 1}.log`));
      servers.push({ ...server, base: `http://127.0.0.1:${httpPort}` });
      // The second waits for the first: both would run the store's migrations at once.
      ctx.options.log(`  conductor: waiting for ${servers[i]!.base} (JVM start, up to 5 minutes) ...`);
      const ok = await until(async () => server.child.exitCode === null && (await healthy(servers[i]!.base)), 300_000, 1000);
      if (!ok) throw new Error(`Conductor did not answer on ${servers[i]!.base}: ${server.output().slice(-2000)}`);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { servers, stop };
}

/**
 * Starts the servers on `store` and says what is up: its `storePid` and `facts`
 * as given. `release` frees what was set up for them (the store, the scratch
 * folder `dir`): when they fail to start, or after they stop at `down`.
 */
async function serversUp(
  ctx: PeerContext,
  name: string,
  jar: string,
  store: Record<string, string>,
  dir: string,
  release: () => Promise<void>,
  about: Pick<PeerUp, "storePid" | "facts">,
): Promise<PeerUp> {
  let up: Awaited<ReturnType<typeof startServers>>;
  try {
    up = await startServers(ctx, name, jar, store, dir);
  } catch (error) {
    await release();
    throw error;
  }
  const { servers } = up;
  return {
    modulesDir: dir,
    endpoint: { base: servers[0]!.base, ...(servers[1] ? { base2: servers[1].base } : {}) },
    serverPids: servers.map((s) => s.child.pid!),
    ...about,
    down: async () => {
      await up.stop();
      await release();
    },
  };
}

export async function bringUpConductor(ctx: PeerContext): Promise<PeerUp> {
  const log = ctx.options.log;
  const java = await javaVersion();
  const [redisBinary, jar] = await Promise.all([aptBinary("redis-server", "redis-server", log), mavenArtifact(CONDUCTOR.coordinates, CONDUCTOR.file, log)]);
  cacheDir("conductor");
  const dir = mkdtempSync(path.join(tmpdir(), "baton-bench-conductor-"));
  const redisPort = await freePort();
  const redis = startRedis(redisBinary, redisPort, dir);
  const release = async () => {
    await stopChild(redis, "SIGTERM", 10_000);
    rmSync(dir, { recursive: true, force: true });
  };
  return serversUp(ctx, "conductor", jar, redisProps(redisPort), dir, release, {
    ...(redis.pid ? { storePid: redis.pid } : {}),
    facts: {
      version: `conductor-server ${CONDUCTOR.version} (boot jar), Java ${java}`,
      store: "Redis (redis_standalone for data and queues), appendonly with appendfsync always",
      redisPid: redis.pid,
    },
  });
}

export const CONDUCTOR_PG = {
  coordinates: "org.conductoross:conductor-server:3.21.14:jar:boot",
  file: "conductor-server-3.21.14-boot.jar",
  version: "3.21.14",
};

/**
 * Conductor 3.21.14 with its PostgreSQL persistence for data and queues, in a
 * database of its own on the bench's PostgreSQL (the cluster Baton runs on).
 * Its migrations (Flyway, in the jar) make the schema at start.
 */
export function postgresProps(databaseUrl: string): Record<string, string> {
  const u = new URL(databaseUrl);
  return {
    "conductor.db.type": "postgres",
    "conductor.queue.type": "postgres",
    "spring.datasource.url": `jdbc:postgresql://${u.hostname}:${u.port || "5432"}${u.pathname}`,
    "spring.datasource.username": decodeURIComponent(u.username),
    "spring.datasource.password": decodeURIComponent(u.password),
    "conductor.app.owner-email-mandatory": "false",
  };
}

export async function bringUpConductorPostgres(ctx: PeerContext): Promise<PeerUp> {
  const log = ctx.options.log;
  const java = await javaVersion();
  const jar = await mavenArtifact(CONDUCTOR_PG.coordinates, CONDUCTOR_PG.file, log);
  const database = `bench_peer_conductor_pg_${process.pid}`;
  const databaseUrl = await ctx.cluster.createDatabase(database);
  const dir = mkdtempSync(path.join(tmpdir(), "baton-bench-conductor-pg-"));
  const release = async () => {
    await ctx.cluster.dropDatabase(database).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  return serversUp(ctx, "conductor-postgres", jar, postgresProps(databaseUrl), dir, release, {
    ...(ctx.cluster.postmasterPid ? { storePid: ctx.cluster.postmasterPid } : {}),
    facts: {
      version: `conductor-server ${CONDUCTOR_PG.version} (boot jar), Java ${java}`,
      store: "the bench's PostgreSQL (same cluster and settings as Baton's), database of its own: conductor.db.type=postgres, conductor.queue.type=postgres",
    },
  });
}
