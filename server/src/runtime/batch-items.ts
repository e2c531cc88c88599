// What waits in the batch queue: an event for a run (or for the run of a
// task), or a start whose definition is already resolved. Each is answered
// once its batch has committed and the work after commit is done.
import type { RunEvent } from "../decider/decider.js";
import type { RunTarget } from "../store/store.js";
import type { EventOutcome, StartOptions } from "./contract.js";
import type { ResolvedDefinition } from "./definitions.js";

export interface EventItem {
  kind: "event";
  lane: string;
  /** Its run's fairness key, when the run is kept in memory (see BatchQueue). */
  key: string | undefined;
  target: RunTarget;
  event: RunEvent;
  skipLocked: boolean;
  /** Answered once committed, without waiting for its run's follow-ups (no caller needs them: an admission). */
  answerAtCommit: boolean;
  resolve(outcome: EventOutcome | undefined): void;
  reject(error: unknown): void;
}

export interface StartItem {
  kind: "start";
  lane: string;
  /** The fairness key of the run it starts (see BatchQueue). */
  key: string;
  options: StartOptions;
  resolved: ResolvedDefinition;
  resolve(result: { runId: string; created: boolean }): void;
  reject(error: unknown): void;
}

export type BatchItem = EventItem | StartItem;

/** What each item of a batch is answered with: an error rejects it. */
export type BatchResults = Map<BatchItem, EventOutcome | { runId: string; created: boolean } | undefined | Error>;

/** The run an event item is for, when known without reading (its target, or the run of a task seen lately). */
export function runIdOf(item: EventItem, runOfTask: (taskId: string) => string | undefined): string | undefined {
  return typeof item.target === "string" ? item.target : runOfTask(item.target.taskId);
}
