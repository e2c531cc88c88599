// Duplicate, late and out-of-order task updates: no transition happens twice,
// a finished task or run is never brought back. Time moves by the harness
// clock (lease expiry without sleeping).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { TaskStatus, type LeasedTask } from "@baton/protocol";
import pg from "pg";
import { startHarness, type Harness } from "../support/harness.js";
import { mustPoll, poll } from "../support/worker.js";
import { scale } from "./lib/config.js";
import { checkHistory, installAudit } from "./lib/history.js";
import { figures, report } from "./lib/report.js";
import { flowOf } from "../support/flows.js";

let h: Harness;
let db: pg.Client;
let sent = 0;
let appliedTwice = 0;

before(async () => {
  h = await startHarness();
  await installAudit(h.databaseUrl);
  db = new pg.Client({ connectionString: h.databaseUrl });
  await db.connect();
  await h.client.registerTaskDefs(["u_a", "u_b"].map((name) => ({ name, retryCount: 2, retryDelaySeconds: 0, responseTimeoutSeconds: 10, timeoutSeconds: 0 })));
  await h.client.registerWorkflowDef(
    flowOf(
      "two_steps",
      [
        { name: "u_a", taskReferenceName: "a", type: "SIMPLE" },
        { name: "u_b", taskReferenceName: "b", type: "SIMPLE", inputParameters: { fromA: "${a.output.v}" } },
      ],
      { a: "${a.output.v}", b: "${b.output.v}" },
    ),
  );
});

after(async () => {
  const check = await checkHistory(h.databaseUrl, [], undefined);
  report(
    figures("duplicate, late, out-of-order updates", `${sent} updates`, "duplicates, stale leases, late and reordered answers", {
      ...check,
      duplicateTransitions: check.duplicateTransitions + appliedTwice,
    }),
  );
  await db.end();
  await h.close();
  assert.deepEqual(check.violations, []);
});

type Status = "COMPLETED" | "FAILED" | "FAILED_WITH_TERMINAL_ERROR" | "IN_PROGRESS";

/** Sends one update; returns "applied", "ignored" or the gRPC code name of a refusal. */
async function send(task: Pick<LeasedTask, "taskId" | "leaseToken">, status: Status, output: object = {}, callbackAfterSeconds = 0): Promise<string> {
  sent++;
  try {
    const { applied } = await h.client.tasks.updateTask({
      result: {
        taskId: task.taskId,
        leaseToken: task.leaseToken,
        status: TaskStatus[status],
        outputJson: JSON.stringify(output),
        reasonForIncompletion: status === "COMPLETED" ? "" : "test",
        callbackAfterSeconds: BigInt(callbackAfterSeconds),
        workerId: "w",
      },
    });
    return applied ? "applied" : "ignored";
  } catch (error) {
    const code = (error as { code?: number }).code;
    if (code === 9) return "FAILED_PRECONDITION";
    if (code === 3) return "INVALID_ARGUMENT";
    if (code === 5) return "NOT_FOUND";
    throw error;
  }
}

async function taskRows(runId: string) {
  const { rows } = await db.query("SELECT id, ref, status, retry_count, output FROM baton.tasks WHERE run_id = $1 ORDER BY seq", [runId]);
  return rows as { id: string; ref: string; status: string; retry_count: number; output: Record<string, unknown> }[];
}

describe("duplicate and reordered updates", () => {
  it("20 copies of one COMPLETED sent at once: one is applied, the next step is scheduled once", async () => {
    const runId = await h.client.startWorkflow("two_steps", {});
    // No warm-up of the server's definition cache: 20 concurrent events on a cold cache once
    // deadlocked the pool (test/faults/pool.test.ts).
    const a = await mustPoll(h, "u_a");
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => send(a, "COMPLETED", { v: 1 })));
    const applied = outcomes.filter((o) => o === "applied").length;
    if (applied > 1) appliedTwice += applied - 1;
    assert.equal(applied, 1, outcomes.join(","));
    assert.ok(
      outcomes.every((o) => o === "applied" || o === "ignored"),
      outcomes.join(","),
    );
    const rows = await taskRows(runId);
    assert.deepEqual(
      rows.map((r) => [r.ref, r.status]),
      [
        ["a", "COMPLETED"],
        ["b", "SCHEDULED"],
      ],
    );
    await h.client.terminateWorkflow(runId, "test done"); // so the next test polls its own tasks
  });

  it("IN_PROGRESS, FAILED and a different COMPLETED after COMPLETED change nothing", async () => {
    const runId = await h.client.startWorkflow("two_steps", {});
    const a = await mustPoll(h, "u_a");
    assert.equal(await send(a, "COMPLETED", { v: 1 }), "applied");
    for (const status of ["IN_PROGRESS", "FAILED", "FAILED_WITH_TERMINAL_ERROR"] as const) assert.equal(await send(a, status, { v: 9 }), "ignored");
    assert.equal(await send(a, "COMPLETED", { v: 2 }), "ignored");
    const rows = await taskRows(runId);
    assert.deepEqual(
      rows.map((r) => [r.ref, r.status, r.retry_count]),
      [
        ["a", "COMPLETED", 0],
        ["b", "SCHEDULED", 0],
      ],
    );
    assert.deepEqual(rows[0]!.output, { v: 1 });
    await h.client.terminateWorkflow(runId, "test done"); // so the next test polls its own tasks
  });

  it("a stale lease token is refused while the task runs", async () => {
    const runId = await h.client.startWorkflow("two_steps", {});
    const a = await mustPoll(h, "u_a");
    assert.equal(await send({ taskId: a.taskId, leaseToken: "not-the-token" }, "COMPLETED", { v: 7 }), "FAILED_PRECONDITION");
    assert.equal(await send(a, "COMPLETED", { v: 1 }), "applied");
    assert.deepEqual((await taskRows(runId))[0]!.output, { v: 1 });
    await h.client.terminateWorkflow(runId, "test done"); // so the next test polls its own tasks
  });

  it("an answer with the token of before a callback is refused; the next lease's answer counts", async () => {
    const runId = await h.client.startWorkflow("two_steps", {});
    const first = await mustPoll(h, "u_a");
    assert.equal(await send(first, "IN_PROGRESS", { step: 1 }, 30), "applied");
    assert.equal(await send(first, "COMPLETED", { v: 5 }), "FAILED_PRECONDITION");
    assert.equal(await poll(h, "u_a", 0), undefined, "not handed out before its callback time");
    await h.advance(31_000);
    const second = await mustPoll(h, "u_a");
    assert.equal(second.taskId, first.taskId);
    assert.notEqual(second.leaseToken, first.leaseToken);
    assert.equal(await send(second, "COMPLETED", { v: 6 }), "applied");
    assert.equal(await send(first, "COMPLETED", { v: 5 }), "ignored");
    assert.deepEqual((await taskRows(runId))[0]!.output, { v: 6 });
    await h.client.terminateWorkflow(runId, "test done"); // so the next test polls its own tasks
  });

  it("a late answer after the lease ran out is not applied; the new attempt's is", async () => {
    const runId = await h.client.startWorkflow("two_steps", {});
    const a = await mustPoll(h, "u_a");
    await h.advance(11_000);
    assert.equal(await send(a, "COMPLETED", { v: "late" }), "ignored");
    const retry = await mustPoll(h, "u_a");
    assert.notEqual(retry.taskId, a.taskId);
    assert.equal(retry.retryCount, 1);
    assert.equal(await send(retry, "COMPLETED", { v: "retry" }), "applied");
    const b = await mustPoll(h, "u_b");
    assert.equal(await send(b, "COMPLETED", { v: 2 }), "applied");
    const run = await h.client.waitWorkflow(runId, 10_000);
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(run.output, { a: "retry", b: 2 });
  });

  it("no update brings back a finished run or its tasks", async () => {
    const runId = await h.client.startWorkflow("two_steps", {});
    const a = await mustPoll(h, "u_a");
    assert.equal(await send(a, "COMPLETED", { v: 1 }), "applied");
    const b = await mustPoll(h, "u_b");
    assert.equal(await send(b, "COMPLETED", { v: 2 }), "applied");
    const done = await h.client.waitWorkflow(runId, 10_000);
    assert.equal(done.status, "COMPLETED");
    const before = (await db.query("SELECT updated_at, status FROM baton.runs WHERE id = $1", [runId])).rows[0];
    for (const task of [a, b])
      for (const status of ["IN_PROGRESS", "FAILED", "COMPLETED", "FAILED_WITH_TERMINAL_ERROR"] as const) {
        assert.equal(await send(task, status, { v: 99 }, status === "IN_PROGRESS" ? 5 : 0), "ignored");
      }
    await h.advance(60_000);
    const afterRow = (await db.query("SELECT updated_at, status FROM baton.runs WHERE id = $1", [runId])).rows[0];
    assert.deepEqual(afterRow, before);
    assert.equal((await taskRows(runId)).length, 2);
  });

  it("an answer to a task of a terminated run is not applied and does not revive it", async () => {
    const runId = await h.client.startWorkflow("two_steps", {});
    const a = await mustPoll(h, "u_a");
    await h.client.terminateWorkflow(runId, "operator");
    assert.equal(await send(a, "COMPLETED", { v: 1 }), "ignored");
    const run = await h.client.getWorkflow(runId);
    assert.equal(run.status, "TERMINATED");
    assert.deepEqual(
      (await taskRows(runId)).map((r) => r.status),
      ["CANCELED"],
    );
  });

  it("random interleavings of duplicate, stale and reordered answers (property)", async () => {
    const action = fc.record({
      step: fc.constantFrom(0, 1),
      status: fc.constantFrom<Status>("COMPLETED", "COMPLETED", "FAILED", "IN_PROGRESS", "FAILED_WITH_TERMINAL_ERROR"),
      stale: fc.boolean(),
      copies: fc.integer({ min: 1, max: 4 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 8 }), async (actions) => {
        const runId = await h.client.startWorkflow("two_steps", {});
        const tasks: LeasedTask[] = [];
        const appliedTerminal = new Map<string, number>();
        for (const act of actions) {
          // Take whatever step is handed out now (a or b, or a retry).
          const next = (await poll(h, "u_a", 0)) ?? (await poll(h, "u_b", 0));
          if (next) tasks.push(next);
          const target = tasks[Math.min(act.step, tasks.length - 1)];
          if (!target) continue;
          const token = act.stale ? { taskId: target.taskId, leaseToken: "stale" } : target;
          const outcomes = await Promise.all(Array.from({ length: act.copies }, () => send(token, act.status, { v: act.step })));
          for (const o of outcomes) {
            assert.ok(["applied", "ignored", "FAILED_PRECONDITION"].includes(o), o);
            if (o === "applied" && act.status !== "IN_PROGRESS") appliedTerminal.set(target.taskId, (appliedTerminal.get(target.taskId) ?? 0) + 1);
          }
          if (act.stale)
            assert.ok(
              outcomes.every((o) => o !== "applied"),
              "a stale token was applied",
            );
        }
        for (const [id, n] of appliedTerminal) {
          if (n > 1) appliedTwice++;
          assert.ok(n <= 1, `task ${id} took ${n} terminal updates`);
        }
        await h.client.terminateWorkflow(runId, "property done").catch(() => {});
      }),
      { numRuns: scale(15, 200) },
    );
  });
});
