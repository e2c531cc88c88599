// The history checker: what the fault tests assert after the dust settles.
// It reads the stored rows (baton.runs, baton.tasks), a transition log that
// triggers of the test's own write into the test database (every status change
// of every task and run, in commit order), and the workers' ledger of what the
// server acknowledged.
import pg from "pg";
import { isDeepStrictEqual } from "node:util";
import type { Planned } from "./flows.js";
import { outputOf, type Ledger } from "./workers.js";

const TERMINAL_TASK = new Set(["COMPLETED", "FAILED", "FAILED_WITH_TERMINAL_ERROR", "TIMED_OUT", "CANCELED", "SKIPPED", "COMPLETED_WITH_ERRORS"]);
const SUCCESS = new Set(["COMPLETED", "COMPLETED_WITH_ERRORS", "SKIPPED"]);
const TERMINAL_RUN = new Set(["COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED"]);

/** Installs the transition log (idempotent). Call once the server has migrated the schema. */
export async function installAudit(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`
      CREATE SCHEMA IF NOT EXISTS baton_faults;
      CREATE TABLE IF NOT EXISTS baton_faults.transitions (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        kind text NOT NULL,
        row_id uuid NOT NULL,
        run_id uuid NOT NULL,
        old_status text,
        new_status text NOT NULL,
        lease_token text,
        at timestamptz NOT NULL DEFAULT clock_timestamp()
      );
      CREATE OR REPLACE FUNCTION baton_faults.task_transition() RETURNS trigger AS $$
      BEGIN
        IF TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM NEW.status OR OLD.lease_token IS DISTINCT FROM NEW.lease_token THEN
          INSERT INTO baton_faults.transitions (kind, row_id, run_id, old_status, new_status, lease_token)
          VALUES ('task', NEW.id, NEW.run_id, CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.status END, NEW.status, NEW.lease_token);
        END IF;
        RETURN NULL;
      END $$ LANGUAGE plpgsql;
      CREATE OR REPLACE FUNCTION baton_faults.run_transition() RETURNS trigger AS $$
      BEGIN
        IF TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM NEW.status THEN
          INSERT INTO baton_faults.transitions (kind, row_id, run_id, old_status, new_status)
          VALUES ('run', NEW.id, NEW.id, CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.status END, NEW.status);
        END IF;
        RETURN NULL;
      END $$ LANGUAGE plpgsql;
      DROP TRIGGER IF EXISTS faults_task_transition ON baton.tasks;
      CREATE TRIGGER faults_task_transition AFTER INSERT OR UPDATE ON baton.tasks FOR EACH ROW EXECUTE FUNCTION baton_faults.task_transition();
      DROP TRIGGER IF EXISTS faults_run_transition ON baton.runs;
      CREATE TRIGGER faults_run_transition AFTER INSERT OR UPDATE ON baton.runs FOR EACH ROW EXECUTE FUNCTION baton_faults.run_transition();
    `);
  } finally {
    await client.end();
  }
}

export interface Figures {
  test: string;
  load: string;
  faults: string;
  runsLost: number;
  stuck: number;
  duplicateTransitions: number;
  redeliveries: number;
  /** Anything else worth printing (latencies, memory, ...). */
  notes?: Record<string, unknown>;
}

export interface CheckResult {
  violations: string[];
  runsLost: number;
  wrongEnd: number;
  stuck: number;
  duplicateTransitions: number;
  redeliveries: number;
  acknowledgedUpdates: number;
  taskRows: number;
}

interface TaskRow {
  id: string;
  run_id: string;
  ref: string;
  type: string;
  seq: number;
  status: string;
  retry_count: number;
  retried_task_id: string;
  retried: boolean;
  poll_count: number;
  started_at: string;
  ended_at: string;
  scheduled_at: string;
  response_timeout_seconds: number;
  reason: string;
  output: unknown;
  sub_workflow_id: string;
}

/** Waits until every planned run has ended (or `timeoutMs` passes); returns the keys still open. */
export async function waitForEnd(databaseUrl: string, keys: string[], timeoutMs: number): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { rows } = await client.query(
        `SELECT k FROM unnest($1::text[]) k LEFT JOIN baton.runs r ON r.idempotency_key = k
         WHERE r.id IS NULL OR r.status NOT IN ('COMPLETED','FAILED','TIMED_OUT','TERMINATED')`,
        [keys],
      );
      if (rows.length === 0 || Date.now() > deadline) return rows.map((r) => r.k as string);
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await client.end();
  }
}

export async function checkHistory(databaseUrl: string, planned: Planned[], ledger: Ledger | undefined): Promise<CheckResult> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const violations: string[] = [];
  const note = (message: string) => {
    if (violations.length < 200) violations.push(message);
  };
  const result: CheckResult = { violations, runsLost: 0, wrongEnd: 0, stuck: 0, duplicateTransitions: 0, redeliveries: 0, acknowledgedUpdates: 0, taskRows: 0 };
  try {
    // 1. Every planned run exists once and ended as it must.
    const { rows: runs } = await client.query("SELECT id, idempotency_key, name, status, output, failed_refs, parent_run_id, parent_task_id FROM baton.runs");
    const byKey = new Map(runs.filter((r) => r.idempotency_key).map((r) => [r.idempotency_key as string, r]));
    for (const p of planned) {
      const run = byKey.get(p.key);
      if (!run) {
        result.runsLost++;
        note(`run ${p.key} (${p.name}) is missing`);
        continue;
      }
      if (!TERMINAL_RUN.has(run.status)) {
        result.stuck++;
        note(`run ${p.key} ${run.id} is stuck in ${run.status}`);
        continue;
      }
      if (run.status !== p.expect.status) {
        result.wrongEnd++;
        note(`run ${p.key} ${run.id} ended ${run.status}, expected ${p.expect.status}`);
      } else if (p.expect.output && !isDeepStrictEqual(run.output, p.expect.output)) {
        result.wrongEnd++;
        note(`run ${p.key} ${run.id} output ${JSON.stringify(run.output)}, expected ${JSON.stringify(p.expect.output)}`);
      } else if (p.expect.failedRef && !(run.failed_refs as string[]).includes(p.expect.failedRef)) {
        result.wrongEnd++;
        note(`run ${p.key} ${run.id} failed refs ${JSON.stringify(run.failed_refs)}, expected ${p.expect.failedRef}`);
      }
    }
    const runById = new Map(runs.map((r) => [r.id as string, r]));

    // 2. Retry chains per (run, ref): contiguous, counting up by one, one success at most.
    const { rows: tasks } = await client.query<TaskRow>(
      `SELECT id, run_id, ref, type, seq, status, retry_count, retried_task_id, retried, poll_count, started_at, ended_at, scheduled_at,
              response_timeout_seconds, reason, output, sub_workflow_id FROM baton.tasks ORDER BY run_id, ref, seq`,
    );
    result.taskRows = tasks.length;
    const chains = new Map<string, TaskRow[]>();
    for (const t of tasks) {
      const key = `${t.run_id}/${t.ref}`;
      const list = chains.get(key) ?? [];
      list.push(t);
      chains.set(key, list);
    }
    const taskById = new Map(tasks.map((t) => [t.id, t]));
    for (const [key, chain] of chains) {
      const run = runById.get(chain[0]!.run_id);
      let successes = 0;
      chain.forEach((t, i) => {
        if (SUCCESS.has(t.status)) successes++;
        if (i === 0) {
          if (t.retry_count !== 0 || t.retried_task_id !== "")
            note(`${key}: first instance has retry_count ${t.retry_count}, retried_task_id '${t.retried_task_id}'`);
        } else {
          const prev = chain[i - 1]!;
          if (t.retried_task_id !== prev.id) note(`${key}: instance ${t.id} retries ${t.retried_task_id}, not the instance before it ${prev.id}`);
          if (t.retry_count !== prev.retry_count + 1) note(`${key}: retry_count goes ${prev.retry_count} -> ${t.retry_count}`);
          if (!["FAILED", "TIMED_OUT"].includes(prev.status) || !prev.retried)
            note(`${key}: ${prev.id} was retried while ${prev.status} (retried=${prev.retried})`);
          if (prev.status === "TIMED_OUT") {
            result.redeliveries++;
            // A task comes back only once its lease ran out.
            const held = Number(prev.ended_at) - Number(prev.started_at);
            if (prev.started_at !== "0" && held < prev.response_timeout_seconds * 1000) {
              note(`${key}: ${prev.id} timed out after ${held} ms, before its ${prev.response_timeout_seconds} s lease ran out`);
            }
            if (Number(t.scheduled_at) < Number(prev.ended_at)) note(`${key}: retry ${t.id} scheduled before ${prev.id} ended`);
          }
        }
      });
      if (successes > 1) {
        result.duplicateTransitions++;
        note(`${key}: ${successes} successful instances`);
      }
      if (run && run.status === "COMPLETED" && successes !== 1) note(`${key}: run COMPLETED but the step has ${successes} successful instances`);
      const last = chain[chain.length - 1]!;
      if (run && TERMINAL_RUN.has(run.status) && !TERMINAL_TASK.has(last.status)) note(`${key}: run ${run.status} but its task is ${last.status}`);
    }

    // 3. Sub-workflows: one child per SUB_WORKFLOW instance, the one it names.
    const childrenOf = new Map<string, string[]>();
    for (const r of runs) {
      if (!r.parent_task_id) continue;
      const list = childrenOf.get(r.parent_task_id) ?? [];
      list.push(r.id);
      childrenOf.set(r.parent_task_id, list);
    }
    for (const t of tasks) {
      if (t.type !== "SUB_WORKFLOW" || !t.sub_workflow_id) continue;
      const children = childrenOf.get(t.id) ?? [];
      if (children.length > 1) {
        result.duplicateTransitions++;
        note(`sub-workflow task ${t.id} has ${children.length} child runs`);
      }
      if (!runById.has(t.sub_workflow_id)) note(`sub-workflow task ${t.id} names child ${t.sub_workflow_id}, which does not exist`);
    }
    for (const [parentTask, children] of childrenOf) {
      const t = taskById.get(parentTask);
      if (t && children.some((c) => c !== t.sub_workflow_id)) note(`task ${parentTask} has a child it does not name: ${children.join(",")}`);
    }

    // 4. The transition log: nothing leaves a terminal status, nothing completes twice.
    const audit = await client
      .query("SELECT kind, row_id, old_status, new_status FROM baton_faults.transitions ORDER BY id")
      .catch(() => ({ rows: [] as { kind: string; row_id: string; old_status: string | null; new_status: string }[] }));
    const completions = new Map<string, number>();
    for (const a of audit.rows) {
      const terminal = a.kind === "task" ? TERMINAL_TASK : TERMINAL_RUN;
      if (a.old_status && terminal.has(a.old_status) && a.old_status !== a.new_status) {
        result.duplicateTransitions++;
        note(`${a.kind} ${a.row_id}: ${a.old_status} -> ${a.new_status} (left a terminal status)`);
      }
      if (a.kind === "task" && a.new_status === "COMPLETED" && a.old_status !== "COMPLETED") {
        const n = (completions.get(a.row_id) ?? 0) + 1;
        completions.set(a.row_id, n);
        if (n === 2) {
          result.duplicateTransitions++;
          note(`task ${a.row_id} COMPLETED twice`);
        }
      }
    }

    // 5. The workers' ledger: every acknowledged update is in the final state, once.
    if (ledger) {
      for (const [taskId, applied] of ledger.appliedByTask()) {
        result.acknowledgedUpdates += applied.length;
        const terminal = applied.filter((u) => u.status !== "IN_PROGRESS");
        if (terminal.length > 1) {
          result.duplicateTransitions++;
          note(`task ${taskId}: ${terminal.length} updates were applied`);
        }
        const u = terminal[0];
        if (!u) continue;
        const row = taskById.get(taskId);
        if (!row) {
          result.runsLost++;
          note(`task ${taskId}: an applied ${u.status} update, but the task row is gone`);
          continue;
        }
        const expected = u.status === "FAILED_WITH_TERMINAL_ERROR" ? "FAILED_WITH_TERMINAL_ERROR" : u.status;
        if (row.status !== expected || (u.status === "COMPLETED" && !isDeepStrictEqual(row.output, outputOf(u)))) {
          result.runsLost++;
          note(`task ${taskId}: the worker was told ${u.status} applied, the row says ${row.status} ${JSON.stringify(row.output)}`);
        }
      }
      for (const id of ledger.duplicateDeliveries()) {
        const row = taskById.get(id);
        // The same task row handed out twice is only right after a callback (IN_PROGRESS with callbackAfterSeconds).
        result.duplicateTransitions++;
        note(`task ${id} (${row?.ref}) was handed to a handler ${ledger.received.get(id)} times`);
      }
    }

    // 6. Nothing left behind: no queue rows or outbox items for ended runs. An outbox item
    // taken by a process that was then killed waits out its lease before another takes it
    // again (its effects are idempotent): give that a minute.
    for (let i = 0; i < 120; i++) {
      const { rows } = await client.query("SELECT count(*)::int AS n FROM baton.outbox");
      if (rows[0].n === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const { rows: leftovers } = await client.query(
      `SELECT (SELECT count(*) FROM baton.queue q JOIN baton.runs r ON r.id = q.run_id WHERE r.status IN ('COMPLETED','FAILED','TIMED_OUT','TERMINATED'))::int AS queue,
              (SELECT count(*) FROM baton.outbox)::int AS outbox`,
    );
    if (leftovers[0].queue > 0) note(`${leftovers[0].queue} queue rows belong to ended runs`);
    if (leftovers[0].outbox > 0) note(`${leftovers[0].outbox} outbox items were never carried out`);
  } finally {
    await client.end();
  }
  return result;
}
