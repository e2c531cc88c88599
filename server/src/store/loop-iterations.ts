// A DO_WHILE's iteration entries (Conductor's `"1": {...}, "2": {...}` in the
// loop's output) are stored a row each in baton.loop_iterations, and the
// loop task's row holds the rest of its output (iteration, item, index). An
// iteration then writes its own entry, not the whole output again: the
// decider journals which entries changed since the output was stored
// (decider/loop-output.ts). Whoever reads a task row whole gets Conductor's
// shape back: taskColumns merges the entries into the output in SQL. Rows
// are removed with their task (deleteTasks, retention).
import { isIterationKey, loopChanges, loopOwnFields, markLoopStored } from "../decider/loop-output.js";
import type { TaskState } from "../decider/model.js";
import type { Migration } from "./migrations.js";
import { taskRows } from "./rows.js";

/** Moves the entries of loops stored whole (before this table) to it: a row each, and out of the loop's output. */
export const MOVE_LOOP_ENTRIES_SQL = `
  INSERT INTO baton.loop_iterations (task_id, iteration, output)
    SELECT t.id, e.key::int, e.value FROM baton.tasks t, jsonb_each(t.output) e
    WHERE t.type = 'DO_WHILE' AND jsonb_typeof(t.output) = 'object' AND e.key ~ '^[1-9][0-9]{0,8}$';
  UPDATE baton.tasks t SET output = (
      SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}') FROM jsonb_each(t.output) e WHERE e.key !~ '^[1-9][0-9]{0,8}$')
    WHERE t.type = 'DO_WHILE' AND jsonb_typeof(t.output) = 'object'
      AND EXISTS (SELECT 1 FROM jsonb_object_keys(t.output) k WHERE k ~ '^[1-9][0-9]{0,8}$');
`;

export const LOOP_ITERATIONS_MIGRATION: Migration = {
  name: "loop iterations: a DO_WHILE's iteration outputs a row each, not rewritten whole with every iteration",
  // An earlier server reads a loop's output without its entries (a loopCondition reading one fails), and writes
  // the entries it adds into the output column, where this version's next write of the loop drops them.
  olderReplicasStop: "an earlier server reads loops without their iterations' outputs and writes new ones where this version loses them",
  sql: `
    CREATE TABLE baton.loop_iterations (
      task_id uuid NOT NULL,
      iteration int NOT NULL,
      output jsonb NOT NULL,
      PRIMARY KEY (task_id, iteration)
    );
    ${MOVE_LOOP_ENTRIES_SQL}
  `,
};

/** A task's whole output in SQL (`t`: the tasks table's alias): a loop's with its iteration entries. */
export function taskOutputSql(t: string): string {
  return `CASE WHEN ${t}.type = 'DO_WHILE' THEN ${t}.output || coalesce(
      (SELECT jsonb_object_agg(i.iteration::text, i.output) FROM baton.loop_iterations i WHERE i.task_id = ${t}.id), '{}') ELSE ${t}.output END`;
}

/** The task columns for a SELECT list (`t`: the tasks table's alias), the output whole. */
export function taskColumns(t: string): string {
  return taskRows.names.map((name) => (name === "output" ? `${taskOutputSql(t)} AS output` : `${t}.${name}`)).join(", ");
}

/** Loops read whole for a decision: their outputs are what is stored (a write then sends only what changes). */
export function markLoopsStored(tasks: Iterable<TaskState>): void {
  for (const task of tasks) if (task.type === "DO_WHILE") markLoopStored(task);
}

/** What a batch writes of its loops' entries. */
export interface IterationWrites {
  /** Entries set: inserted, or replacing the one stored. */
  set: { task_id: string; iteration: number; output: unknown }[];
  /** Entries removed. */
  removed: { task_id: string; iteration: number }[];
  /** Loops written whole: every entry stored but these goes. */
  reset: { task_id: string; keep: number[] }[];
}

/**
 * The entries of the loops a batch writes: for a loop whose output is
 * journaled since it was stored, the entries that changed; for any other (a
 * new loop, an output replaced), every entry, and the others stored go.
 */
export function iterationWrites(inserts: TaskState[], updates: TaskState[]): IterationWrites {
  const writes: IterationWrites = { set: [], removed: [], reset: [] };
  const setAll = (task: TaskState) => {
    const keep: number[] = [];
    for (const [key, value] of Object.entries(task.output)) {
      if (!isIterationKey(key)) continue;
      keep.push(Number(key));
      writes.set.push({ task_id: task.id, iteration: Number(key), output: value });
    }
    return keep;
  };
  for (const task of inserts) if (task.type === "DO_WHILE") setAll(task);
  for (const task of updates) {
    if (task.type !== "DO_WHILE") continue;
    const changes = loopChanges(task);
    if (changes === undefined) {
      writes.reset.push({ task_id: task.id, keep: setAll(task) });
      continue;
    }
    for (const key of changes.set) writes.set.push({ task_id: task.id, iteration: Number(key), output: task.output[key] });
    for (const key of changes.removed) writes.removed.push({ task_id: task.id, iteration: Number(key) });
  }
  return writes;
}

/** A loop's output column: its output without the entries (written apart). */
export function loopColumn(task: TaskState): unknown {
  return loopOwnFields(task.output);
}
