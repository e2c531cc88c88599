// What the runs list and its counts accept, checked before any query so a
// bad filter is refused naming its field; and a run's state token for
// WatchWorkflow (changes whenever anything a viewer sees changes).
import { createHash } from "node:crypto";
import type { RunState, TaskState } from "../decider/model.js";
import { isUuid } from "../rules/ids.js";
import type { CountFilter } from "../store/store.js";
import { invalid } from "./errors.js";

/** Statuses counted per filter, in the order the console shows them. */
export const STATUS_NAMES = ["RUNNING", "PAUSED", "COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED"];

/** A watch rereads the run this often when this replica saw no change (another replica may have moved it). */
export const WATCH_RECHECK_MS = 5000;

interface RunFilter {
  name: string;
  version?: number | undefined;
  correlationId: string;
  startTimeFromMs: bigint;
  startTimeToMs: bigint;
  workflowId?: string;
}

export function checkRunFilter(f: RunFilter): void {
  if (f.version !== undefined) {
    if (!f.name) throw invalid("version filters one workflow's versions: give name too");
    if (f.version < 1) throw invalid(`version must be 1 or more, not ${f.version}`);
  }
  if (f.workflowId && !isUuid(f.workflowId)) throw invalid(`workflow_id ${JSON.stringify(f.workflowId.slice(0, 64))} is not a run id (a UUID)`);
  if (f.startTimeFromMs < 0n) throw invalid("start_time_from_ms must be 0 (open) or a time in ms since the epoch");
  if (f.startTimeToMs < 0n) throw invalid("start_time_to_ms must be 0 (open) or a time in ms since the epoch");
  if (f.startTimeFromMs > 0n && f.startTimeToMs > 0n && f.startTimeFromMs >= f.startTimeToMs) {
    throw invalid("start_time_from_ms must be before start_time_to_ms (the window is empty)");
  }
}

/** A checked filter as the store reads it (unset fields left out). */
export function storeFilter(f: RunFilter): CountFilter {
  return {
    ...(f.name ? { name: f.name } : {}),
    ...(f.version !== undefined ? { version: f.version } : {}),
    ...(f.correlationId ? { correlationId: f.correlationId } : {}),
    ...(f.startTimeFromMs ? { from: Number(f.startTimeFromMs) } : {}),
    ...(f.startTimeToMs ? { to: Number(f.startTimeToMs) } : {}),
  };
}

/** A digest of everything the console shows of a run and its tasks. */
export function runState(run: RunState, tasks: TaskState[]): string {
  const hash = createHash("sha1");
  hash.update(`${run.status}|${run.updatedAt}|${run.endedAt}|`);
  for (const t of tasks) hash.update(`${t.id}:${t.status}:${t.updatedAt}:${t.startedAt}:${t.pollCount}:${t.retryCount};`);
  return hash.digest("base64url");
}
