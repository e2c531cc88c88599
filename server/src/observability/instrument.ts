// Feeds the metrics from hooks the server wires at construction: the
// engine's `decided` (every committed decision: runs started and ended, tasks
// ended, leases expired), the dispatcher's `claimed` (tasks claimed from the
// queue) and the engine's `reserveWorker` (tasks handed over at commit).
// Failed database calls are counted by the store's onDbError hook.
// Everything recorded here happens after commit.
import type { Decision, RunEvent } from "../decider/decider.js";
import { TERMINAL_TASK, type TaskState } from "../decider/model.js";
import { isWorkerTask } from "../decider/system-tasks/index.js";
import type { Reservation } from "../runtime/engine.js";
import type { Metrics } from "./metrics.js";

/** What the decider writes when a running task's worker went silent past its lease. */
const LEASE_EXPIRED = "responseTimeout";

export interface EngineObserver {
  /** The engine's decided hook: counts started and ended runs and tasks. */
  decided(decision: Decision, events: RunEvent[]): void;
  /** The dispatcher's claimed hook: tasks claimed from the queue at `claimedAt`. */
  claimed(tasks: TaskState[], claimedAt: number): void;
  /** Wraps a worker reservation (engine hook reserveWorker) so direct hand-offs count as claims. */
  reserved(reservation: Reservation | undefined): Reservation | undefined;
}

/**
 * `handedOut` sees every task given to a worker on this replica (claimed from
 * the queue or handed over at commit), e.g. to remember its type for the
 * scope check of the worker's next update.
 */
export function engineObserver(metrics: Metrics, handedOut: (task: TaskState) => void = () => {}): EngineObserver {
  const ended = (task: TaskState) => {
    if (!isWorkerTask(task.type) || !TERMINAL_TASK.has(task.status) || task.startedAt <= 0) return;
    const end = task.endedAt > 0 ? task.endedAt : task.updatedAt;
    metrics.execution.observe({ task_type: task.defName, status: task.status }, Math.max(0, end - task.startedAt) / 1000);
  };
  const queueWait = (task: TaskState, claimedAt: number) => {
    handedOut(task);
    const ready = Math.max(task.scheduledAt, task.visibleAt);
    metrics.queueWait.observe({ task_type: task.defName }, Math.max(0, claimedAt - ready) / 1000);
  };
  return {
    decided(decision, events) {
      // A new run is decided once, from its start event, when its row is written.
      if (events.some((e) => e.kind === "start")) metrics.runsStarted.inc();
      if (decision.effects.some((e) => e.kind === "runEnded")) metrics.runsEnded.inc({ status: decision.run.status });
      const reported = new Set(events.flatMap((e) => (e.kind === "taskResult" ? [e.taskId] : [])));
      const ticked = events.some((e) => e.kind === "tick");
      for (const task of decision.changed) {
        if (reported.has(task.id)) ended(task);
        else if (ticked && task.status === "TIMED_OUT" && isWorkerTask(task.type)) {
          if (task.reason.startsWith(LEASE_EXPIRED)) metrics.leaseExpiries.inc({ task_type: task.defName });
          ended(task);
        }
      }
    },
    claimed(tasks, claimedAt) {
      for (const task of tasks) queueWait(task, claimedAt);
    },
    reserved(reservation) {
      if (!reservation) return undefined;
      return {
        ...reservation,
        deliver(task) {
          const delivered = reservation.deliver(task);
          // Handed over at commit, without the queue: the wait is from ready to that commit.
          if (delivered) queueWait(task, task.updatedAt);
          return delivered;
        },
      };
    },
  };
}
