// System tasks' outputs obey the payload limit that holds for what workers
// send (2 MiB of JSON by default): a script, a jq filter, an HTTP response or
// a join could otherwise store any size, and a loop grows its output by one
// entry per iteration. A task that ends over the limit fails, saying so, and
// its output is not stored; a loop is measured as each iteration is recorded,
// and stops before its output would pass the limit.
import { stringifyJson } from "@baton/json";
import { DEFAULT_LIMITS } from "../limits.js";
import type { Json, JsonObject, TaskState } from "./model.js";

/** The limit a decision applies: the server's payload limit. */
export function outputLimit(services: { maxOutputBytes?: number } | undefined): number {
  return services?.maxOutputBytes ?? DEFAULT_LIMITS.payloadBytes;
}

export function jsonBytes(value: Json): number {
  return Buffer.byteLength(stringifyJson(value));
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
  const bytes = jsonBytes(task.output);
  if (bytes <= limit) return false;
  const reason = overLimitReason(task, bytes, limit);
  task.output = { error: reason };
  if (task.status === "COMPLETED" || task.status === "COMPLETED_WITH_ERRORS" || task.status === "SKIPPED") task.status = "FAILED";
  task.reason = reason;
  return true;
}

// A loop's output, measured as it changes: the bytes of its iteration entries
// ("1": {...}), kept per output object, and the names of its other fields.
// Counted once, when first measured; the decider copies a loop's output once
// per decision (ownOutput) and the copy takes the count with it, so each
// iteration adds and removes entries and measures only the loop's own few
// fields: O(1) per iteration, not a scan of every entry (thousands, in a long
// loop), in no decision.
interface Tally {
  /** Bytes of the iteration entries. */
  entries: number;
  /** Fields other than the iteration entries and the loop's own (found when first counted). */
  others: string[];
}
const tallies = new WeakMap<JsonObject, Tally>();
const ITERATION_KEY = /^\d+$/;
/** The fields the loop itself sets on its output as it goes. */
const LOOP_FIELDS = ["iteration", "item", "index"];

function entryBytes(key: string, value: Json): number {
  return Buffer.byteLength(key) + 4 + jsonBytes(value); // "key":value,
}

function tallyOf(output: JsonObject): Tally {
  let tally = tallies.get(output);
  if (tally === undefined) {
    tally = { entries: 0, others: [] };
    for (const [key, value] of Object.entries(output)) {
      if (ITERATION_KEY.test(key)) tally.entries += entryBytes(key, value);
      else if (!LOOP_FIELDS.includes(key)) tally.others.push(key);
    }
    tallies.set(output, tally);
  }
  return tally;
}

/** A shallow copy of a task's output, to be changed in place; a loop's count goes with it. */
export function copyOutput(output: JsonObject): JsonObject {
  const copy = { ...output };
  const tally = tallies.get(output);
  if (tally !== undefined) tallies.set(copy, { entries: tally.entries, others: [...tally.others] });
  return copy;
}

/** Sets iteration entry `key` of a loop's (owned) output. */
export function setIterationEntry(output: JsonObject, key: string, value: JsonObject): void {
  const tally = tallyOf(output);
  const old = output[key];
  if (old !== undefined) tally.entries -= entryBytes(key, old);
  output[key] = value;
  tally.entries += entryBytes(key, value);
}

/** Removes iteration entry `key` of a loop's (owned) output. */
export function deleteIterationEntry(output: JsonObject, key: string): void {
  const old = output[key];
  if (old === undefined) return;
  tallyOf(output).entries -= entryBytes(key, old);
  delete output[key];
}

/** A loop output's size in bytes of JSON: its entries as counted, its few other fields measured now. */
export function loopOutputBytes(output: JsonObject): number {
  const tally = tallyOf(output);
  let other = 2; // {}
  for (const key of [...LOOP_FIELDS, ...tally.others]) {
    const value = output[key];
    if (value !== undefined) other += entryBytes(key, value);
  }
  return tally.entries + other;
}
