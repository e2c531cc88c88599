// What a run kept in memory weighs, estimated from its payloads (inputs,
// outputs, variables: what can be megabytes) plus a fixed charge per task
// for the rest. Measured incrementally: a run's account holds each task's
// bytes, and keeping the run again after a decision re-measures only the
// tasks that decision changed (summing every task of a wide run on each write
// cost 2.4% of the server's time). A payload is measured once per object:
// inputs, outputs and variables are replaced, never changed in place (a
// loop's output is copied once per decision before it changes, and its
// iterations are tallied as they are set: loopOutputBytes). A worker's output
// weighs the text it came in (jsonBytes), not written out again.
import type { Decision } from "../decider/decider.js";
import type { JsonObject, RunState, TaskState } from "../decider/model.js";
import { loopOutputBytes } from "../decider/loop-output.js";
import { jsonBytes } from "../decider/output-limit.js";

/** What a task weighs beyond its payloads: its fields, ids, the objects holding them. */
const TASK_BYTES = 1024;

export interface RunBytes {
  /** The run's own payloads plus every task's bytes. */
  total: number;
  run: number;
  tasks: Map<string, number>;
}

const measured = new WeakMap<JsonObject, number>();

/** Whether a payload has no fields: most tasks' outputs, and a fork's branches' inputs when given none. */
function empty(value: JsonObject): boolean {
  for (const _ in value) return false;
  return true;
}

function payloadBytes(value: JsonObject): number {
  // `{}` without a WeakMap entry and a JSON text each: a fork's 5,000 branches had 10,000 of them measured.
  if (empty(value)) return 2;
  let bytes = measured.get(value);
  if (bytes === undefined) {
    bytes = jsonBytes(value);
    measured.set(value, bytes);
  }
  return bytes;
}

function runBytes(run: RunState): number {
  return payloadBytes(run.input) + payloadBytes(run.output) + payloadBytes(run.variables) + run.reason.length;
}

export function taskBytes(task: TaskState): number {
  const output = task.type === "DO_WHILE" ? loopOutputBytes(task.output) : payloadBytes(task.output);
  return TASK_BYTES + payloadBytes(task.input) + output + task.reason.length;
}

/** Every task of a decided run, measured. */
export function measureRun(decision: Pick<Decision, "run" | "tasks">): RunBytes {
  const account: RunBytes = { total: 0, run: runBytes(decision.run), tasks: new Map() };
  account.total = account.run;
  for (const task of decision.tasks) {
    const bytes = taskBytes(task);
    account.tasks.set(task.id, bytes);
    account.total += bytes;
  }
  return account;
}

/**
 * The account of a run kept before, brought up to a decision: only its
 * changed and removed tasks are measured. A run whose tasks no longer match
 * (re-read from the database meanwhile) is measured whole.
 */
export function remeasure(account: RunBytes, decision: Pick<Decision, "run" | "tasks" | "changed" | "removed">): RunBytes {
  for (const id of decision.removed) {
    account.total -= account.tasks.get(id) ?? 0;
    account.tasks.delete(id);
  }
  for (const task of decision.changed) {
    const bytes = taskBytes(task);
    account.total += bytes - (account.tasks.get(task.id) ?? 0);
    account.tasks.set(task.id, bytes);
  }
  const run = runBytes(decision.run);
  account.total += run - account.run;
  account.run = run;
  return account.tasks.size === decision.tasks.length ? account : measureRun(decision);
}
