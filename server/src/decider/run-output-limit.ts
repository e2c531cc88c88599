// A run's own output (its definition's outputParameters, or its last task's
// output) obeys the payload limit, as every task's output does: outputParameters
// can gather several tasks' outputs, each under the limit, into one over it.
// An output over the limit is not stored: it is replaced by the reason, and a
// run that was completing fails with that reason (a run ending otherwise keeps
// its status and says why its output is missing).
import type { JsonObject, WorkflowStatus } from "./model.js";
import { writtenJsonBytes } from "./output-limit.js";

export interface RunEnding {
  status: WorkflowStatus;
  reason: string;
  output: JsonObject;
}

/** The ending to store instead of `ending`, when its output is over `limit` bytes of JSON; undefined when it is within. */
export function limitRunOutput(ending: RunEnding, limit: number): RunEnding | undefined {
  const bytes = writtenJsonBytes(ending.output);
  if (bytes <= limit) return undefined;
  const why = `the workflow's output would be ${bytes} bytes, over the ${limit}-byte payload limit; make its outputParameters gather less, or pass large data by reference`;
  if (ending.status === "COMPLETED") return { status: "FAILED", reason: why, output: { error: why } };
  return { status: ending.status, reason: ending.reason ? `${ending.reason}; ${why}` : why, output: { error: why } };
}
