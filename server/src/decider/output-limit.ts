// System tasks' outputs obey the payload limit that holds for what workers
// send (2 MiB of JSON by default): a script, a jq filter, an HTTP response or
// a join could otherwise store any size, and a loop grows its output by one
// entry per iteration. A task that ends over the limit fails, saying so, and
// its output is not stored; a loop is measured as each iteration is recorded,
// and stops before its output would pass the limit.
import { stringifyJson } from "@baton/json";
import { DEFAULT_LIMITS } from "../limits.js";
import { knownJsonBytes, notePayloadText } from "../payload-text.js";
import { loopOutputBytes } from "./loop-output.js";
import type { Json, TaskState } from "./model.js";

/** The limit a decision applies: the server's payload limit. */
export function outputLimit(services: { maxOutputBytes?: number } | undefined): number {
  return services?.maxOutputBytes ?? DEFAULT_LIMITS.payloadBytes;
}

export function jsonBytes(value: Json): number {
  // A worker's output is measured by the text it came in, not written out again.
  return knownJsonBytes(value) ?? Buffer.byteLength(stringifyJson(value));
}

/**
 * jsonBytes of a payload this decision writes: a text made to measure it is
 * the one its batch writes (../payload-text.ts), not made again. Only for
 * such a payload: the text is kept until its batch is written.
 */
export function writtenJsonBytes(value: Json): number {
  const known = knownJsonBytes(value);
  if (known !== undefined) return known;
  const text = stringifyJson(value);
  if (typeof value === "object" && value !== null) notePayloadText(value, text);
  return Buffer.byteLength(text);
}

export function overLimitReason(task: Pick<TaskState, "type">, bytes: number, limit: number): string {
  const fix = task.type === "DO_WHILE" ? "keep fewer iterations (keepLastN) or make each return less" : "make it return less, or pass large data by reference";
  return `${task.type} output would be ${bytes} bytes, over the ${limit}-byte payload limit; ${fix}`;
}

/**
 * Checks a system task that just ended: over the limit, its output is
 * replaced by the reason and a successful task fails (its failure policy then
 * applies: retries, optional, the run failing). Returns whether it acted.
 */
export function enforceOutputLimit(task: TaskState, limit: number): boolean {
  const bytes = task.type === "DO_WHILE" ? loopOutputBytes(task.output) : writtenJsonBytes(task.output);
  if (bytes <= limit) return false;
  const reason = overLimitReason(task, bytes, limit);
  task.output = { error: reason };
  if (task.status === "COMPLETED" || task.status === "COMPLETED_WITH_ERRORS" || task.status === "SKIPPED") task.status = "FAILED";
  task.reason = reason;
  return true;
}
