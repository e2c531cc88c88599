// The bench's report files: --merge combines a peers-only run with a
// Baton-only run, and the table shows where each result came from and every
// system's CPU split. (No timing asserted: these are made-up figures.)
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { mergeReports, readReport, renderTable, writeReport, type Report } from "./lib/report.js";
import type { ScenarioResult } from "./lib/types.js";

const out = mkdtempSync(path.join(tmpdir(), "baton-bench-report-"));
after(() => rmSync(out, { recursive: true, force: true }));

const cpu = (server: number, db: number, bench: number, workers?: number) => ({
  cpu: { machineBusyFraction: 0.9, otherCpuSeconds: 1 },
  serverProcesses: 1,
  serverCpuMsPerTask: server,
  postgresCpuMsPerTask: db,
  benchProcessCpuMsPerTask: bench,
  ...(workers === undefined ? {} : { workerCpuMsPerTask: workers }),
});

function report(startedAt: string, results: ScenarioResult[], options: Record<string, unknown>): Report {
  return { startedAt, finishedAt: startedAt, mode: "full", machine: {}, postgres: {}, options, results, ratios: [], notes: [`note of ${startedAt}`] };
}

const peersRun = report(
  "2026-12-02T04:40:00.000Z",
  [
    { scenario: "throughput", system: "conductor", status: "ok", metrics: { tasksPerSecond: 240, seconds: 60 }, details: cpu(3, 1, 2), seconds: 60 },
    { scenario: "throughput", system: "temporal", status: "ok", metrics: { tasksPerSecond: 600, seconds: 30 }, details: cpu(2, 1.5, 0.2, 0.4), seconds: 30 },
    { scenario: "fanout", system: "conductor", status: "partial", reason: "10000-branch run still running", metrics: { smallSeconds: 10 }, seconds: 200 },
  ],
  { only: ["throughput", "fanout"], peers: ["conductor", "temporal"], peerCounts: { throughputRuns: 5000 } },
);
const batonRun = report(
  "2026-12-02T06:15:00.000Z",
  [
    { scenario: "throughput", system: "baton", status: "ok", metrics: { tasksPerSecond: 2400, seconds: 25 }, details: cpu(0.3, 0.4, 0.1), seconds: 25 },
    { scenario: "fanout", system: "baton", status: "ok", metrics: { smallSeconds: 1, largeSeconds: 10 }, seconds: 12 },
  ],
  { only: ["throughput", "fanout"], peers: [], counts: { throughputRuns: 20000 } },
);

test("--merge keeps a peers-only run's results beside a Baton-only run's, and the ratios span both", () => {
  writeReport(peersRun, out);
  const previous = readReport(path.join(out, "report.json"));
  assert.ok(previous, "the peers' report is read back");
  const merged = mergeReports(previous, batonRun);
  assert.deepEqual(
    merged.results.map((r) => `${r.scenario}/${r.system}`),
    ["throughput/baton", "throughput/conductor", "throughput/temporal", "fanout/baton", "fanout/conductor"],
  );
  assert.equal(merged.results.find((r) => r.system === "temporal")?.details?.["fromRun"], peersRun.startedAt);
  assert.equal(merged.results.find((r) => r.system === "baton" && r.scenario === "throughput")?.details?.["fromRun"], undefined);
  assert.deepEqual(
    merged.ratios.filter((r) => r.scenario === "throughput" && r.metric === "tasksPerSecond").map((r) => [r.peer, r.batonAhead]),
    [
      ["conductor", 10],
      ["temporal", 4],
    ],
  );
  assert.deepEqual(merged.options["peers"], ["conductor", "temporal"]);
  assert.deepEqual(merged.options["peerCounts"], { throughputRuns: 5000 });
  assert.ok(merged.notes.includes(`note of ${peersRun.startedAt}`));

  const files = writeReport(merged, out);
  assert.equal(readReport(files.json)?.results.length, 5);
  assert.match(readFileSync(files.svg, "utf8"), /^<svg /);
});

test("a rerun of one peer scenario replaces only that result", () => {
  const rerun: ScenarioResult = { scenario: "fanout", system: "conductor", status: "ok", metrics: { smallSeconds: 9, largeSeconds: 200 }, seconds: 220 };
  const merged = mergeReports(peersRun, report("2026-12-02T05:30:00.000Z", [rerun], {}));
  const fanout = merged.results.filter((r) => r.scenario === "fanout");
  assert.equal(fanout.length, 1);
  assert.equal(fanout[0]!.status, "ok");
  assert.equal(merged.results.length, 3);
});

test("the table shows every system's CPU split, the causes of what did not end ok, and which results were kept", () => {
  const merged = mergeReports(peersRun, batonRun);
  const table = renderTable(merged);
  assert.match(table, /baton: 25\.0 s; CPU ms\/task: server 0\.30, PostgreSQL 0\.40, workers\+load 0\.10/);
  assert.match(table, /conductor: 60\.0 s; CPU ms\/task: server 3\.00, database 1\.00, workers\+load 2\.00/);
  assert.match(table, /temporal: 30\.0 s; CPU ms\/task: server 2\.00, database 1\.50, workers 0\.40, load 0\.20/);
  assert.match(table, /conductor fanout: partial: 10000-branch run still running/);
  assert.match(table, /Kept \(--merge\) from the run started 2026-12-02T04:40:00\.000Z: conductor throughput, temporal throughput, conductor fanout/);
});
