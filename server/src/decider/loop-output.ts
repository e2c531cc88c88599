// A loop's output as it changes: Conductor's shape, `{"1": {...}, "2": {...},
// "iteration": n}`, one entry per iteration, changed in place by the loop
// (an entry set or removed, its own few fields) so that an iteration costs
// the same whatever came before it.
//
// Measured: the bytes of its iteration entries are kept per output object
// and counted once, when first measured; each iteration adds and removes
// entries and measures only the loop's own few fields (loopOutputBytes).
//
// Journaled: which entries changed since the output was last marked as
// stored (markLoopStored, by the store, for the row it holds), so a write
// sends those entries, not the whole output again (store/loop-iterations.ts).
// An output never marked for its task (new, replaced, read without marking)
// has no journal and is written whole.
import { stringifyJson } from "@baton/json";
import type { Json, JsonObject, TaskState } from "./model.js";

/** An iteration entry's key: the iteration number as written by String(n). */
const ITERATION_KEY = /^[1-9]\d{0,8}$/;
/** The fields the loop itself sets on its output as it goes. */
const LOOP_FIELDS = ["iteration", "item", "index"];

export function isIterationKey(key: string): boolean {
  return ITERATION_KEY.test(key);
}

interface Tally {
  /** Bytes of the iteration entries. */
  entries: number;
  /** Fields other than the iteration entries and the loop's own (found when first counted). */
  others: string[];
}
const tallies = new WeakMap<JsonObject, Tally>();

/** Entries changed since the output was marked as stored for task `taskId`. */
interface Journal {
  taskId: string;
  set: Set<string>;
  removed: Set<string>;
}
const journals = new WeakMap<JsonObject, Journal>();

function entryBytes(key: string, value: Json): number {
  return Buffer.byteLength(key) + 4 + Buffer.byteLength(stringifyJson(value)); // "key":value,
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

/** A shallow copy of a task's output, to be changed in place; a loop's count and journal go with it. */
export function copyOutput(output: JsonObject): JsonObject {
  const copy = { ...output };
  const tally = tallies.get(output);
  if (tally !== undefined) tallies.set(copy, { entries: tally.entries, others: [...tally.others] });
  const journal = journals.get(output);
  if (journal !== undefined) journals.set(copy, { taskId: journal.taskId, set: new Set(journal.set), removed: new Set(journal.removed) });
  return copy;
}

/** Sets iteration entry `key` of a loop's (owned) output. */
export function setIterationEntry(output: JsonObject, key: string, value: JsonObject): void {
  const tally = tallyOf(output);
  const old = output[key];
  if (old !== undefined) tally.entries -= entryBytes(key, old);
  output[key] = value;
  tally.entries += entryBytes(key, value);
  const journal = journals.get(output);
  journal?.removed.delete(key);
  journal?.set.add(key);
}

/** Removes iteration entry `key` of a loop's (owned) output. */
export function deleteIterationEntry(output: JsonObject, key: string): void {
  const old = output[key];
  if (old === undefined) return;
  const tally = tallyOf(output);
  if (ITERATION_KEY.test(key)) tally.entries -= entryBytes(key, old);
  else tally.others = tally.others.filter((k) => k !== key);
  delete output[key];
  const journal = journals.get(output);
  journal?.set.delete(key);
  if (ITERATION_KEY.test(key)) journal?.removed.add(key);
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

/** The loop's output without its iteration entries: its own fields and any other (few, found when first counted). */
export function loopOwnFields(output: JsonObject): JsonObject {
  const own: JsonObject = {};
  for (const key of [...LOOP_FIELDS, ...tallyOf(output).others]) {
    const value = output[key];
    if (value !== undefined) own[key] = value;
  }
  return own;
}

/** Marks a loop's output as what its row holds now (read, or written by a committed batch): its journal starts empty. */
export function markLoopStored(task: Pick<TaskState, "id" | "output">): void {
  journals.set(task.output, { taskId: task.id, set: new Set(), removed: new Set() });
}

/** The iteration entries set and removed since the output was marked as stored for this task; undefined when it was not. */
export function loopChanges(task: Pick<TaskState, "id" | "output">): { set: string[]; removed: string[] } | undefined {
  const journal = journals.get(task.output);
  if (journal === undefined || journal.taskId !== task.id) return undefined;
  return { set: [...journal.set], removed: [...journal.removed] };
}
