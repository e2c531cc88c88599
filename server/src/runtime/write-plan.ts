// Stage 3 of an event batch: what the decisions mean for the database (one
// BatchWrite for the whole batch: rows, queue entries, outbox items, events,
// notifications) and what is left to do once it committed (AfterCommit).
// Pure: it reads only the decisions and what the load stage read.
import type { WorkflowDef } from "@baton/sdk";
import type { Decision, RunEvent } from "../decider/decider.js";
import { unknownKind } from "../decider/contract.js";
import type { RunState, TaskState } from "../decider/model.js";
import { fairShareOfRun } from "../fairness/key.js";
import type { BatchWrite, OutboxWritten, QueueEntry } from "../store/store.js";
import type { TaskIds } from "./decide.js";
import type { Evaluation } from "./evaluations.js";
import { waitingForWorkers, type HandOff } from "./hand-off.js";
import type { KeptRun } from "./run-memory.js";

/**
 * How long other replicas leave a new outbox item to the process that wrote
 * it (it carries the item out right after commit); after that, one that died
 * meanwhile has its items taken over.
 */
const OUTBOX_HOLD_MS = 5_000;

/** The outbox item that tells an ended child run's parent (its waiting task) how it ended. */
export function childEndedItem(run: RunState) {
  return {
    parentRunId: run.parentRunId,
    taskId: run.parentTaskId,
    childId: run.id,
    status: run.status,
    output: run.output,
    reason: run.reason,
    name: run.name,
    version: run.version,
  };
}

/** What a batch leaves to do after its commit. */
export interface AfterCommit {
  /** Task types with tasks ready in the queue. */
  ready: Set<string>;
  ended: string[];
  /** The outbox items written, each with the run that wrote it. */
  outbox: OutboxWritten[];
  asyncTasks: TaskState[];
  /** User code to run off this thread, each answered by an `evaluated` event. */
  evaluations: Evaluation[];
  handOffs: HandOff[];
  decided: { decision: Decision; events: RunEvent[] }[];
  /** Runs to keep in memory once committed. */
  keep: KeptRun[];
  /** A run holding a concurrency slot ended: waiting runs of its key may have been admitted. */
  slotsFreed: boolean;
  /** The queue rows written (their keys join the fair claims once committed). */
  queued: QueueEntry[];
}

export function emptyWrite(now: number): BatchWrite {
  return {
    runs: [],
    newRuns: [],
    removed: [],
    inserts: [],
    updates: [],
    dequeue: [],
    enqueue: [],
    outbox: [],
    outboxHeldUntil: now + OUTBOX_HOLD_MS,
    events: [],
    now,
    notifyTaskTypes: [],
    notifyRunsEnded: [],
  };
}

/** `handOffs`: the batch's, shared with whoever gives their reservations back when it does not commit. */
export function emptyAfterCommit(handOffs: HandOff[]): AfterCommit {
  return { ready: new Set(), ended: [], outbox: [], asyncTasks: [], evaluations: [], handOffs, decided: [], keep: [], slotsFreed: false, queued: [] };
}

/**
 * Adds a decision's writes to its batch, and what to do after commit.
 * `existing`: ids of the tasks the run had before; `readRev`: the revision it
 * was decided from, undefined for a new run; `defOf`: definitions read so far
 * (a restarted run's fairness key is computed again from its definition).
 */
export function planWrite(
  decision: Decision,
  existing: TaskIds,
  readRev: number | undefined,
  now: number,
  defOf: (hash: string) => WorkflowDef | undefined,
  write: BatchWrite,
  after: AfterCommit,
): void {
  const { run, changed, removed, effects } = decision;
  const removedIds = new Set(removed);
  write.removed.push(...removed);
  for (const task of changed) (existing.has(task.id) && !removedIds.has(task.id) ? write.updates : write.inserts).push(task);
  if (readRev === undefined) write.newRuns.push(run);
  else write.runs.push({ run, rev: readRev });

  const dequeue = new Set<string>();
  for (const effect of effects) {
    switch (effect.kind) {
      case "enqueue":
        break;
      case "dequeue":
        dequeue.add(effect.taskId);
        break;
      case "startRun": {
        // The run's fairness key goes to the runs it starts, for those whose own workflow names none (see decide.ts).
        const fair = fairShareOfRun(run, defOf(run.defHash));
        write.outbox.push({
          kind: "startRun",
          payload: {
            ...effect.request,
            parentRunId: effect.request.linked ? run.id : "",
            requesterRunId: run.id,
            ...(fair.key ? { fairShare: fair } : {}),
          },
          runId: run.id,
        });
        break;
      }
      case "terminateRun":
        write.outbox.push({ kind: "terminateRun", payload: effect, runId: run.id });
        break;
      case "retryRun":
        write.outbox.push({ kind: "retryRun", payload: effect, runId: run.id });
        break;
      case "runEnded":
        write.notifyRunsEnded.push(run.id);
        after.ended.push(run.id);
        // Its slot went back in the same statement (a trigger): the next waiting run of its key may start.
        if (run.marks.concurrencyKey !== undefined) after.slotsFreed = true;
        if (run.parentRunId && run.parentTaskId) {
          write.outbox.push({ kind: "childEnded", payload: childEndedItem(run), runId: run.id });
        }
        break;
      case "runRevived":
        if (run.parentRunId && run.parentTaskId) {
          write.outbox.push({ kind: "childRevived", payload: { parentRunId: run.parentRunId, taskId: run.parentTaskId, childId: run.id }, runId: run.id });
        }
        break;
      case "publishEvent": {
        // The runs its handlers start take the run's fairness key, as the runs it starts itself do (see startRun).
        const fair = fairShareOfRun(run, defOf(run.defHash));
        write.events.push({
          sink: effect.sink,
          name: effect.name,
          payload: effect.payload,
          root: run.marks.root ?? run.id,
          fairKey: fair.key,
          fairWeight: fair.weight,
        });
        break;
      }
      case "runAsync":
        after.asyncTasks.push(effect.task);
        break;
      case "evaluate": {
        // Asked for and answered in this decision already (a newer lease), or the task ended: nothing to run.
        // (A task waiting for its input waits SCHEDULED; a run's ending asks with no task.)
        const task = effect.task;
        const waiting = task
          ? (task.status === "IN_PROGRESS" || (task.status === "SCHEDULED" && task.marks.awaitingInput === true)) &&
            task.leaseToken === effect.leaseToken &&
            !removedIds.has(task.id)
          : run.marks.ending?.leaseToken === effect.leaseToken;
        if (waiting) after.evaluations.push({ runId: run.id, taskId: task?.id ?? "", leaseToken: effect.leaseToken, request: effect.request });
        break;
      }
      default:
        unknownKind(effect);
    }
  }
  // Only tasks still waiting for a worker go to the queue (one handed off at once is leased already).
  const queued = new Set<string>();
  // The run's share, once per decision rather than per task (a fork queues thousands).
  let fair: ReturnType<typeof fairShareOfRun> | undefined;
  for (const t of waitingForWorkers(decision)) {
    if (t.status !== "SCHEDULED") continue;
    if (t.visibleAt <= now && !after.ready.has(t.defName)) {
      after.ready.add(t.defName);
      write.notifyTaskTypes.push(t.defName);
    }
    queued.add(t.id);
    fair ??= fairShareOfRun(run, defOf(run.defHash));
    const entry = {
      taskId: t.id,
      taskType: t.defName,
      runId: t.runId,
      priority: run.priority,
      visibleAt: t.visibleAt,
      fairKey: fair.key,
      fairWeight: fair.weight,
    };
    write.enqueue.push(entry);
    after.queued.push(entry);
  }
  for (const id of dequeue) if (!queued.has(id)) write.dequeue.push(id);
}
