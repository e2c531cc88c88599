// Reading runs: one with its tasks, its status, by idempotency key, a search
// page, and how many are in flight.
import type { RunState, TaskState, WorkflowStatus } from "../decider/model.js";
import { mapInSlices } from "@baton/protocol";
import type { Queryable } from "./db.js";
import { measuredPage, measuredRows, type Measured } from "./measured-rows.js";
import { markLoopsStored, taskColumns, taskOutputSql } from "./loop-iterations.js";
import { rowToRun, rowToTask, runRows, taskRows } from "./rows.js";
import { cursorAfter, NEWEST_FIRST, orderSql, type RunCursor, type RunSort } from "./run-order.js";

export interface SearchQuery {
  name?: string;
  statuses?: string[];
  correlationId?: string;
  version?: number;
  id?: string;
  from?: number;
  to?: number;
  limit: number;
  /** The page also ends once its runs' input, output and variables pass this many bytes (always at least one run). */
  bytes: number;
  /** false: the runs' input, output and variables are not read (their texts are empty), and weigh nothing. */
  payloads?: false;
  /** The order; newest first when not given. */
  sort?: RunSort;
  /** Continue after this position in `sort` (see run-order.ts). */
  after?: RunCursor;
}

export async function runIdByIdempotencyKey(q: Queryable, key: string): Promise<string | undefined> {
  const { rows } = await q.query("SELECT id FROM baton.runs WHERE idempotency_key = $1", [key]);
  return rows[0]?.id as string | undefined;
}

/** A run's status, or undefined when it is gone (or `runId` is empty); `q`: the transaction it is read in. */
export async function runStatus(q: Queryable, runId: string): Promise<string | undefined> {
  if (!runId) return undefined;
  const { rows } = await q.query("SELECT status FROM baton.runs WHERE id = $1", [runId]);
  return rows[0]?.status as string | undefined;
}

/** A run (with its tasks); through a transaction to read it again under the lock it holds. */
export async function getRun(q: Queryable, runId: string, withTasks: boolean): Promise<{ run: RunState; tasks: TaskState[] } | undefined> {
  const { rows } = await q.query("SELECT * FROM baton.runs WHERE id = $1", [runId]);
  if (!rows[0]) return undefined;
  // Mapped in slices: a run of thousands of tasks would hold the event loop.
  const tasks = withTasks
    ? await mapInSlices((await q.query(`SELECT ${taskColumns("t")} FROM baton.tasks t WHERE t.run_id = $1 ORDER BY t.seq`, [runId])).rows, rowToTask)
    : [];
  // Read whole, as stored: a decision on them writes only the loop entries it changes.
  markLoopsStored(tasks);
  return { run: rowToRun(rows[0]), tasks };
}

/** A run or task whose JSON payloads are kept as the database's text, not parsed (its object fields are left empty). */
export type AsText<S> = S & { json: Record<string, string> };

const RUN_TEXT = ["input", "output", "variables"];
const TASK_TEXT = ["input", "output"];
/** `expression`: the SQL of a column's value when it is not the column as it is (a task's output, see loop-iterations.ts). */
const selectAsText = (names: string[], text: string[], skip: string[] = [], expression: (name: string) => string = (name) => name) =>
  [...names.filter((n) => !text.includes(n) && !skip.includes(n)), ...text.map((n) => `(${expression(n)})::text AS text_${n}`)].join(", ");
function withText<S>(state: S, row: Record<string, unknown>, text: string[]): AsText<S> {
  return Object.assign(state as object, { json: Object.fromEntries(text.map((n) => [n, row[`text_${n}`] as string])) }) as AsText<S>;
}

/** A run and its tasks to be shown; `revision`: the run row's, which with each task's `rev` says what was read. */
export interface RunView {
  run: AsText<RunState>;
  tasks: AsText<TaskState>[];
  revision: number;
}

/**
 * A run and its tasks to be shown, not decided on: their JSON payloads come
 * as text and go out as such, never parsed (parsing 10,000 tasks' inputs and
 * outputs was most of a large run's read). Tasks' `extra` is not read.
 */
export async function runToView(q: Queryable, runId: string): Promise<RunView | undefined> {
  const { rows } = await q.query(`SELECT ${selectAsText(runRows.names, RUN_TEXT)}, rev AS run_rev FROM baton.runs WHERE id = $1`, [runId]);
  if (!rows[0]) return undefined;
  const taskValue = (name: string) => (name === "output" ? taskOutputSql("t") : `t.${name}`);
  const tasks = await q.query(`SELECT ${selectAsText(taskRows.names, TASK_TEXT, ["extra"], taskValue)} FROM baton.tasks t WHERE t.run_id = $1 ORDER BY t.seq`, [
    runId,
  ]);
  return {
    run: withText(rowToRun(rows[0]), rows[0], RUN_TEXT),
    tasks: await mapInSlices(tasks.rows, (r) => withText({ ...rowToTask(r), marks: {} }, r, TASK_TEXT)),
    revision: Number(rows[0]["run_rev"]),
  };
}

/**
 * What moves whenever anything of a run a viewer sees moves, read without its payloads: the run's revision and its tasks'
 * count and revisions summed (every write of a run or a task adds one to its revision; a removed task takes one from the
 * count). Undefined when the run is gone. A watch compares it to learn whether to read the run whole again.
 */
export async function runStamp(q: Queryable, runId: string): Promise<string | undefined> {
  const { rows } = await q.query<{ stamp: string }>(
    `SELECT r.rev || ':' || t.n || ':' || t.revs AS stamp
     FROM baton.runs r, LATERAL (SELECT count(*) AS n, coalesce(sum(rev), 0) AS revs FROM baton.tasks WHERE run_id = r.id) t
     WHERE r.id = $1`,
    [runId],
  );
  return rows[0]?.stamp;
}

/** Runs a page reads per statement: PostgreSQL measures each run read (its payloads as the JSON text it sends), so a statement measures at most this many. */
const RUNS_MEASURED = 32;

/**
 * One page of runs filtered, in the order asked (newest first by default),
 * and whether more follow. Each run carries its payloads (up to a few MiB
 * each), so the page ends at `query.limit` runs or once they pass
 * `query.bytes`, whichever comes first. It is read RUNS_MEASURED runs a
 * statement, and PostgreSQL sends only the runs that start within the bytes
 * left: a page of a thousand runs of 2 MiB inputs was gigabytes read into the
 * server at once.
 */
export async function searchRuns(q: Queryable, query: SearchQuery): Promise<{ runs: RunState[]; more: boolean }> {
  const sort = query.sort ?? NEWEST_FIRST;
  const { items: runs, more } = await measuredPage(
    query.limit,
    query.bytes,
    RUNS_MEASURED,
    query.after,
    (after, limit, room) => measuredRuns(q, query, sort, after, limit, room),
    (run) => cursorAfter(run, sort),
  );
  return { runs, more };
}

/** Up to `limit` runs after `after`, of which PostgreSQL sends those starting within `room` bytes (so always the first); `read`: how many it read. */
async function measuredRuns(
  q: Queryable,
  query: SearchQuery,
  sort: RunSort,
  after: RunCursor | undefined,
  limit: number,
  room: number,
): Promise<Measured<RunState>> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace("?", `$${params.length}`));
  };
  if (query.name) add("name = ?", query.name);
  // One status as an equality: an index on (name, status, created_at) then hands rows in page order.
  if (query.statuses?.length === 1) add("status = ?", query.statuses[0]);
  else if (query.statuses && query.statuses.length > 1) add("status = ANY(?)", query.statuses);
  if (query.correlationId) add("correlation_id = ?", query.correlationId);
  if (query.version !== undefined) add("version = ?", query.version);
  if (query.id) add("id = ?::uuid", query.id);
  if (query.from) add("created_at >= ?", query.from);
  if (query.to) add("created_at < ?", query.to);
  const order = orderSql(sort, after, (value) => {
    params.push(value);
    return `$${params.length}`;
  });
  if (order.where) where.push(order.where);
  params.push(limit);
  const filtered = `FROM baton.runs ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY ${order.orderBy} LIMIT $${params.length}`;
  if (query.payloads === false) {
    // A list of ids read every run's payloads before (up to 6 MiB a run), only to leave them out.
    const sql = `SELECT ${selectAsText(runRows.names, RUN_TEXT, [], () => "''")} ${filtered}`;
    return measuredRows(q, { sql, params, bytes: "0", orderBy: order.orderBy }, room, (row) => withText(rowToRun(row), row, RUN_TEXT));
  }
  const bytes = "octet_length(p.input::text) + octet_length(p.output::text) + octet_length(p.variables::text)";
  return measuredRows(q, { sql: `SELECT * ${filtered}`, params, bytes, orderBy: order.orderBy }, room, rowToRun);
}

/** Runs not yet ended, by status (RUNNING, PAUSED), in the whole database. */
export async function runsInFlight(q: Queryable): Promise<{ status: WorkflowStatus; count: number }[]> {
  const { rows } = await q.query<{ status: WorkflowStatus; count: number }>(
    "SELECT status, count(*)::int AS count FROM baton.runs WHERE status IN ('RUNNING', 'PAUSED') GROUP BY status",
  );
  return rows;
}
