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

/**
 * The items with each start that names the idempotency key or the run id of a
 * start before it in the batch left out, that start answering it as it is
 * answered: with its run, as one that existed (or with its error). Written
 * together, the batch's statement inserted the first and skipped the rest,
 * whose keys then looked taken by no run once the batch rolled back, and the
 * batch was decided again for ever.
 */
export function withoutRepeatedStarts(items: BatchItem[]): BatchItem[] {
  const firsts = new Map<string, StartItem>();
  const repeats = new Map<StartItem, StartItem[]>();
  const kept: BatchItem[] = [];
  for (const item of items) {
    if (item.kind !== "start") {
      kept.push(item);
      continue;
    }
    const names = [item.options.idempotencyKey ? `key:${item.options.idempotencyKey}` : "", item.options.runId ? `id:${item.options.runId}` : ""].filter(
      Boolean,
    );
    const first = names.map((name) => firsts.get(name)).find((found) => found !== undefined);
    if (first) {
      repeats.get(first)!.push(item);
      continue;
    }
    for (const name of names) firsts.set(name, item);
    repeats.set(item, []);
    kept.push(item);
  }
  if (kept.length === items.length) return items;
  return kept.map((item) => {
    const same = item.kind === "start" ? repeats.get(item) : undefined;
    if (!same || same.length === 0 || item.kind !== "start") return item;
    return {
      ...item,
      resolve: (result) => {
        item.resolve(result);
        for (const repeat of same) repeat.resolve({ runId: result.runId, created: false });
      },
      reject: (error) => {
        item.reject(error);
        for (const repeat of same) repeat.reject(error);
      },
    } satisfies StartItem;
  });
}
