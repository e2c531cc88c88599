// Smoke check of `npm run bench`: the quick bench with tiny counts and no
// peers produces a report with every Baton scenario in it. No timing is
// asserted — the figures of a run this small on a shared machine mean nothing.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { SCENARIOS } from "./lib/types.js";
import type { Report } from "./lib/report.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const out = mkdtempSync(path.join(tmpdir(), "baton-bench-smoke-"));
after(() => rmSync(out, { recursive: true, force: true }));

/** Each scenario's own time (--timeout below); the bench gives backlog twice that and polyglot three times (scenarios/baton.ts). */
const SCENARIO_S = 240;
/**
 * Only a hang reaches this: every scenario using all its time, plus two
 * minutes each to start and stop its server. The bench cuts a scenario short
 * at its own deadline, however busy the machine.
 */
const HANG_MS = ((SCENARIOS.length + 1 + 2) * SCENARIO_S + SCENARIOS.length * 120) * 1000;

test("the quick bench writes a report with every Baton scenario", { timeout: HANG_MS }, async () => {
  const args = [
    "--import",
    "tsx",
    "test/bench/run.ts",
    "--quick",
    "--no-peers",
    "--scale",
    "0.02",
    "--backlog-scale",
    "0.0001",
    "--timeout",
    String(SCENARIO_S),
    "--out",
    out,
  ];
  const shared = process.env["BATON_TEST_DATABASE_URL"];
  if (shared) args.push("--database-url", shared);
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
    let output = "";
    const child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("close", (code) => resolve({ code, output }));
  });
  let report: Report;
  try {
    report = JSON.parse(readFileSync(path.join(out, "report.json"), "utf8")) as Report;
  } catch {
    assert.fail(`no report (exit ${code}): ${output.slice(-4000)}`);
  }
  const failures = report.results.filter((r) => r.status === "failed").map((r) => `${r.system} ${r.scenario}: ${r.reason}`);
  assert.equal(code, 0, `exit ${code}; failed: ${failures.join("; ")}\n${output.slice(-2000)}`);
  for (const scenario of SCENARIOS) {
    const result = report.results.find((r) => r.system === "baton" && r.scenario === scenario);
    assert.ok(result, `no result for ${scenario}`);
    // polyglot belongs to another suite and may be absent; everything else must have run.
    if (scenario !== "polyglot") assert.notEqual(result.status, "failed", `${scenario}: ${result.reason}`);
  }
  assert.equal(report.postgres["synchronous_commit"], "on");
  assert.match(readFileSync(path.join(out, "chart.svg"), "utf8"), /^<svg /);
  assert.match(output, /throughput: task completions\/s/);
});
