// Netflix Conductor 3.15.0 (the server's `boot` jar from Maven Central) on
// Java 17, with its state and queues in a local Redis from Debian's packages
// (append-only file, fsync on every write, so its writes are durable like
// Baton's commits), its HTTP API on a loopback port. Workers poll the REST
// API from Node, as Conductor's own clients do.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { cacheDir, freePort, runCommand, stopChild, track, until, which } from "../lib/util.js";
import type { PeerContext, PeerUp } from "./index.js";
import { aptBinary, mavenArtifact } from "./install.js";

export const CONDUCTOR = { coordinates: "com.netflix.conductor:conductor-server:3.15.0:jar:boot", file: "conductor-server-3.15.0-boot.jar", version: "3.15.0" };

export function startRedis(binary: string, port: number, dir: string): ChildProcess {
  return track(spawn(binary, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", dir, "--protected-mode", "yes"], {
    stdio: ["ignore", "pipe", "pipe"],
  }));
}

/** A Conductor server (any 3.x boot jar) on a loopback port, its data and queues in the Redis on `redisPort`. */
export function startConductor(jar: string, httpPort: number, redisPort: number, logDir: string, stack = "bench"): { child: ChildProcess; output: () => string } {
  const props: Record<string, string> = {
    loadSample: "false",
    "server.port": String(httpPort),
    "server.address": "127.0.0.1",
    "conductor.db.type": "redis_standalone",
    "conductor.queue.type": "redis_standalone",
    "conductor.redis.hosts": `127.0.0.1:${redisPort}:us-east-1c`,
    "conductor.redis.availabilityZone": "us-east-1c",
    "conductor.redis.dataCenterRegion": "us-east-1",
    "conductor.redis.queuesNonQuorumPort": String(redisPort),
    "conductor.redis.workflowNamespacePrefix": "conductor",
    "conductor.redis.queueNamespacePrefix": "conductor_queues",
    "conductor.indexing.enabled": "false",
    "conductor.grpc-server.enabled": "false",
    "conductor.app.stack": stack,
    "conductor.app.ownerEmailMandatory": "false",
    "logging.level.root": "WARN",
  };
  const child = track(spawn("java", ["-Xms512m", "-Xmx2g", ...Object.entries(props).map(([k, v]) => `-D${k}=${v}`), "-jar", jar], { cwd: logDir, stdio: ["ignore", "pipe", "pipe"] }));
  let output = "";
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-8000));
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

export async function bringUpConductor(ctx: PeerContext): Promise<PeerUp> {
  const log = ctx.options.log;
  if (!which("java")) throw new Error("java is not installed (Conductor 3.15 needs Java 17)");
  const version = await runCommand("java", ["-version"], { timeoutMs: 30_000 });
  const javaVersion = /version "([^"]+)"/.exec(version.stderr + version.stdout)?.[1] ?? "?";
  if (!/^(1[7-9]|2\d)/.test(javaVersion)) throw new Error(`Conductor 3.15 needs Java 17+; found ${javaVersion}`);
  const [redisBinary, jar] = await Promise.all([aptBinary("redis-server", "redis-server", log), mavenArtifact(CONDUCTOR.coordinates, CONDUCTOR.file, log)]);
  cacheDir("conductor");
  const dir = mkdtempSync(path.join(tmpdir(), "baton-bench-conductor-"));
  const redisPort = await freePort();
  const redis = startRedis(redisBinary, redisPort, dir);
  const servers: { child: ChildProcess; output: () => string; base: string }[] = [];
  const down = async () => {
    for (const s of servers) await stopChild(s.child, "SIGTERM", 20_000);
    await stopChild(redis, "SIGTERM", 10_000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Two servers when the replicas scenario runs; the first serves everything else.
    const count = ctx.options.only.includes("replicas") ? 2 : 1;
    for (let i = 0; i < count; i++) {
      const httpPort = await freePort();
      const server = startConductor(jar, httpPort, redisPort, dir);
      servers.push({ ...server, base: `http://127.0.0.1:${httpPort}` });
    }
    for (const s of servers) {
      log(`  conductor: waiting for ${s.base} (JVM start, up to 3 minutes) ...`);
      const ok = await until(async () => s.child.exitCode === null && (await healthy(s.base)), 180_000, 1000);
      if (!ok) throw new Error(`Conductor did not answer on ${s.base}: ${s.output().slice(-2000)}`);
    }
  } catch (error) {
    await down();
    throw error;
  }
  return {
    modulesDir: dir,
    endpoint: { base: servers[0]!.base, ...(servers[1] ? { base2: servers[1].base } : {}) },
    serverPids: servers.map((s) => s.child.pid!),
    facts: {
      version: `conductor-server ${CONDUCTOR.version} (boot jar), Java ${javaVersion}`,
      store: "Redis (redis_standalone for data and queues), appendonly with appendfsync always",
      redisPid: redis.pid,
    },
    down,
  };
}
