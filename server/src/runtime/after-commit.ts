// Stage 5 of an event batch, once its transaction committed: hand the leased
// tasks to their waiting workers, wake the dispatcher and whoever waits for a
// run's end, start the asynchronous system tasks and the evaluations, tell
// the observers, carry out the outbox items just written, and start the runs
// freed slots admitted. What each run's decision started (its evaluations, its
// outbox items) is returned by run: a caller waits for its own run's only,
// never for another run's in the same batch, nor for the admitted runs.
import type { Clock } from "../clock.js";
import type { Logger } from "../logger.js";
import type { Store } from "../store/store.js";
import type { EngineHooks } from "./contract.js";
import { carryOut, type AnswerEvent } from "./evaluations.js";
import type { Outbox } from "./outbox.js";
import type { Evaluator } from "./services.js";
import type { AfterCommit } from "./write-plan.js";

/**
 * Starts of runs one decision asked for (a fork's SUB_WORKFLOWs) carried out
 * at once: they share a transaction, and a fork of thousands still leaves
 * room in every batch for everyone else's events and starts.
 */
export const STARTS_TOGETHER = 64;

export interface AfterCommitDeps {
  store: Pick<Store, "requeue" | "noteQueued">;
  clock: Clock;
  log: Logger;
  hooks: EngineHooks;
  evaluator: Evaluator;
  outbox: Outbox;
  /** Where an evaluation's answer goes: an event on the task's run (or the run's, for its ending). */
  handle: AnswerEvent;
}

/** What each run's decision started after commit: its evaluations (each resolves once its answer was decided, or could not be) and its outbox items (once carried out). */
export type FollowUps = Map<string, Promise<void>[]>;

export async function afterCommit(after: AfterCommit, deps: AfterCommitDeps): Promise<FollowUps> {
  const { hooks, log } = deps;
  // Before the dispatcher wakes: a claim that sees the rows must also know their keys.
  deps.store.noteQueued(after.queued);
  for (const { task, run, reservation } of after.handOffs) {
    if (reservation.deliver({ ...task, run })) continue;
    // The worker left between reservation and commit: back to the queue.
    await deps.store
      .requeue(task.id, task.leaseToken)
      .catch((error: unknown) => log.warn({ err: error, taskId: task.id }, "requeue failed; the lease will expire"));
    after.ready.add(task.defName);
  }
  if (after.ready.size > 0) hooks.tasksReady(after.ready, deps.clock.now());
  for (const runId of after.ended) hooks.runEnded(runId);
  for (const task of after.asyncTasks) hooks.runAsync(task);
  // Each answer is an event of its own; the callers of the run's events are answered once they are decided (see awaitFollowUps).
  const followUps: FollowUps = new Map();
  const add = (runId: string, done: Promise<void>) => {
    const ofRun = followUps.get(runId);
    if (ofRun) ofRun.push(done);
    else followUps.set(runId, [done]);
  };
  for (const evaluation of after.evaluations) add(evaluation.runId, carryOut(evaluation, deps.evaluator, deps.handle, log));
  for (const { decision, events } of after.decided) hooks.decided?.(decision, events);
  // A run's outbox items, oldest first, are its follow-ups too: its callers see the child it started
  // exist (and what that child's start waited for), and the other runs' callers do not wait for them.
  for (const [runId, items] of outboxByRun(after.outbox)) add(runId, carryOutInTurn(items, deps.outbox, log));
  // Runs admitted by the slots this batch freed: started here now rather than at the next sweep. No
  // caller waits for them (they are not its run's), and each admission is done once committed, so the
  // next does not wait for the previous run's first scripts.
  if (after.slotsFreed) deps.outbox.admitInBackground();
  return followUps;
}

function outboxByRun(items: AfterCommit["outbox"]): Map<string, AfterCommit["outbox"]> {
  const byRun = new Map<string, AfterCommit["outbox"]>();
  for (const item of items) {
    const ofRun = byRun.get(item.runId);
    if (ofRun) ofRun.push(item);
    else byRun.set(item.runId, [item]);
  }
  return byRun;
}

/**
 * A run's items in the order written; starts of runs next to one another go
 * together, STARTS_TOGETHER at a time. Never rejects: an item that failed
 * stays in the outbox, and a sweep carries it out later.
 */
async function carryOutInTurn(items: AfterCommit["outbox"], outbox: Outbox, log: Logger): Promise<void> {
  const sorted = [...items].sort((a, b) => a.id - b.id);
  for (let i = 0; i < sorted.length;) {
    if (sorted[i]!.kind === "startRun") {
      const starts: number[] = [];
      for (; i < sorted.length && sorted[i]!.kind === "startRun" && starts.length < STARTS_TOGETHER; i++) starts.push(sorted[i]!.id);
      await outbox.processTogether(starts).catch((error: unknown) => log.warn({ err: error, outbox: starts }, "outbox items failed; they will be retried"));
      continue;
    }
    const { id } = sorted[i++]!;
    await outbox.process(id).catch((error: unknown) => log.warn({ err: error, outbox: id }, "outbox item failed; it will be retried"));
  }
}
