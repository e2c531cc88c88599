// What a run (and its sub-workflow runs) is waiting for: read through the
// server's store (runTreeSnapshot), the one operation this package needs that
// the wire has no call for. Here: which task types a worker does.
/** Conductor system task types: everything else is done by a worker. */
const SYSTEM_TYPES = new Set([
  "DECISION",
  "SWITCH",
  "FORK_JOIN",
  "FORK",
  "JOIN",
  "EXCLUSIVE_JOIN",
  "FORK_JOIN_DYNAMIC",
  "DO_WHILE",
  "SET_VARIABLE",
  "TERMINATE",
  "WAIT",
  "HUMAN",
  "NOOP",
  "INLINE",
  "LAMBDA",
  "JSON_JQ_TRANSFORM",
  "DYNAMIC",
  "SUB_WORKFLOW",
  "START_WORKFLOW",
  "EVENT",
  "HTTP",
]);

export const isWorkerType = (type: string): boolean => type === "SIMPLE" || !SYSTEM_TYPES.has(type);

export type { QueueRow, RunRow, RunningTask, RunTreeSnapshot as Snapshot } from "@baton/server";
