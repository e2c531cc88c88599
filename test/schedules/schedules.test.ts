// Schedules on a real server and PostgreSQL, with the test's clock: fire
// times (intervals, cron with seconds, time zones across daylight saving),
// jitter, start and end dates, the overlap policies, catch-up after downtime,
// operator actions, bad input, and exactly one run per fire time when two
// replicas sweep at once.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BatonClient } from "@baton/client";
import { grpc } from "@baton/protocol";
import { createLogger, startServer } from "@baton/server";
import { startHarness, type Harness } from "../support/harness.js";
import { flowOf } from "../support/flows.js";

let h: Harness;
const T0 = Date.UTC(2030, 0, 1); // the harness clock's start
const MIN = 60_000;

// A flow that waits until signalled or terminated: its run stays RUNNING.
const waitFlow = (name: string) => flowOf(name, [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }], { scheduled: "${workflow.input._scheduledTime}" });

let counter = 0;
/** The first fire time after now of a schedule every minute. */
const nextMinute = () => Math.floor(h.clock.now() / MIN) * MIN + MIN;

async function flow(): Promise<string> {
  const name = `sched_flow_${++counter}`;
  await h.client.registerWorkflowDef(waitFlow(name));
  return name;
}

/** The runs a schedule started, oldest first, with their scheduled times. */
async function runsOf(workflow: string): Promise<{ id: string; status: string; scheduled: number; input: Record<string, unknown> }[]> {
  const page = await h.client.searchWorkflows({ name: workflow, pageSize: 1000 });
  const runs = await Promise.all(page.workflows.map((r) => h.client.getWorkflow(r.workflowId)));
  return runs
    .map((r) => ({ id: r.workflowId, status: r.status, scheduled: Number(r.input["_scheduledTime"]), input: r.input }))
    .sort((a, b) => a.scheduled - b.scheduled);
}

async function code(p: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await p;
  } catch (error) {
    const e = error as { code: number; details: string };
    return { code: e.code, details: e.details };
  }
  assert.fail("expected the call to be refused");
}

before(async () => {
  h = await startHarness();
});
after(() => h.close());

describe("schedules", () => {
  it("fire an interval schedule once per fire time, with the scheduled time in the run's input", async () => {
    const wf = await flow();
    const created = await h.client.createSchedule({ name: "every_minute", intervalSeconds: 60, startWorkflowRequest: { name: wf, input: { region: "eu" } } });
    assert.equal(created.nextFireTime, T0 + MIN);
    await h.advance(30_000);
    assert.equal((await runsOf(wf)).length, 0, "nothing before the first fire time");
    await h.advance(30_000);
    await h.advance(MIN);
    await h.settle();
    const runs = await runsOf(wf);
    assert.deepEqual(
      runs.map((r) => r.scheduled),
      [T0 + MIN, T0 + 2 * MIN],
    );
    assert.equal(runs[0]!.input["region"], "eu");
    assert.equal(runs[0]!.input["_scheduleName"], "every_minute");
    const state = await h.client.getSchedule("every_minute");
    assert.equal(state.nextFireTime, T0 + 3 * MIN);
    assert.equal(state.lastRunId, runs[1]!.id);
    await h.client.deleteSchedule("every_minute");
  });

  it("read cron expressions (with seconds) in their time zone, across daylight saving", async () => {
    const wf = await flow();
    const berlin = { name: "berlin", cronExpression: "30 2 * * *", zoneId: "Europe/Berlin", startWorkflowRequest: { name: wf } };
    // 2030-03-31: 02:30 does not exist in Berlin (clocks jump 02:00 -> 03:00): that day fires once, at the end of the
    // gap (03:00), as cron runs the fixed times the clock skipped when it has jumped.
    const spring = await h.client.previewSchedule(berlin, { count: 3, from: Date.UTC(2030, 2, 29, 12) });
    assert.deepEqual(
      spring.fireTimes.map((t) => new Date(t).toISOString()),
      ["2030-03-30T01:30:00.000Z", "2030-03-31T01:00:00.000Z", "2030-04-01T00:30:00.000Z"],
    );
    // 2030-10-27: 02:30 happens twice (03:00 -> 02:00): it fires once, the first time (as cron does, and Java's zoned times).
    const autumn = await h.client.previewSchedule(berlin, { count: 3, from: Date.UTC(2030, 9, 25, 12) });
    assert.deepEqual(
      autumn.fireTimes.map((t) => new Date(t).toISOString()),
      ["2030-10-26T00:30:00.000Z", "2030-10-27T00:30:00.000Z", "2030-10-28T01:30:00.000Z"],
    );
    // A schedule for every hour (its hour field * or a step) fires in both of the hours the clock shows twice, as cron
    // does: each of them is an hour of real time.
    const hourly = async (zoneId: string, from: number, count: number) =>
      (await h.client.previewSchedule({ ...berlin, name: "hourly", cronExpression: "0 */1 * * *", zoneId }, { count, from })).fireTimes.map((t) =>
        new Date(t).toISOString().slice(11, 16),
      );
    assert.deepEqual(await hourly("Europe/Berlin", Date.UTC(2030, 9, 26, 22, 30), 5), ["23:00", "00:00", "01:00", "02:00", "03:00"]);
    assert.deepEqual(await hourly("America/New_York", Date.UTC(2030, 10, 3, 3, 30), 5), ["04:00", "05:00", "06:00", "07:00", "08:00"]);
    // Taken up in the hour shown twice, the next fire times are those of real time still.
    assert.deepEqual(await hourly("Europe/Berlin", Date.UTC(2030, 9, 27, 0, 30), 3), ["01:00", "02:00", "03:00"]);
    assert.deepEqual(await hourly("Europe/Berlin", Date.UTC(2030, 9, 27, 1, 30), 2), ["02:00", "03:00"]);
    const quarter = await h.client.previewSchedule(
      { ...berlin, name: "quarter", cronExpression: "0 */15 * * * *", zoneId: "Europe/Berlin" },
      { count: 9, from: Date.UTC(2030, 9, 26, 23, 50) },
    );
    assert.deepEqual(
      quarter.fireTimes.map((t) => (t - Date.UTC(2030, 9, 27)) / 60_000),
      [0, 15, 30, 45, 60, 75, 90, 105, 120],
      "every quarter of an hour of real time",
    );
    // A fixed hour in the twice-shown hour fires once, the first time, whichever of the two a search starts in.
    const twoAm = { ...berlin, name: "two", cronExpression: "0 2 * * *" };
    const fromFirst = await h.client.previewSchedule(twoAm, { count: 2, from: Date.UTC(2030, 9, 26, 23, 30) });
    assert.deepEqual(
      fromFirst.fireTimes.map((t) => new Date(t).toISOString()),
      ["2030-10-27T00:00:00.000Z", "2030-10-28T01:00:00.000Z"],
    );
    const fromSecond = await h.client.previewSchedule(twoAm, { count: 1, from: Date.UTC(2030, 9, 27, 0, 30) });
    assert.deepEqual(
      fromSecond.fireTimes.map((t) => new Date(t).toISOString()),
      ["2030-10-28T01:00:00.000Z"],
    );
    // New York, 9:00 on weekdays, seconds field first.
    const ny = await h.client.previewSchedule(
      { ...berlin, name: "ny", cronExpression: "15 0 9 * * MON-FRI", zoneId: "America/New_York" },
      { count: 2, from: Date.UTC(2030, 2, 8) },
    );
    assert.deepEqual(
      ny.fireTimes.map((t) => new Date(t).toISOString()),
      ["2030-03-08T14:00:15.000Z", "2030-03-11T13:00:15.000Z"],
    );
  });

  it("follow cron across daylight saving when the clock moves by half an hour, at midnight, or within the minutes", async () => {
    const wf = await flow();
    const at = async (cronExpression: string, zoneId: string, from: number, count: number) =>
      (await h.client.previewSchedule({ name: "dst", cronExpression, zoneId, startWorkflowRequest: { name: wf } }, { count, from })).fireTimes.map((t) =>
        new Date(t).toISOString().slice(5, 16),
      );
    // Lord Howe, 2030-10-06: 02:00 -> 02:30 (+10:30 -> +11). An hourly schedule has no 02:00 that day, as in cron: it
    // fired at 02:30 too, half an hour before 03:00.
    assert.deepEqual(await at("0 * * * *", "Australia/Lord_Howe", Date.UTC(2030, 9, 5, 13), 4), ["10-05T13:30", "10-05T14:30", "10-05T16:00", "10-05T17:00"]);
    // A fixed time in the gap fires at its end (02:30), not half an hour after it.
    assert.deepEqual(await at("15 2 * * *", "Australia/Lord_Howe", Date.UTC(2030, 9, 5, 12), 2), ["10-05T15:30", "10-06T15:15"]);
    // 2030-04-07: 02:00 -> 01:30. No whole hour is shown twice, so an hourly schedule's 01:00 and 02:00 are 90 minutes
    // apart, as in cron (cronie runs what matches the clock); every quarter of an hour fires in both showings of 01:30-02:00.
    assert.deepEqual(await at("0 * * * *", "Australia/Lord_Howe", Date.UTC(2030, 3, 6, 13, 30), 3), ["04-06T14:00", "04-06T15:30", "04-06T16:30"]);
    assert.deepEqual(await at("*/15 * * * *", "Australia/Lord_Howe", Date.UTC(2030, 3, 6, 14, 40), 5), [
      "04-06T14:45",
      "04-06T15:00",
      "04-06T15:15",
      "04-06T15:30",
      "04-06T15:45",
    ]);
    // Santiago, 2030-09-08: midnight is skipped (24:00 -> 01:00): 00:30 fires at 01:00.
    assert.deepEqual(await at("30 0 * * *", "America/Santiago", Date.UTC(2030, 8, 7, 12), 2), ["09-08T04:00", "09-09T03:30"]);
    // An expression every quarter of hour 2 is not a fixed time (its minutes are a step): in Berlin it fires in both
    // showings of 02:00-03:00 on 2030-10-27, as cron does; before, only in the first.
    assert.deepEqual(await at("*/15 2 * * *", "Europe/Berlin", Date.UTC(2030, 9, 26, 12), 8), [
      "10-27T00:00",
      "10-27T00:15",
      "10-27T00:30",
      "10-27T00:45",
      "10-27T01:00",
      "10-27T01:15",
      "10-27T01:30",
      "10-27T01:45",
    ]);
    // Quartz's `?` (Conductor's schedules use it) is any day: every Monday, and no other day. Before, it stood for the
    // day of the month the server read the expression on.
    const mondays = await at("0 0 12 ? * MON", "UTC", Date.UTC(2030, 0, 1), 10);
    assert.deepEqual(
      mondays.map((t) => new Date(`2030-${t}Z`).getUTCDay()),
      mondays.map(() => 1),
      mondays.join(", "),
    );
    // Quartz's `0/15` (from minute 0, every 15), common in Conductor's schedules, is accepted as croner 9 accepted it.
    assert.deepEqual(await at("0 0/15 * * * ?", "UTC", Date.UTC(2030, 0, 1), 3), ["01-01T00:15", "01-01T00:30", "01-01T00:45"]);
  });

  it("start each run after its jitter, the same delay on every replica, and keep to the start and end dates", async () => {
    const wf = await flow();
    const now = h.clock.now();
    const s = {
      name: "jittered",
      intervalSeconds: 600,
      jitterSeconds: 300,
      scheduleStartTime: now + 600_000,
      scheduleEndTime: now + 1_800_000,
      startWorkflowRequest: { name: wf },
    };
    const preview = await h.client.previewSchedule(s, { count: 10, from: now });
    assert.deepEqual(preview.fireTimes, [now + 600_000, now + 1_200_000, now + 1_800_000], "three fire times between the dates");
    for (const [i, due] of preview.dueTimes.entries()) {
      const fire = preview.fireTimes[i]!;
      assert.ok(due >= fire && due < fire + 300_000, "the delay is within the jitter");
    }
    assert.deepEqual((await h.client.previewSchedule(s, { count: 10, from: now })).dueTimes, preview.dueTimes, "the same delays again");
    await h.client.createSchedule(s);
    const firstDue = preview.dueTimes[0]!;
    if (firstDue > preview.fireTimes[0]!) {
      await h.advance(firstDue - 1 - h.clock.now());
      assert.equal((await runsOf(wf)).length, 0, "not started before its jittered time");
    }
    await h.advance(firstDue - h.clock.now());
    assert.equal((await runsOf(wf)).length, 1);
    for (const due of preview.dueTimes.slice(1)) await h.advance(due - h.clock.now());
    await h.advance(3_600_000);
    assert.deepEqual(
      (await runsOf(wf)).map((r) => r.scheduled),
      preview.fireTimes,
    );
    const state = await h.client.getSchedule("jittered");
    assert.equal(state.nextFireTime, 0, "past its end: nothing more to fire");
  });

  it("overlap SKIP: no run while the previous one runs", async () => {
    const wf = await flow();
    await h.client.createSchedule({ name: "skip", intervalSeconds: 60, overlapPolicy: "SKIP", startWorkflowRequest: { name: wf } });
    const base = nextMinute();
    await h.advance(base - h.clock.now());
    await h.advance(MIN);
    let runs = await runsOf(wf);
    assert.deepEqual(
      runs.map((r) => r.scheduled),
      [base],
      "the second fire was skipped",
    );
    assert.equal((await h.client.getSchedule("skip")).skippedFires, 1);
    await h.client.terminateWorkflow(runs[0]!.id, "done");
    await h.advance(MIN);
    runs = await runsOf(wf);
    assert.deepEqual(
      runs.map((r) => r.scheduled),
      [base, base + 2 * MIN],
    );
    await h.client.deleteSchedule("skip");
  });

  it("overlap BUFFER_ONE: one fire waits for the previous run, later ones are dropped", async () => {
    const wf = await flow();
    await h.client.createSchedule({ name: "buffer", intervalSeconds: 60, overlapPolicy: "BUFFER_ONE", startWorkflowRequest: { name: wf } });
    const base = nextMinute();
    await h.advance(base - h.clock.now());
    await h.advance(MIN);
    await h.advance(MIN);
    let state = await h.client.getSchedule("buffer");
    assert.equal(state.bufferedFireTime, base + MIN);
    assert.equal(state.skippedFires, 1);
    let runs = await runsOf(wf);
    assert.equal(runs.length, 1);
    await h.client.terminateWorkflow(runs[0]!.id, "done");
    await h.settle();
    runs = await runsOf(wf);
    assert.deepEqual(
      runs.map((r) => r.scheduled),
      [base, base + MIN],
      "the buffered fire started once the previous run ended",
    );
    state = await h.client.getSchedule("buffer");
    assert.equal(state.bufferedFireTime, 0);
    await h.client.deleteSchedule("buffer");
  });

  it("overlap TERMINATE_PREVIOUS ends the previous run; ALLOW_ALL lets them run together", async () => {
    const wf = await flow();
    const wf2 = await flow();
    await h.client.createSchedule({ name: "terminate", intervalSeconds: 60, overlapPolicy: "TERMINATE_PREVIOUS", startWorkflowRequest: { name: wf } });
    await h.client.createSchedule({ name: "all", intervalSeconds: 60, startWorkflowRequest: { name: wf2 } });
    const base = nextMinute();
    await h.advance(base - h.clock.now());
    await h.advance(MIN);
    const runs = await runsOf(wf);
    assert.deepEqual(
      runs.map((r) => [r.scheduled, r.status]),
      [
        [base, "TERMINATED"],
        [base + MIN, "RUNNING"],
      ],
    );
    const all = await runsOf(wf2);
    assert.deepEqual(
      all.map((r) => [r.scheduled, r.status]),
      [
        [base, "RUNNING"],
        [base + MIN, "RUNNING"],
      ],
    );
    await h.client.deleteSchedule("terminate");
    await h.client.deleteSchedule("all");
  });

  it("after downtime, skip missed fire times, or fire those within the catch-up window", async () => {
    const wf = await flow();
    const wf2 = await flow();
    await h.client.createSchedule({ name: "no_catchup", intervalSeconds: 60, startWorkflowRequest: { name: wf } });
    await h.client.createSchedule({
      name: "catchup",
      intervalSeconds: 60,
      runCatchupScheduleInstances: true,
      catchupWindowSeconds: 300,
      startWorkflowRequest: { name: wf2 },
    });
    const base = Math.ceil((h.clock.now() + 1) / MIN) * MIN; // both schedules' first fire time
    // Ten minutes pass with no sweep (as if every server were down), then one sweep.
    h.clock.set(base + 9 * MIN);
    await h.settle();
    await h.settle();
    assert.deepEqual(
      (await runsOf(wf)).map((r) => r.scheduled),
      [base + 8 * MIN, base + 9 * MIN],
      "only fires late by at most a minute",
    );
    assert.equal((await h.client.getSchedule("no_catchup")).skippedFires, 8);
    assert.deepEqual(
      (await runsOf(wf2)).map((r) => r.scheduled),
      [4, 5, 6, 7, 8, 9].map((k) => base + k * MIN),
      "fires within the five-minute window",
    );
    assert.equal((await h.client.getSchedule("catchup")).skippedFires, 4);
    await h.client.deleteSchedule("no_catchup");
    await h.client.deleteSchedule("catchup");
  });

  it("pause, resume, trigger now and backfill", async () => {
    const wf = await flow();
    await h.client.createSchedule({ name: "ops", intervalSeconds: 60, startWorkflowRequest: { name: wf } });
    const paused = await h.client.pauseSchedule("ops");
    assert.equal(paused.paused, true);
    await h.advance(5 * MIN);
    assert.equal((await runsOf(wf)).length, 0, "a paused schedule fires nothing");
    const resumed = await h.client.resumeSchedule("ops");
    assert.equal(resumed.paused, false);
    assert.ok(resumed.nextFireTime > h.clock.now(), "resumes from the next fire time after now");
    const triggered = await h.client.triggerSchedule("ops");
    assert.equal(triggered.fireTime, h.clock.now());
    const from = Math.floor(h.clock.now() / MIN) * MIN - 10 * MIN;
    const first = await h.client.backfillSchedule("ops", from, from + 3 * MIN);
    assert.equal(first.runIds.length, 3);
    const again = await h.client.backfillSchedule("ops", from, from + 4 * MIN);
    assert.deepEqual([again.runIds.length, again.existing], [1, 3], "a fire time with a run is not started again");
    const scheduled = (await runsOf(wf)).map((r) => r.scheduled);
    assert.deepEqual(scheduled, [from, from + MIN, from + 2 * MIN, from + 3 * MIN, triggered.fireTime]);
    await h.client.deleteSchedule("ops");
    assert.equal((await code(h.client.getSchedule("ops"))).code, grpc.status.NOT_FOUND);
  });

  it("update: identical content changes nothing; new content moves the next fire time", async () => {
    const wf = await flow();
    const s = { name: "upd", intervalSeconds: 60, startWorkflowRequest: { name: wf } };
    const first = await h.client.updateSchedule(s, { allowMissing: true });
    assert.deepEqual([first.created, first.changed], [true, true]);
    const same = await h.client.updateSchedule(s);
    assert.deepEqual([same.created, same.changed, same.schedule.updateTime], [false, false, first.schedule.updateTime]);
    const changed = await h.client.updateSchedule({ ...s, intervalSeconds: 3600 });
    assert.equal(changed.changed, true);
    assert.equal(changed.schedule.nextFireTime, Math.floor(h.clock.now() / 3_600_000) * 3_600_000 + 3_600_000);
    assert.equal((await code(h.client.createSchedule(s))).code, grpc.status.ALREADY_EXISTS);
    assert.equal((await code(h.client.updateSchedule({ ...s, name: "missing" }))).code, grpc.status.NOT_FOUND);
    assert.deepEqual(
      (await h.client.listSchedules(wf)).map((x) => x.schedule["name"]),
      ["upd"],
    );
    await h.client.deleteSchedule("upd");
  });

  it("refuse bad input with the field named, storing nothing", async () => {
    const wf = await flow();
    // A workflow that requires an input: a schedule without it would have every fire refused, counted as skipped.
    const needsDay = `${wf}_needs_day`;
    await h.client.registerWorkflowDef({
      ...waitFlow(needsDay),
      inputSchema: { name: "needs_day", type: "JSON", version: 1, data: { type: "object", required: ["day"] } },
    });
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ name: "bad1", cronExpression: "61 * * * *", startWorkflowRequest: { name: wf } }, /\/cronExpression: invalid cron expression/],
      [{ name: "bad2", cronExpression: "every day", startWorkflowRequest: { name: wf } }, /\/cronExpression/],
      [
        { name: "bad3", cronExpression: "0 * * * *", zoneId: "Mars/Olympus", startWorkflowRequest: { name: wf } },
        /\/zoneId: unknown time zone "Mars\/Olympus"/,
      ],
      [{ name: "bad4", intervalSeconds: 60, startWorkflowRequest: { name: "no_such_flow" } }, /\/startWorkflowRequest\/name: no workflow "no_such_flow"/],
      [{ name: "bad5", intervalSeconds: 0, startWorkflowRequest: { name: wf } }, /\/intervalSeconds/],
      [{ name: "bad6", intervalSeconds: 60, overlapPolicy: "SOMETIMES", startWorkflowRequest: { name: wf } }, /\/overlapPolicy/],
      [{ name: "bad7", startWorkflowRequest: { name: wf } }, /cronExpression or intervalSeconds/],
      [{ name: "bad8", intervalSeconds: 60, scheduleStartTime: 10, scheduleEndTime: 5, startWorkflowRequest: { name: wf } }, /\/scheduleEndTime/],
      // A field the schedule does not read would be dropped in silence: this one would fire in UTC.
      [
        { name: "bad9", cronExpression: "0 2 * * *", timeZone: "Europe/Paris", startWorkflowRequest: { name: wf } },
        /\/timeZone: unknown field; did you mean zoneId\?/,
      ],
      [
        { name: "bad10", intervalSeconds: 60, startWorkflowRequest: { name: wf, inputs: { a: 1 } } },
        /\/startWorkflowRequest\/inputs: unknown field; did you mean input\?/,
      ],
      [
        { name: "bad11", intervalSeconds: 60, startWorkflowRequest: { name: needsDay, input: { region: "eu" } } },
        /\/startWorkflowRequest\/input: .* refused the input: missing required input: day/,
      ],
    ];
    for (const [s, message] of cases) {
      const refused = await code(h.client.createSchedule(s));
      assert.equal(refused.code, grpc.status.INVALID_ARGUMENT, String(s["name"]));
      assert.match(refused.details, message);
      assert.equal((await code(h.client.getSchedule(String(s["name"])))).code, grpc.status.NOT_FOUND, "nothing stored");
    }
    // An editor's JSON Schema reference is no field of the schedule's: kept, as a workflow's unknown fields are.
    await h.client.createSchedule({ $schema: "./schedule.schema.json", name: "with_schema", intervalSeconds: 60, startWorkflowRequest: { name: wf } });
    await h.client.deleteSchedule("with_schema");
  });

  it("start exactly one run per fire time when two replicas sweep together", async () => {
    const wf = await flow();
    // A second replica on the same database and the same clock: both sweep on every move.
    const other = await startServer({ databaseUrl: h.databaseUrl, port: 0, clock: h.clock, logger: createLogger("silent") });
    const otherClient = new BatonClient({ address: other.address });
    try {
      await h.client.createSchedule({ name: "replicated", cronExpression: "*/10 * * * * *", startWorkflowRequest: { name: wf } });
      const start = h.clock.now();
      for (let i = 0; i < 30; i++) {
        h.clock.advance(10_000);
        await Promise.all([h.server.settle(), other.settle(), h.server.settle(), other.settle()]);
      }
      const runs = await runsOf(wf);
      const expected = Array.from({ length: 30 }, (_, i) => Math.floor(start / 10_000) * 10_000 + (i + 1) * 10_000);
      assert.deepEqual(
        runs.map((r) => r.scheduled),
        expected,
        "every fire time once, none twice",
      );
      assert.equal(new Set(runs.map((r) => r.id)).size, 30);
      await otherClient.deleteSchedule("replicated");
    } finally {
      otherClient.close();
      await other.close();
    }
  });
});
