// Which JSON payloads (input, output) a task or run row holds as stored, known
// by the object that holds them in memory. Payloads are replaced, never
// changed in place (see the decider), so an object noted here for a row is
// still what that row holds, and an update leaves that column alone instead
// of serialising and rewriting it: a decision on a run with a large input, or
// on a loop over a large list, writes what it changed. Noted for a run's row
// as a batch reads it under its lock, and for what a batch wrote once it
// committed (a rolled-back write stored nothing), which is what a run held in
// memory decides from next; an object not noted is written, so a miss costs
// only the write (a WeakMap entry per payload read would cost more on a read
// of thousands of tasks than it saves).
import type { JsonObject } from "../decider/model.js";

export type Payload = "input" | "output";

/** Payload object -> id of the row (task or run: both UUIDs) that holds it as stored. */
const stored: Record<Payload, WeakMap<object, string>> = { input: new WeakMap(), output: new WeakMap() };

/** Notes a row's payloads as stored (read under its lock, or written by a committed batch). */
export function noteStored(row: { id: string; input?: JsonObject; output?: JsonObject }): void {
  for (const payload of ["input", "output"] as const) {
    const value = row[payload];
    if (typeof value === "object" && value !== null) stored[payload].set(value, row.id);
  }
}

/** Whether the row's payload is the object stored for it (an update may leave the column as it is). */
export function isStored(row: { id: string; input: JsonObject; output: JsonObject }, payload: Payload): boolean {
  const value = row[payload];
  return typeof value === "object" && value !== null && stored[payload].get(value) === row.id;
}
