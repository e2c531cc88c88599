// User code a decision needs run (a script, a jq filter, a `${...}` template
// whose paths hold JSONPath filters): the decider never
// runs it. It asks for it as an effect and leaves the task waiting under a
// lease; after commit the engine has it evaluated off the serving thread and
// feeds the outcome back as an `evaluated` event, decided in its own
// transaction. A lease that runs out (the process that held the evaluation
// died) makes any replica's timer ask again, so nothing waits forever.
import type { Json } from "./model.js";

/** A `${...}` template to resolve in the queries pool, against a JSON copy of the context entries it reads (its paths hold filters). */
export interface Resolution {
  template: Json;
  context: { [name: string]: Json };
  taskId?: string;
}

export type EvaluationRequest =
  /** JavaScript with `$` bound to `bindings` (under them, the object `resolve` resolves to, when given). */
  | { kind: "script"; source: string; bindings: Json; resolve?: Resolution }
  /** A template whose paths hold filters; the value is the template resolved. */
  | ({ kind: "resolve" } & Resolution)
  /** A jq filter; the value is `{result, resultList}`. */
  | { kind: "jq"; filter: string; input: Json }
  /**
   * No code: the decision's budget ran out, and the engine answers at once so the run goes on in a new event;
   * `of`: what goes on, a loop's iterations or a dynamic fork's branches (each goes on in a batch lane of its own).
   */
  | { kind: "continue"; of: Continued };

/** What a `continue` evaluation goes on with. */
export type Continued = "loop" | "fork";

/** The value, or why there is none (the message the task's reason is made of). */
export type EvaluationOutcome = { ok: true; value: Json } | { ok: false; message: string };

/** How long an evaluation may take, queue included, before any replica asks for it again. */
export const EVALUATION_LEASE_MS = 60_000;
/** A continuation is answered right after commit: past this its process is taken to have died. */
export const CONTINUE_LEASE_MS = 5_000;
/** Loop iterations one decision starts; the rest go on in the next event. */
export const ITERATION_BUDGET = 100;
/**
 * Tasks one decision creates before it starts no further loop iteration nor
 * any more of a dynamic fork's branches (the rest go on in the next event): a
 * loop whose body forks wide would otherwise make its 100 iterations'
 * thousands of tasks in one go, and a fork of 5,000 branches held the serving
 * thread 40 ms and more. One iteration, or a static fork, is never split.
 */
export const TASK_BUDGET = 1_000;
