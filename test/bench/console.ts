// The console's speed (the "console" scenario of `npm run bench`):
// - runs list: SearchWorkflows and CountWorkflows over the Connect protocol,
//   as the browser calls them, with 1,000,000 runs stored (fewer with --quick or --backlog-scale);
// - a run with 10,000 tasks (a dynamic fork) drawn and interactive in headless
//   Chromium: from navigation until a click on a step shows its panel;
// - idle cost: the same closed-loop throughput with the console port off and
//   on (nobody watching), twice each (off, on, on, off) on fresh databases,
//   with the noise between legs of the same setting to judge the ratio by.
import pg from "pg";
import { chromium } from "playwright-core";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { BatonClient } from "@baton/client";
import { toBinary } from "@bufbuild/protobuf";
import { RunOrder, WatchWorkflowResponseSchema, WorkflowService, WorkflowStatus } from "@baton/protocol";
import { FANOUT, SEQ3, fanoutInput, noopWorkers, registerFlows, startServerProcess, type ServerProcess } from "./lib/baton.js";
import type { Cluster } from "./lib/postgres.js";
import { storeRuns } from "./lib/stored-runs.js";
import { distribution, freePort, nowMs, pool, round, until } from "./lib/util.js";

export interface ConsoleBenchOptions {
  quick: boolean;
  /** Runs stored for the list (1,000,000 in the full bench). */
  storedRuns: number;
  /** Branches of the wide run (10,000 in the full bench). */
  branches: number;
  /** Runs per throughput measurement (console off, then on). */
  idleRuns: number;
  cluster: Cluster;
  log: (line: string) => void;
}

const CHROMIUM = process.env["BATON_CHROMIUM"] ?? "/usr/bin/chromium";

async function withServer<T>(
  cluster: Cluster,
  name: string,
  consolePort: number | undefined,
  body: (server: ServerProcess, databaseUrl: string) => Promise<T>,
): Promise<T> {
  const db = `bench_console_${name}_${process.pid}`;
  const databaseUrl = await cluster.createDatabase(db);
  const server = await startServerProcess({ databaseUrl, env: consolePort !== undefined ? { BATON_CONSOLE_PORT: String(consolePort) } : {} });
  try {
    return await body(server, databaseUrl);
  } finally {
    await server.stop().catch(() => undefined);
    await cluster.dropDatabase(db);
  }
}

/** `runs` finished and running runs of 20 names, written straight into the tables (as the backlog scenario does). */
async function fillRuns(databaseUrl: string, runs: number, log: (line: string) => void): Promise<void> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const { rows } = await c.query<{ hash: string }>("SELECT hash FROM baton.workflow_defs WHERE name = $1 ORDER BY version DESC LIMIT 1", [SEQ3.name]);
    const hash = rows[0]!.hash;
    await storeRuns(c, { runs, defHash: hash, stored: (to) => log(`  console: runs ${to.toLocaleString("en")}/${runs.toLocaleString("en")}`) });
  } finally {
    await c.end();
  }
}

async function runsList(options: ConsoleBenchOptions): Promise<Record<string, number>> {
  const runs = options.storedRuns;
  const port = await freePort();
  return withServer(options.cluster, "list", port, async (server, databaseUrl) => {
    const admin = new BatonClient({ address: server.address });
    await registerFlows(admin);
    admin.close();
    await fillRuns(databaseUrl, runs, options.log);
    const transport = createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "1.1", useBinaryFormat: true });
    const client = createClient(WorkflowService, transport);
    // What the runs page asks: the first page (newest first), filtered pages, a next page, and the counts.
    const first = await client.searchWorkflows({ pageSize: 50 });
    const firstByName = await client.searchWorkflows({ pageSize: 50, order: RunOrder.NAME_ASC });
    const queries = [
      () => client.searchWorkflows({ pageSize: 50 }),
      () => client.searchWorkflows({ pageSize: 50, statuses: [WorkflowStatus.FAILED] }),
      () => client.searchWorkflows({ pageSize: 50, name: "bench_console_7", version: 1 }),
      () => client.searchWorkflows({ pageSize: 50, name: "bench_console_3", statuses: [WorkflowStatus.COMPLETED] }),
      () => client.searchWorkflows({ pageSize: 50, correlationId: "order-4242" }),
      () => client.searchWorkflows({ pageSize: 50, pageToken: first.nextPageToken }),
      () => client.searchWorkflows({ pageSize: 50, oldestFirst: true, startTimeFromMs: BigInt(Date.now() - 86_400_000 + 5_000_000) }),
      // Sorted by a column's header (RunOrder): by end, a next page by name, by status under a name.
      () => client.searchWorkflows({ pageSize: 50, order: RunOrder.END_DESC }),
      () => client.searchWorkflows({ pageSize: 50, order: RunOrder.NAME_ASC, pageToken: firstByName.nextPageToken }),
      () => client.searchWorkflows({ pageSize: 50, order: RunOrder.STATUS_ASC, name: "bench_console_5" }),
    ];
    const samples = options.quick ? 50 : 200;
    for (let i = 0; i < 20; i++) await queries[i % queries.length]!();
    const list: number[] = [];
    const byQuery: number[][] = queries.map(() => []);
    for (let i = 0; i < samples; i++) {
      const t = nowMs();
      await queries[i % queries.length]!();
      list.push(nowMs() - t);
      byQuery[i % queries.length]!.push(nowMs() - t);
    }
    const names = [
      "newest",
      "status",
      "name+version",
      "name+status",
      "correlation id",
      "next page",
      "oldest from",
      "end desc",
      "name next page",
      "name, status asc",
    ];
    options.log(`  console: list p99 by query: ${byQuery.map((q, i) => `${names[i]} ${distribution(q).p99} ms`).join(", ")}`);
    const counts: number[] = [];
    for (let i = 0; i < Math.max(20, samples / 4); i++) {
      const t = nowMs();
      await client.countWorkflows(i % 2 ? { name: "bench_console_3" } : {});
      counts.push(nowMs() - t);
    }
    const l = distribution(list);
    const c = distribution(counts);
    options.log(`  console: runs list over ${runs.toLocaleString("en")} runs p50 ${l.p50} ms p99 ${l.p99} ms; counts p50 ${c.p50} ms p99 ${c.p99} ms`);
    return { storedRuns: runs, listP50Ms: l.p50, listP99Ms: l.p99, countsP50Ms: c.p50, countsP99Ms: c.p99 };
  });
}

async function wideRun(options: ConsoleBenchOptions): Promise<Record<string, number>> {
  const branches = options.branches;
  const port = await freePort();
  return withServer(options.cluster, "wide", port, async (server) => {
    const client = new BatonClient({ address: server.address });
    await registerFlows(client);
    const workers = noopWorkers(server.address, { concurrency: 64, workerId: "bench-console", types: ["bench_item"] });
    try {
      const run = await client.executeWorkflow(FANOUT.name, fanoutInput(branches), { waitMs: 300_000 });
      if (run.status !== "COMPLETED") throw new Error(`the ${branches}-branch run ended ${run.status}`);
      // What the run page's first answer costs, as the console asks for it (large payloads left out) and whole.
      const connect = createClient(WorkflowService, createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "1.1", useBinaryFormat: true }));
      for (const limit of [4096, 0]) {
        const t = nowMs();
        const answer = await connect.watchWorkflow({ workflowId: run.workflowId, knownState: "", waitMs: 0n, taskPayloadLimit: limit });
        const ms = nowMs() - t;
        const bytes = toBinary(WatchWorkflowResponseSchema, answer).length;
        options.log(
          `  console: ${branches.toLocaleString("en")}-task run's watch answer ${limit ? `trimmed at ${limit} B` : "whole"}: ${round(bytes / 1024, 0)} KiB in ${round(ms, 0)} ms`,
        );
      }
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--no-first-run",
        ],
      });
      try {
        const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
        // Once, so the bundle is cached as a returning user has it; then measured.
        await page.goto(`http://127.0.0.1:${port}/runs/${run.workflowId}`);
        await page.locator("g.node.kind-dynamic").waitFor({ timeout: 60_000 });
        const samples: { drawn: number; interactive: number }[] = [];
        for (let i = 0; i < 3; i++) {
          const t = nowMs();
          await page.goto(`http://127.0.0.1:${port}/runs/${run.workflowId}`);
          await page.locator("g.node.kind-dynamic").waitFor({ timeout: 60_000 });
          const drawn = nowMs() - t;
          await page.locator("g.node.kind-dynamic").click();
          await page.getByText(`all ${branches.toLocaleString("en-US")}`).waitFor({ timeout: 60_000 });
          samples.push({ drawn, interactive: nowMs() - t });
        }
        const drawn = Math.min(...samples.map((s) => s.drawn));
        const interactive = Math.min(...samples.map((s) => s.interactive));
        options.log(
          `  console: ${branches.toLocaleString("en")}-task run drawn in ${round(drawn, 0)} ms, interactive in ${round(interactive, 0)} ms (best of 3)`,
        );
        return {
          wideRunTasks: run.tasks.length,
          wideRunDrawnMs: round(drawn, 0),
          wideRunInteractiveMs: round(interactive, 0),
          wideRunInteractiveWorstMs: round(Math.max(...samples.map((s) => s.interactive)), 0),
        };
      } finally {
        await browser.close();
      }
    } finally {
      await workers.stop();
      client.close();
    }
  });
}

/** Closed-loop throughput of the 3-step flow, `runs` runs, 64 starts in flight. */
async function throughput(server: ServerProcess, runs: number): Promise<number> {
  const client = new BatonClient({ address: server.address });
  await registerFlows(client);
  const workers = noopWorkers(server.address, { concurrency: 64, workerId: "bench-console" });
  const done = () => workers.counts.get("bench_c") ?? 0;
  try {
    // Warm-up (JIT, connections, plans), not counted.
    const warm = Math.min(100, Math.max(10, Math.round(runs / 10)));
    await pool(warm, 32, (i) => client.startWorkflow(SEQ3.name, { n: i }));
    await until(() => done() >= warm, 120_000, 10);
    const base = done();
    const t = nowMs();
    let started = 0;
    await pool(runs, 64, async (i) => {
      while (started - (done() - base) >= 256) await new Promise((r) => setTimeout(r, 2));
      await client.startWorkflow(SEQ3.name, { n: i });
      started++;
    });
    if (!(await until(() => done() - base >= runs, 600_000, 10))) throw new Error("throughput runs did not finish");
    return round((3 * runs) / ((nowMs() - t) / 1000), 0);
  } finally {
    await workers.stop();
    client.close();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * The console's cost with nobody watching: the throughput loop on servers
 * without the console port and with it, in the order off, on, on, off (so a
 * machine that drifts during the scenario weighs on both alike), each on a
 * fresh database. Noise is how far two legs of the same setting differ; the
 * console costs nothing measurable when on/off is within that of 1.
 */
async function idleCost(options: ConsoleBenchOptions): Promise<Record<string, number>> {
  const runs = options.idleRuns;
  const legs: Record<"off" | "on", number[]> = { off: [], on: [] };
  for (const [i, setting] of (["off", "on", "on", "off"] as const).entries()) {
    const port = setting === "on" ? await freePort() : undefined;
    legs[setting].push(await withServer(options.cluster, `${setting}${i}`, port, (server) => throughput(server, runs)));
  }
  const off = median(legs.off);
  const on = median(legs.on);
  const spread = (xs: number[]) => (Math.max(...xs) - Math.min(...xs)) / median(xs);
  const noise = Math.max(spread(legs.off), spread(legs.on));
  const ratio = on / off;
  const withinNoise = Math.abs(ratio - 1) <= noise;
  options.log(
    `  console: throughput console off ${legs.off.join(" / ")} tasks/s, on and unwatched ${legs.on.join(" / ")} tasks/s: ` +
      `on/off ${round(ratio, 3)}, noise (same setting, two legs) ±${round(noise * 100, 1)}%: ${withinNoise ? "within noise" : "OUTSIDE the noise"}`,
  );
  return {
    idleRuns: runs,
    consoleOffTasksPerSecond: round(off, 0),
    consoleOnTasksPerSecond: round(on, 0),
    consoleOnOffRatio: round(ratio, 3),
    consoleIdleNoise: round(noise, 3),
    consoleIdleWithinNoise: withinNoise ? 1 : 0,
  };
}

export async function runConsoleBench(options: ConsoleBenchOptions): Promise<{ metrics: Record<string, number>; failures: string[] }> {
  const metrics: Record<string, number> = {};
  const failures: string[] = [];
  for (const [name, part] of [
    ["runs list", runsList],
    ["10,000-task run", wideRun],
    ["idle cost", idleCost],
  ] as const) {
    try {
      Object.assign(metrics, await part(options));
    } catch (error) {
      failures.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { metrics, failures };
}
