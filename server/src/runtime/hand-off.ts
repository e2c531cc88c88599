// Between deciding and planning the write: a worker task made ready by a
// decision, with a worker of its type waiting on this replica, is leased to
// that worker at once (delivered at commit) instead of going through the
// queue table. The reservation is given back if the batch does not commit.
import type { TaskDef } from "@baton/sdk";
import type { Decision } from "../decider/decider.js";
import type { TaskState } from "../decider/model.js";
import { isWorkerTask } from "../decider/system-tasks/index.js";
import { randomUUID } from "node:crypto";
import { leaseDeadline } from "../rules/lease.js";
import type { ClaimedRun, HandOffRoom } from "../store/store.js";
import type { Reservation } from "./contract.js";

export interface HandOff {
  task: TaskState;
  /** What the worker is told of the task's run. */
  run: ClaimedRun;
  reservation: Reservation;
}

/** The tasks a decision leaves waiting for a worker (what its enqueue effects name, still scheduled). */
export function waitingForWorkers(decision: Decision): TaskState[] {
  const removed = new Set(decision.removed);
  const enqueue = new Map<string, TaskState>();
  for (const effect of decision.effects) if (effect.kind === "enqueue") enqueue.set(effect.task.id, effect.task);
  return [...enqueue.values()].filter((t) => t.status === "SCHEDULED" && isWorkerTask(t.type) && !removed.has(t.id));
}

/**
 * Leases what it can of a decision's waiting tasks to workers waiting here;
 * the tasks change in place. While keyed tasks of a type are queued, `room`
 * (store/fair-claim.ts) says where one of its run's key may go: a key with
 * many rows among them (or one of a higher priority) waits its turn in the
 * fair claim rather than pass them; a quiet key, or one with a few rows that
 * found no room a moment ago, takes only a slot a stream keeps for such keys.
 */
export function handOff(
  decision: Decision,
  now: number,
  taskDefs: Map<string, TaskDef>,
  reserveWorker: ((taskType: string, room: "any" | "quiet", key: string) => Reservation | undefined) | undefined,
  room: (taskType: string) => HandOffRoom = () => "any",
  /** The run's fairness key ("" for none), which the worker's stream takes turns by. */
  fairKey = "",
): HandOff[] {
  const handOffs: HandOff[] = [];
  if (!reserveWorker) return handOffs;
  for (const t of waitingForWorkers(decision)) {
    if (t.visibleAt > now || hasClaimLimits(taskDefs.get(t.defName))) continue;
    const where = room(t.defName);
    if (where === "none") continue;
    const reservation = reserveWorker(t.defName, where, fairKey);
    if (!reservation) continue;
    leaseTo(t, reservation.workerId, now);
    const { name, version, correlationId, priority } = decision.run;
    handOffs.push({ task: t, run: { name, version, correlationId, priority, fairKey }, reservation });
  }
  return handOffs;
}

/** Tasks with a concurrency or rate limit are claimed from the queue, where the limit is counted. */
function hasClaimLimits(def: TaskDef | undefined): boolean {
  return Boolean(def && ((def.concurrentExecLimit ?? 0) > 0 || (def.concurrentExecLimitPerKey ?? 0) > 0 || (def.rateLimitPerFrequency ?? 0) > 0));
}

/** Marks a task handed to a worker, exactly as a claim from the queue would. */
function leaseTo(task: TaskState, workerId: string, now: number): void {
  task.status = "IN_PROGRESS";
  task.pollCount += 1;
  task.workerId = workerId;
  task.leaseToken = randomUUID();
  if (!task.startedAt) task.startedAt = now;
  task.leaseExpiresAt = leaseDeadline({ now, startedAt: task.startedAt, leaseSeconds: task.responseTimeoutSeconds, timeoutSeconds: task.timeoutSeconds });
  task.updatedAt = now;
}
