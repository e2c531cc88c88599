// Locking and loading the runs a batch of events targets, in one round trip.
import { Slices } from "@baton/protocol";
import type pg from "pg";
import type { RunState, TaskState } from "../decider/model.js";
import { isUuid } from "../rules/ids.js";
import { transaction, type Tx } from "./db.js";
import { markLoopsStored, taskColumns } from "./loop-iterations.js";
import { rowToRun, rowToTask, runRows, taskRows } from "./rows.js";
import { noteStored } from "./stored-payloads.js";

/** A run, by its id or by the id of one of its tasks. */
export type RunTarget = string | { taskId: string };

/** The runs a batch locked, with their tasks; and which run each loaded task belongs to. */
export interface LoadedRuns {
  runs: Map<string, LoadedRun>;
  runOfTask: Map<string, string>;
}

export interface LoadedRun {
  /** The run as stored; undefined for a run the caller keeps in memory (its row is locked, its revision read, nothing else). */
  run: RunState | undefined;
  /** The run's revision as stored. */
  rev: number;
  /** Every task of the run; undefined for a run the caller keeps in memory (it asked with cachedRunIds). */
  tasks: TaskState[] | undefined;
  /**
   * For a run kept in memory: the rows of the tasks the events name, as stored
   * now. A loop's come without input and output: only its revision is used (a
   * moved one means reading the run whole, see runtime/run-memory.ts swapTask),
   * and its input may be the thousands of items it goes over, read again at
   * each of its continuations.
   */
  fresh: TaskState[];
}

export interface BatchTargets {
  runIds: string[];
  taskIds: string[];
  /** Runs whose tasks the caller keeps in memory: only the named tasks are read. */
  cachedRunIds: string[];
}

/**
 * Runs a batch of events: begins a transaction, locks the runs they target
 * (by run id, or by the id of one of their tasks) in id order, so batches
 * never deadlock one another, and loads the locked runs with all their
 * tasks, in one round trip: the statements of a simple query each take a
 * fresh snapshot, so the tasks are read after the locks are granted. Then
 * `fn`, then COMMIT. With skipLocked, a run another transaction holds is
 * left out instead of waited for.
 */
export async function inRunBatch<T>(
  pool: pg.Pool,
  targets: BatchTargets,
  options: { skipLocked?: boolean },
  fn: (tx: Tx, loaded: LoadedRuns) => Promise<T>,
): Promise<T> {
  // Inlined into SQL text (the simple protocol takes no parameters): only UUIDs pass.
  const runIds = targets.runIds.filter(isUuid);
  const taskIds = targets.taskIds.filter(isUuid);
  const array = (ids: string[]) => `'{${ids.filter(isUuid).join(",")}}'::uuid[]`;
  const wanted = `(${array(runIds)} || ARRAY(SELECT run_id FROM baton.tasks WHERE id = ANY(${array(taskIds)})))`;
  const cached = array(targets.cachedRunIds);
  const begin =
    runIds.length + taskIds.length === 0
      ? "BEGIN"
      : `BEGIN; SELECT ${lockedRunColumns(targets.cachedRunIds, cached)} FROM baton.runs WHERE id = ANY${wanted} ORDER BY id FOR UPDATE${options.skipLocked ? " SKIP LOCKED" : ""};
         SELECT ${taskColumns("t")} FROM baton.tasks t WHERE t.run_id = ANY(ARRAY(SELECT unnest${wanted} EXCEPT SELECT unnest(${cached}))) ORDER BY t.run_id, t.seq;
         SELECT ${FRESH_COLUMNS} FROM baton.tasks WHERE id = ANY(${array(taskIds)}) AND run_id = ANY(${cached})`;
  return transaction(
    pool,
    async (client, results) => {
      const loaded: LoadedRuns = { runs: new Map(), runOfTask: new Map() };
      if (Array.isArray(results)) {
        const cachedIds = new Set(targets.cachedRunIds);
        for (const row of results[1]!.rows) {
          const id = row.id as string;
          if (cachedIds.has(id)) {
            loaded.runs.set(id, { run: undefined, rev: Number(row.rev), tasks: undefined, fresh: [] });
            continue;
          }
          const run = rowToRun(row);
          // Read under its lock: its payloads are what is stored (an update that keeps them leaves them out).
          noteStored(run);
          loaded.runs.set(id, { run, rev: Number(row.rev), tasks: [], fresh: [] });
        }
        // A wide run's thousands of rows (a terminate reads every task) are made tasks in slices that yield.
        const slices = new Slices();
        for (const [index, field] of [
          [2, "tasks"],
          [3, "fresh"],
        ] as const) {
          for (const row of results[index]!.rows) {
            if (slices.due()) await slices.yield();
            const entry = loaded.runs.get(row.run_id as string);
            if (!entry) continue; // skipped: another transaction holds it
            const task = rowToTask(row);
            // A loop read whole is as stored; a fresh row of one has its output without the iteration entries.
            if (field === "tasks") markLoopsStored([task]);
            entry[field]?.push(task);
            loaded.runOfTask.set(row.id as string, row.run_id as string);
          }
        }
      }
      return fn(client, loaded);
    },
    begin,
  );
}

/** A fresh task row's columns (see LoadedRun.fresh): a loop's payloads NULL. */
const FRESH_COLUMNS = taskRows.names
  .map((name) => (name === "input" || name === "output" ? `CASE WHEN type = 'DO_WHILE' THEN NULL ELSE ${name} END AS ${name}` : name))
  .join(", ");

/**
 * The locked runs' columns: a run the caller keeps in memory gives its id and
 * revision only (its other columns NULL), so its payloads are neither sent
 * nor parsed for a decision that takes the run from memory; the others give
 * every column.
 */
function lockedRunColumns(cachedRunIds: string[], cached: string): string {
  if (cachedRunIds.length === 0) return "*";
  const others = runRows.names.filter((name) => name !== "id").map((name) => `CASE WHEN id = ANY(${cached}) THEN NULL ELSE ${name} END AS ${name}`);
  return ["id", "rev", ...others].join(", ");
}
