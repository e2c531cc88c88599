// Peers: each is brought up (installed into the cache on first use, its
// services started on loopback), runs the scenarios it can in a driver child
// process, and is torn down. A peer that cannot be brought up reports every
// scenario as not run, with the reason.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Cluster } from "../lib/postgres.js";
import type { BenchOptions, ScenarioResult, SystemName } from "../lib/types.js";
import { ROOT, errorText, stopChild, track } from "../lib/util.js";
import type { DriverConfig } from "./driver.js";
import { npmInstall } from "./install.js";
import { bringUpConductor, bringUpConductorPostgres } from "./conductor.js";
import { bringUpTemporal } from "./temporal.js";

export interface PeerContext {
  options: BenchOptions;
  cluster: Cluster;
}

/** What a peer's bring-up hands to its driver, and how to take it down again. */
export interface PeerUp {
  modulesDir: string;
  endpoint: Record<string, string>;
  serverPids: number[];
  /** The process (tree) of its database, when it runs one apart from its server: Redis, PostgreSQL. */
  storePid?: number;
  /** Extra facts for the report (versions, durability). */
  facts: Record<string, unknown>;
  down(): Promise<void>;
}

const HERE = path.dirname(fileURLToPath(import.meta.url));

export const GRAPHILE_VERSION = "0.17.3";

async function bringUpGraphile(ctx: PeerContext): Promise<PeerUp> {
  const modulesDir = await npmInstall("npm-graphile", { "graphile-worker": GRAPHILE_VERSION }, ctx.options.log);
  const databaseUrl = await ctx.cluster.createDatabase(`bench_peer_graphile_${process.pid}`);
  return {
    modulesDir,
    endpoint: { databaseUrl },
    serverPids: [],
    ...(ctx.cluster.postmasterPid ? { storePid: ctx.cluster.postmasterPid } : {}),
    facts: { version: `graphile-worker ${GRAPHILE_VERSION}`, store: "the bench's PostgreSQL (same cluster and settings as Baton's)" },
    down: () => ctx.cluster.dropDatabase(`bench_peer_graphile_${process.pid}`),
  };
}

const BRING_UP: Record<Exclude<SystemName, "baton">, (ctx: PeerContext) => Promise<PeerUp>> = {
  "graphile-worker": bringUpGraphile,
  temporal: bringUpTemporal,
  conductor: bringUpConductor,
  "conductor-postgres": bringUpConductorPostgres,
};

/** The driver that runs each peer's scenarios (both Conductors speak the same REST API). */
const DRIVER: Record<Exclude<SystemName, "baton">, string> = {
  "graphile-worker": "graphile-driver.ts",
  temporal: "temporal-driver.ts",
  conductor: "conductor-driver.ts",
  "conductor-postgres": "conductor-driver.ts",
};

/**
 * Brings the peer up, runs its scenarios and takes it down. Each result is
 * handed to `onResult` as soon as the driver reports it (so the bench can write
 * its report after every scenario); all of them are returned at the end.
 */
export async function runPeer(peer: SystemName, ctx: PeerContext, onResult: (r: ScenarioResult) => void = () => {}): Promise<ScenarioResult[]> {
  if (peer === "baton") throw new Error("baton is not a peer");
  const scenarios = ctx.options.only;
  const results: ScenarioResult[] = [];
  const add = (r: ScenarioResult) => {
    results.push(r);
    onResult(r);
  };
  let up: PeerUp;
  try {
    up = await BRING_UP[peer](ctx);
  } catch (error) {
    for (const scenario of scenarios)
      add({ scenario, system: peer, status: "not run", reason: `could not be brought up: ${errorText(error)}`, metrics: {}, seconds: 0 });
    return results;
  }
  try {
    const config: DriverConfig = {
      system: peer,
      scenarios,
      counts: ctx.options.peerCounts,
      quick: ctx.options.quick,
      timeoutS: ctx.options.scenarioTimeoutS,
      modulesDir: up.modulesDir,
      endpoint: up.endpoint,
      serverPids: up.serverPids,
      ...(up.storePid ? { postgresPid: up.storePid } : {}),
    };
    await runDriverProcess(path.join(HERE, DRIVER[peer]), config, ctx.options.log, scenarios.length * ctx.options.scenarioTimeoutS * 1000 + 120_000, (r) =>
      add({ ...r, details: { ...r.details, peer: up.facts } }),
    );
  } catch (error) {
    // The driver died: the scenarios it did not report failed with its last words.
    for (const scenario of scenarios.filter((s) => !results.some((r) => r.scenario === s)))
      add({ scenario, system: peer, status: "failed", reason: errorText(error), metrics: {}, seconds: 0 });
  } finally {
    await up.down().catch(() => {});
  }
  return results;
}

/** Runs a driver child process; each `SCENARIO <json>` line it prints is one result. Rejects if it ends without all of them. */
function runDriverProcess(
  file: string,
  config: DriverConfig,
  log: (line: string) => void,
  timeoutMs: number,
  onResult: (r: ScenarioResult) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = track(spawn(process.execPath, ["--import", "tsx", file, JSON.stringify(config)], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] }));
    let stderr = "";
    let reported = 0;
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (!line.startsWith("SCENARIO ")) return;
      reported++;
      onResult(JSON.parse(line.slice("SCENARIO ".length)) as ScenarioResult);
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-20_000);
      for (const line of d.toString().split("\n")) if (line.trim()) log(line);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      void stopChild(child, "SIGKILL");
    }, timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (reported >= config.scenarios.length) return resolve();
      const how = timedOut ? `was stopped after ${Math.round(timeoutMs / 1000)} s` : `exited with ${code ?? signal}`;
      reject(new Error(`the ${config.system} driver ${how} before reporting this scenario: ${stderr.slice(-1500)}`));
    });
  });
}
