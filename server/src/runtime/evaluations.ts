// Carries out an evaluation a decision asked for, after its commit: the user
// code runs in the evaluator's worker threads, and its outcome is fed back to
// the run as an `evaluated` event, decided in a transaction of its own. If this
// process dies first, the task's lease runs out and any replica's timer asks again.
import type { RunEvent } from "../decider/decider.js";
import type { Continued, EvaluationRequest } from "../decider/evaluation.js";
import type { Logger } from "../logger.js";
import type { RunTarget } from "../store/store.js";
import type { Evaluator } from "./services.js";

/** Where an evaluation's answer goes: an event on the task's run (or the run's), a continuation in its own batch lane. */
export type AnswerEvent = (target: RunTarget, event: RunEvent, options?: { continuation?: Continued }) => Promise<unknown>;

export interface Evaluation {
  runId: string;
  /** Empty: the run's ending asked (run-end.ts). */
  taskId: string;
  leaseToken: string;
  request: EvaluationRequest;
}

/**
 * Resolves once the outcome was decided (or could not be: the lease then runs out and any replica asks again). Never rejects.
 * `handle` takes the task the answer is for (the engine finds its run, from memory when it holds it), or the run for its ending.
 */
export function carryOut(evaluation: Evaluation, evaluator: Evaluator, handle: AnswerEvent, log: Logger): Promise<void> {
  const { runId, taskId, leaseToken, request } = evaluation;
  return evaluator
    .evaluate(request)
    .then((outcome) =>
      handle(taskId ? { taskId } : runId, { kind: "evaluated", taskId, leaseToken, outcome }, request.kind === "continue" ? { continuation: request.of } : {}),
    )
    .then(
      () => undefined,
      (error: unknown) => log.debug({ err: error, runId, taskId }, "evaluation answer not applied; its lease will run out and it is asked again"),
    );
}

/**
 * How long the caller of an event waits for the evaluations and outbox items
 * it caused (and theirs) before it is answered: a call that completes a task
 * sees the scripts after it done, as when they ran inside the decision, and
 * the child runs it started, but a long chain (a loop of thousands of
 * scripted iterations) goes on without it.
 * Only that caller waits (not the callers of other runs' events decided in
 * the same batch): no thread and no transaction is held meanwhile.
 */
export const FOLLOW_UP_WAIT_MS = 10_000;

export async function awaitFollowUps(followUps: Promise<void>[]): Promise<void> {
  if (followUps.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(followUps), new Promise<void>((resolve) => (timer = setTimeout(resolve, FOLLOW_UP_WAIT_MS)))]);
  clearTimeout(timer);
}
