// Stage 5 of an event batch, once its transaction committed: hand the leased
// tasks to their waiting workers, wake the dispatcher and whoever waits for a
// run's end, start the asynchronous system tasks and the evaluations, tell
// the observers, and carry out the outbox items just written. The
// evaluations' answers are left to the engine, run by run: a caller waits for
// those of its own run only, never for another run's in the same batch.
import type { RunEvent } from "../decider/decider.js";
import type { Clock } from "../clock.js";
import type { Logger } from "../logger.js";
import type { RunTarget, Store } from "../store/store.js";
import type { EngineHooks } from "./contract.js";
import { carryOut } from "./evaluations.js";
import type { Outbox } from "./outbox.js";
import type { Evaluator } from "./services.js";
import type { AfterCommit } from "./write-plan.js";

export interface AfterCommitDeps {
  store: Pick<Store, "requeue" | "noteQueued">;
  clock: Clock;
  log: Logger;
  hooks: EngineHooks;
  evaluator: Evaluator;
  outbox: Outbox;
  /** Where an evaluation's answer goes: an event on the task's run (or the run's, for its ending). */
  handle(target: RunTarget, event: RunEvent, options?: { continuation?: boolean }): Promise<unknown>;
}

/** Each run's evaluations started after commit: each resolves once its answer was decided (or could not be). */
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
  for (const evaluation of after.evaluations) {
    const done = carryOut(evaluation, deps.evaluator, deps.handle, log);
    const ofRun = followUps.get(evaluation.runId);
    if (ofRun) ofRun.push(done);
    else followUps.set(evaluation.runId, [done]);
  }
  for (const { decision, events } of after.decided) hooks.decided?.(decision, events);
  for (const id of after.outboxIds)
    await deps.outbox.process(id).catch((error: unknown) => log.warn({ err: error, outbox: id }, "outbox item failed; it will be retried"));
  // Runs admitted by the slots this batch freed: started here now rather than at the next sweep.
  for (let n = 0; after.slotsFreed && n < 100; n++) {
    const started = await deps.outbox.process(undefined, "admitRun").catch((error: unknown) => {
      log.warn({ err: error }, "admitting a queued run failed; the sweep retries it");
      return false;
    });
    if (!started) break;
  }
  return followUps;
}
