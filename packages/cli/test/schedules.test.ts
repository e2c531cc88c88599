// baton schedules and baton runs purge against a real server: schedules in
// JSON and in TypeScript (schedule(...) beside a flow) published with the
// flows and changed only when their content changes; the operator commands
// with -o json; bad schedules refused locally with the file and field.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { json, removeDir, startTestServer, tempProject, writeFile, type TestServer } from "./support.js";

const pretty = (v: unknown) => JSON.stringify(v, null, 2) + "\n";

const REPORT_TS = `import { schedule, taskType, workflow } from "@baton/sdk";

const build = taskType<{ day: string }, { url: string }>("cli_sched_build", { retryCount: 0, responseTimeoutSeconds: 60 });

export const report = workflow("cli_sched_report", { description: "nightly report" })
  .input<{ day: string }>("day")
  .steps((wf) => {
    const b = build.step("build", { day: wf.input.day });
    return { url: b.output.url };
  });

export const nightly = schedule("cli_nightly", report, {
  cronExpression: "0 30 2 * * *",
  timeZone: "Europe/Paris",
  overlapPolicy: "SKIP",
  input: { day: "yesterday" },
});
`;

const hourly = (interval: number) => ({
  name: "cli_hourly",
  intervalSeconds: interval,
  startWorkflowRequest: { name: "cli_sched_report", input: { day: "today" } },
});

describe("baton schedules", () => {
  let s: TestServer;
  let dir: string;

  before(async () => {
    s = await startTestServer();
    dir = tempProject({ "flows/report.ts": REPORT_TS, "flows/hourly.json": pretty(hourly(3600)) });
  });

  after(async () => {
    await s?.close();
    if (dir) removeDir(dir);
  });

  test("publish registers TypeScript and JSON schedules with the flows, then leaves them unchanged", async () => {
    const first = await s.cli(["publish", path.join(dir, "flows")], { cwd: dir });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^cli_sched_report: registered version 1$/m);
    assert.match(first.stdout, /^schedule cli_nightly: created$/m);
    assert.match(first.stdout, /^schedule cli_hourly: created$/m);

    const again = await s.cli(["publish", path.join(dir, "flows"), "-o", "json"], { cwd: dir });
    assert.equal(again.code, 0, again.stderr);
    const out = json<{ schedules: { name: string; status: string }[] }>(again.stdout);
    assert.deepEqual(out.schedules.map((x) => [x.name, x.status]).sort(), [
      ["cli_hourly", "unchanged"],
      ["cli_nightly", "unchanged"],
    ]);

    writeFile(dir, "flows/hourly.json", pretty(hourly(1800)));
    const dry = await s.cli(["publish", "--dry-run", "--exit-code", path.join(dir, "flows")], { cwd: dir });
    assert.equal(dry.code, 3, dry.stderr);
    assert.match(dry.stdout, /^schedule cli_hourly: changed$/m);
    const changed = await s.cli(["publish", path.join(dir, "flows")], { cwd: dir });
    assert.match(changed.stdout, /^schedule cli_hourly: updated$/m);
    assert.match(changed.stdout, /^schedule cli_nightly: unchanged$/m);

    const got = json<{ schedule: Record<string, unknown>; paused: boolean }>((await s.cli(["schedules", "get", "cli_nightly", "-o", "json"])).stdout);
    assert.equal(got.schedule["zoneId"], "Europe/Paris");
    assert.deepEqual(got.schedule["startWorkflowRequest"], { name: "cli_sched_report", input: { day: "yesterday" } });
  });

  test("list, pause, resume, preview, trigger and backfill, with -o json", async () => {
    const list = json<{ schedule: { name: string } }[]>((await s.cli(["schedules", "-o", "json"])).stdout);
    assert.deepEqual(
      list.map((x) => x.schedule.name),
      ["cli_hourly", "cli_nightly"],
    );
    const text = await s.cli(["schedules"]);
    assert.match(text.stdout, /^cli_nightly\s+cli_sched_report\s+0 30 2 \* \* \* \(Europe\/Paris\)\s+active/m);

    const paused = json<{ paused: boolean; nextFireTime: number }>((await s.cli(["schedules", "pause", "cli_hourly", "-o", "json"])).stdout);
    assert.deepEqual([paused.paused, paused.nextFireTime], [true, 0]);
    const resumed = await s.cli(["schedules", "resume", "cli_hourly"]);
    assert.match(resumed.stdout, /^schedule cli_hourly: active, next fire /m);

    const preview = json<{ fireTime: string }[]>(
      (await s.cli(["schedules", "preview", "cli_nightly", "-n", "2", "--from", "2030-07-01T00:00:00Z", "-o", "json"])).stdout,
    );
    assert.deepEqual(
      preview.map((p) => p.fireTime),
      ["2030-07-01T00:30:00.000Z", "2030-07-02T00:30:00.000Z"],
      "02:30 in Paris in summer is 00:30 UTC",
    );

    const triggered = json<{ runId: string }>((await s.cli(["schedules", "trigger", "cli_nightly", "-o", "json"])).stdout);
    const run = json<{ input: Record<string, unknown> }>((await s.cli(["get", triggered.runId, "-o", "json"])).stdout);
    assert.equal(run.input["day"], "yesterday");
    assert.equal(typeof run.input["_scheduledTime"], "number");

    const backfill = json<{ runIds: string[]; existing: number }>(
      (await s.cli(["schedules", "backfill", "cli_hourly", "--from", "2026-01-01T00:00:00Z", "--to", "2026-01-01T02:00:00Z", "-o", "json"])).stdout,
    );
    assert.deepEqual([backfill.runIds.length, backfill.existing], [4, 0], "every half hour in two hours");
    const twice = await s.cli(["schedules", "backfill", "cli_hourly", "--from", "2026-01-01T00:00:00Z", "--to", "2026-01-01T02:00:00Z"]);
    assert.match(twice.stdout, /started 0 runs; 4 fire times had one already/);

    const dry = await s.cli(["runs", "purge", "--before", "now", "--workflow", "cli_sched_report", "--dry-run", "-o", "json"]);
    const purged = json<{ runs: number; dryRun: boolean }>(dry.stdout);
    assert.deepEqual([purged.runs, purged.dryRun], [0, true], "nothing ended yet");
    assert.doesNotMatch(dry.stderr, /warning/, "a registered workflow with nothing to purge is no typo");
    const typo = await s.cli(["runs", "purge", "--before", "now", "--workflow", "cli_sched_reprot", "--dry-run"]);
    assert.equal(typo.code, 0, typo.stderr);
    assert.match(typo.stderr, /^warning: no workflow "cli_sched_reprot" is registered: check the name/m);
    for (const id of [triggered.runId, ...backfill.runIds]) await s.cli(["terminate", id]);
    // A bare duration is that long ago, as in the help: runs that ended a moment ago are not 30 days old.
    const monthOld = json<{ runs: number; before: string }>(
      (await s.cli(["runs", "purge", "--before", "30d", "--workflow", "cli_sched_report", "--dry-run", "-o", "json"])).stdout,
    );
    assert.equal(monthOld.runs, 0, `--before 30d counted runs that ended before ${monthOld.before}`);
    assert.ok(Date.parse(monthOld.before) < Date.now() - 29 * 86_400_000, monthOld.before);
    const removed = await s.cli(["runs", "purge", "--before", "+1m", "--workflow", "cli_sched_report", "--yes"]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /^removed 5 runs \(5 tasks\) ended before /m);

    const deleted = await s.cli(["schedules", "delete", "cli_hourly"]);
    assert.match(deleted.stdout, /schedule cli_hourly: deleted/);
    const gone = await s.cli(["schedules", "get", "cli_hourly"]);
    assert.equal(gone.code, 1);
  });

  test("a bad schedule is refused locally with its file and field; nothing is sent", async () => {
    const bad = tempProject({
      "bad.json": pretty({ ...hourly(60), name: "cli_bad", intervalSeconds: undefined, cronExpression: "0 0 * * * * * *", zoneId: "Nowhere/City" }),
    });
    try {
      const r = await s.cli(["schedules", "put", path.join(bad, "bad.json")], { cwd: bad });
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /bad\.json: \/cronExpression: invalid cron expression/);
      assert.match(r.stderr, /bad\.json: \/zoneId: unknown time zone "Nowhere\/City"/);
      const published = await s.cli(["publish", path.join(bad, "bad.json")], { cwd: bad });
      assert.equal(published.code, 4);
      assert.equal((await s.cli(["schedules", "get", "cli_bad"])).code, 1, "nothing stored");
    } finally {
      removeDir(bad);
    }
  });

  test("preview of a file holding several schedules names them rather than showing the first's fire times as the file's", async () => {
    const two = tempProject({ "two.json": pretty([hourly(3600), { ...hourly(60), name: "cli_minutely" }]) });
    try {
      const r = await s.cli(["schedules", "preview", path.join(two, "two.json")], { cwd: two });
      assert.equal(r.code, 2, r.stdout);
      assert.match(r.stderr, /two\.json holds 2 schedules \(cli_hourly, cli_minutely\): preview one at a time/);
    } finally {
      removeDir(two);
    }
  });
});
