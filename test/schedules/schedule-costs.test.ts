// What a schedule costs the server: cron computations are bounded and served
// in slices (after downtime, in a backfill), a cron that matches no date is
// refused, and one schedule whose firing fails does not hold back the others.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Cron } from "croner";
import pg from "pg";
import { grpc } from "@baton/protocol";
import { startHarness, type Harness } from "../support/harness.js";
import { flowOf } from "../support/flows.js";
import { countTurns } from "../support/turns.js";

let h: Harness;
const DAY = 86_400_000;

before(async () => {
  h = await startHarness();
  await h.client.registerWorkflowDef(flowOf("costs_flow", [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }]));
});
after(() => h.close());

/** Counts croner's fire-time computations while `fn` runs, and the most made in one turn of the event loop. */
async function cronWork<T>(fn: () => Promise<T>): Promise<{ value: T; calls: number; mostInOneTurn: number }> {
  const { nextRun } = Cron.prototype;
  let calls = 0;
  let inTurn = 0;
  let mostInOneTurn = 0;
  let counting = true;
  const tick = () => {
    inTurn = 0;
    if (counting) setImmediate(tick);
  };
  setImmediate(tick);
  Cron.prototype.nextRun = function (this: Cron, ...args: Parameters<Cron["nextRun"]>) {
    calls++;
    mostInOneTurn = Math.max(mostInOneTurn, ++inTurn);
    return nextRun.apply(this, args);
  };
  try {
    const value = await fn();
    return { value, calls, mostInOneTurn };
  } finally {
    Cron.prototype.nextRun = nextRun;
    counting = false;
  }
}

describe("schedule costs", () => {
  it("after a day's downtime, skips what a per-second schedule missed with a bounded count of cron computations", async () => {
    // Before, each missed fire time cost one cron computation, up to 100,000, all in one turn: the server answered
    // nothing for 41.8 s after this jump.
    await h.client.createSchedule({ name: "every_second_cron", cronExpression: "* * * * * *", startWorkflowRequest: { name: "costs_flow" } });
    await h.client.createSchedule({ name: "every_second_interval", intervalSeconds: 1, startWorkflowRequest: { name: "costs_flow" } });
    const work = await cronWork(async () => {
      h.clock.set(h.clock.now() + DAY);
      await h.settle();
    });
    assert.ok(work.calls <= 3_000, `cron computations for a day missed: ${work.calls}`);
    assert.ok(work.mostInOneTurn < 1_000, `at most ${work.mostInOneTurn} in one turn`);
    // An interval's misses are worked out past the counted ones: the fires of the day, but the last minute's.
    assert.equal((await h.client.getSchedule("every_second_interval")).skippedFires, (DAY - 60_000 - 1_000) / 1_000);
    const cron = await h.client.getSchedule("every_second_cron");
    assert.ok(cron.skippedFires >= 1_000, `a cron schedule's count is at least what was counted: ${cron.skippedFires}`);
    assert.ok(cron.lastFireTime > h.clock.now() - 60_000, "the last minute's fire times were started");
    await h.client.deleteSchedule("every_second_cron");
    await h.client.deleteSchedule("every_second_interval");
  });

  it("computes a backfill's fire times in slices, and refuses a range over the limit before starting anything", async () => {
    await h.client.registerWorkflowDef(flowOf("backfill_flow", [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }]));
    await h.client.createSchedule({ name: "wide_backfill", cronExpression: "* * * * * *", startWorkflowRequest: { name: "backfill_flow" } });
    const now = h.clock.now();
    const work = await cronWork(() =>
      h.client.backfillSchedule("wide_backfill", now - DAY, now).then(
        () => assert.fail("a day of per-second fire times is over the backfill limit"),
        (e: { code: number; details: string }) => e,
      ),
    );
    assert.equal(work.value.code, grpc.status.INVALID_ARGUMENT);
    assert.match(work.value.details, /more than 10000 fire times; backfill a shorter range/);
    assert.ok(work.calls > 10_000, `the range was looked at: ${work.calls}`);
    assert.ok(work.mostInOneTurn < 10_000, `calls were served between slices: at most ${work.mostInOneTurn} in one turn`);
    assert.equal((await h.client.searchWorkflows({ name: "backfill_flow" })).workflows.length, 0, "nothing was started");
    await h.client.deleteSchedule("wide_backfill");
  });

  it("finds a schedule's fire times without serializing its start request", async () => {
    // Before, the fire-time cache was keyed by the schedule's canonical JSON: a 3.4 MB input cost 200-650 ms of
    // the serving thread (key-sorted copy and text) on every sweep and every read of the schedule.
    const input = { rows: Array.from({ length: 20_000 }, (_, i) => ({ id: i, note: "x".repeat(40) })) };
    await h.client.createSchedule({ name: "large_input", cronExpression: "0 * * * *", startWorkflowRequest: { name: "costs_flow", input } });
    const { fromEntries } = Object;
    let copies = 0;
    Object.fromEntries = ((entries: Iterable<readonly [PropertyKey, unknown]>) => (copies++, fromEntries(entries))) as typeof Object.fromEntries;
    try {
      for (let i = 0; i < 3; i++) await h.client.getSchedule("large_input");
    } finally {
      Object.fromEntries = fromEntries;
    }
    assert.ok(copies < 1_000, `objects copied while reading the schedule 3 times: ${copies}`);
    await h.client.deleteSchedule("large_input");
  });

  it("refuses a cron expression that matches no date, naming the field", async () => {
    for (const cronExpression of ["0 0 31 4,6,9,11 *", "0 0 30 2 *"]) {
      const refused = await h.client.createSchedule({ name: "never", cronExpression, startWorkflowRequest: { name: "costs_flow" } }).then(
        () => assert.fail(`${cronExpression} was accepted`),
        (e: { code: number; details: string }) => e,
      );
      assert.equal(refused.code, grpc.status.INVALID_ARGUMENT);
      assert.match(refused.details, /\/cronExpression: cron expression ".*" matches no date/);
    }
    await assert.rejects(h.client.getSchedule("never"), (e: { code: number }) => e.code === grpc.status.NOT_FOUND);
  });

  it("refuses a cron expression longer than 1,000 characters, naming the field", async () => {
    // Before, a list of 1,000,000 minutes (2.8 MB) was parsed on the serving thread and stored: 0.6 s for three.
    const minutes = Array.from({ length: 500 }, (_, i) => i % 60).join(",");
    const refused = await h.client
      .createSchedule({ name: "long_cron", cronExpression: `${minutes} * * * *`, startWorkflowRequest: { name: "costs_flow" } })
      .then(
        () => assert.fail("a cron expression of 1,417 characters was accepted"),
        (e: { code: number; details: string }) => e,
      );
    assert.equal(refused.code, grpc.status.INVALID_ARGUMENT);
    assert.match(refused.details, /\/cronExpression: cronExpression is 1417 characters long, over the 1000 a cron expression may have/);
    await assert.rejects(h.client.getSchedule("long_cron"), (e: { code: number }) => e.code === grpc.status.NOT_FOUND);
  });

  it("fires the others when one schedule's firing fails, and tries the failed one again later", async () => {
    for (const name of ["sound_a", "broken", "sound_b"]) {
      await h.client.createSchedule({ name, intervalSeconds: 60, startWorkflowRequest: { name: "costs_flow", input: { from: name } } });
    }
    // A row no server of this version would write (as an older one might have): firing it throws.
    const db = new pg.Client({ connectionString: h.databaseUrl });
    await db.connect();
    try {
      await db.query(`UPDATE baton.schedules SET body = jsonb_set(body, '{startWorkflowRequest}', 'null') WHERE name = 'broken'`);
      const due = Number((await db.query("SELECT due_at FROM baton.schedules WHERE name = 'broken'")).rows[0].due_at);
      h.clock.set(due);
      await h.settle();
      for (const name of ["sound_a", "sound_b"]) assert.equal((await h.client.getSchedule(name)).lastFireTime, due, `${name} fired`);
      const broken = (await db.query("SELECT due_at, last_fire_at FROM baton.schedules WHERE name = 'broken'")).rows[0];
      assert.equal(Number(broken.last_fire_at), 0, "the broken schedule fired nothing");
      assert.equal(Number(broken.due_at), due + 10_000, "and is looked at again in 10 s");
    } finally {
      await db.end();
    }
    for (const name of ["sound_a", "broken", "sound_b"]) await h.client.deleteSchedule(name);
  });

  it("reads a large schedule's text in turns of the event loop after the one its request was decoded in", async () => {
    // The start's input is the large part: 20,000 small objects, about 600 KB.
    const input = { rows: Array.from({ length: 20_000 }, (_, i) => ({ id: i, label: `row ${i}` })) };
    const schedule = { name: "large_input", intervalSeconds: 3600, startWorkflowRequest: { name: "costs_flow", input } };
    const min = JSON.stringify(input).length;
    const { decode } = TextDecoder.prototype;
    const { parse } = JSON;
    const turns = countTurns();
    const decoded: number[] = [];
    const parsed: number[] = [];
    TextDecoder.prototype.decode = function (...args: Parameters<typeof decode>) {
      if (args[0] && args[0].byteLength >= min) decoded.push(turns.now);
      return decode.apply(this, args);
    };
    JSON.parse = ((text: string, reviver?: Parameters<typeof parse>[1]) => {
      if (typeof text === "string" && text.length >= min) parsed.push(turns.now);
      return parse(text, reviver);
    }) as typeof JSON.parse;
    try {
      await h.client.createSchedule(schedule);
    } finally {
      [TextDecoder.prototype.decode, JSON.parse] = [decode, parse];
      turns.stop();
    }
    // This thread is the client's too: the first of each is the server's (the request's decode, its text's parse), then the answer's.
    assert.ok(decoded.length >= 1 && parsed.length >= 1, `decoded ${decoded.length} times, parsed ${parsed.length} times`);
    assert.ok(parsed[0]! > decoded[0]!, `parsed in turn ${parsed[0]}, decoded in turn ${decoded[0]}`);
    const stored = await h.client.getSchedule("large_input");
    assert.deepEqual((stored.schedule as { startWorkflowRequest: { input: unknown } }).startWorkflowRequest.input, input);
    await h.client.deleteSchedule("large_input");
  });
});
