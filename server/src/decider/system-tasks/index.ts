// System tasks: the task types the engine itself carries out, with Conductor's
// semantics, one family a file (as the SDK's builder/tasks/). Each is a few
// hooks the decider calls; none does I/O or runs user code: scripts and jq
// are asked for as evaluations (evaluation.ts) and answered by an event; HTTP
// and child runs are effects.
import type { SystemTask } from "./contract.js";
import { decision, exclusiveJoin } from "./switch.js";
import { fork, join, dynamicFork } from "./fork.js";
import { doWhile } from "./loop.js";
import { setVariable, terminate, noop } from "./system.js";
import { waitTask, human, event } from "./waits.js";
import { inline, lambda, jqTransform } from "./scripts.js";
import { dynamic, subWorkflow, startWorkflow } from "./compose.js";
import { http } from "./http.js";

export { isWorkerTask, type SystemTask, type SystemTaskServices } from "./contract.js";

export const SYSTEM_TASKS: Record<string, SystemTask> = {
  DECISION: decision,
  SWITCH: decision,
  FORK_JOIN: fork,
  JOIN: join,
  EXCLUSIVE_JOIN: exclusiveJoin,
  FORK_JOIN_DYNAMIC: dynamicFork,
  DO_WHILE: doWhile,
  SET_VARIABLE: setVariable,
  TERMINATE: terminate,
  WAIT: waitTask,
  HUMAN: human,
  NOOP: noop,
  INLINE: inline,
  LAMBDA: lambda,
  JSON_JQ_TRANSFORM: jqTransform,
  DYNAMIC: dynamic,
  SUB_WORKFLOW: subWorkflow,
  START_WORKFLOW: startWorkflow,
  EVENT: event,
  HTTP: http,
};
