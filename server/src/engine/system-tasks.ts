// System tasks: the task types the engine itself carries out, with Conductor's
// semantics. Each is a few hooks the decider calls; none does I/O or runs user
// code: scripts and jq are asked for as evaluations (evaluation.ts) and answered
// by an event; HTTP and child runs are effects.
import { stringifyJson } from "@baton/json";
import { TASK_TYPES, definitionRef, iterationRef, type WorkflowTask } from "@baton/sdk";
import type { TaskContext } from "./task-context.js";
import type { EvaluationOutcome, EvaluationRequest } from "./evaluation.js";
import { TERMINAL_TASK, TERMINAL_WORKFLOW, SUCCESSFUL_TASK, type Json, type JsonObject, type TaskState, type WorkflowStatus } from "./model.js";
import { parseDuration, parseUntil } from "./time.js";
import { MAX_VARIABLES_BYTES } from "../rules/variables.js";
import { lambdaSource, scriptTruth } from "../scripts/conductor.js";

/** Settings system tasks need, fixed per process. */
export interface SystemTaskServices {
  /** Largest SET_VARIABLE payload, in bytes of JSON. */
  maxVariablesBytes: number;
  /**
   * Whether a SUB_WORKFLOW may run a definition taken from run data (an
   * expression, or a dynamic fork's task list) rather than written in the
   * run's definition: that would let whoever starts runs run any definition.
   * Allowed when absent.
   */
  inlineDefinitionsFromData?: boolean;
}

export interface SystemTask {
  start(d: TaskContext, task: TaskState): void;
  /** A task this one waits on ended (a join's branch, a loop's body). */
  onChildEnded?(d: TaskContext, task: TaskState, child?: TaskState): void;
  onTick?(d: TaskContext, task: TaskState): void;
  /** When this task next needs a tick. */
  dueAt?(d: TaskContext, task: TaskState): number | undefined;
  /** A retried run reopens this task instead of copying it. */
  reopen?: boolean;
  /** The evaluation this task waits for, asked again when its lease ran out. */
  evaluation?(d: TaskContext, task: TaskState): EvaluationRequest | undefined;
  /** The answer to the evaluation this task asked for. */
  onEvaluated?(d: TaskContext, task: TaskState, outcome: EvaluationOutcome): void;
}

const SYSTEM_TYPE_NAMES: ReadonlySet<string> = new Set(TASK_TYPES.filter((t) => t !== "SIMPLE"));

/** Worker tasks are handed to workers: SIMPLE, and any type Conductor does not define. */
export function isWorkerTask(type: string): boolean {
  return type === "SIMPLE" || !SYSTEM_TYPE_NAMES.has(type);
}

function complete(d: TaskContext, task: TaskState, output: JsonObject = task.output): void {
  task.output = output;
  d.endTask(task, "COMPLETED", "");
}

function fail(d: TaskContext, task: TaskState, reason: string, terminal = false): void {
  d.endTask(task, terminal ? "FAILED_WITH_TERMINAL_ERROR" : "FAILED", reason);
}

function inProgress(d: TaskContext, task: TaskState): void {
  task.status = "IN_PROGRESS";
  task.startedAt = d.now;
  d.touch(task);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Ends a task that chose a path itself and schedules that path's first task. */
function completeAndEnter(d: TaskContext, task: TaskState, first: WorkflowTask | undefined, iteration: number): void {
  d.endTask(task, "COMPLETED", "");
  if (first) {
    task.executed = true;
    d.scheduleOrJump(first, iteration);
  }
}

function caseValue(value: unknown): string {
  if (value === undefined || value === null) return "null";
  return typeof value === "string" ? value : stringifyJson(value);
}

/** The script that picks a SWITCH's (or DECISION's) case, when it is not a plain input value. */
function caseScript(d: TaskContext, task: TaskState): EvaluationRequest | undefined {
  const wt = d.workflowTaskOf(task)!;
  if (task.type === "SWITCH") {
    return (wt.evaluatorType ?? "value-param") === "value-param" ? undefined : { kind: "script", source: wt.expression ?? "", bindings: task.input };
  }
  return wt.caseExpression ? { kind: "script", source: wt.caseExpression, bindings: task.input } : undefined;
}

const decision: SystemTask = {
  start(d, task) {
    const script = caseScript(d, task);
    if (script) return d.requestEvaluation(task, script);
    const wt = d.workflowTaskOf(task)!;
    enterCase(d, task, task.type === "SWITCH" ? task.input[wt.expression ?? ""] : task.input[wt.caseValueParam ?? ""]);
  },
  evaluation: caseScript,
  onEvaluated(d, task, outcome) {
    if (!outcome.ok) fail(d, task, `evaluating the ${task.type} expression failed: ${outcome.message}`, true);
    else enterCase(d, task, outcome.value);
  },
};

function enterCase(d: TaskContext, task: TaskState, value: unknown): void {
  const wt = d.workflowTaskOf(task)!;
  {
    const key = caseValue(value);
    const cases = wt.decisionCases ?? {};
    // Conductor: a case with no tasks is no case, the default case runs.
    const branch = Object.prototype.hasOwnProperty.call(cases, key) && cases[key]!.length > 0 ? cases[key] : wt.defaultCase;
    task.output = task.type === "SWITCH" ? { evaluationResult: [key], selectedCase: key } : { caseOutput: [key] };
    completeAndEnter(d, task, branch?.[0], task.iteration);
  }
}

const fork: SystemTask = {
  start(d, task) {
    const wt = d.workflowTaskOf(task)!;
    d.endTask(task, "COMPLETED", "");
    task.executed = true;
    for (const branch of wt.forkTasks ?? []) {
      if (branch[0]) d.scheduleOrJump(branch[0], task.iteration);
      // A branch's first task ended the run (a TERMINATE): nothing more is scheduled.
      if (TERMINAL_WORKFLOW.has(d.run.status)) return;
    }
    scheduleJoinAfter(d, task);
  },
};

/** Schedules the JOIN that follows a fork in the definition. */
function scheduleJoinAfter(d: TaskContext, forkTask: TaskState, joinOn?: string[]): void {
  const next = d.graph.next(d.defRef(forkTask));
  if (next.kind !== "task") return;
  const join = d.newTask(next.task, { iteration: forkTask.iteration, ...(joinOn ? { extra: { joinOn } } : {}) });
  // Conductor shows a dynamic join's references in its input.
  if (joinOn) join.input = { ...join.input, joinOn };
  d.dispatch(join);
}

function joinRefs(d: TaskContext, task: TaskState): string[] {
  const dynamic = task.extra["joinOn"];
  const refs = Array.isArray(dynamic) ? (dynamic as string[]) : (d.workflowTaskOf(task)?.joinOn ?? []);
  // Inside a loop, each name means this iteration's instance (given with or without its suffix).
  return refs.map((ref) => iterationRef(definitionRef(ref, task.iteration), task.iteration));
}

const join: SystemTask = {
  reopen: true,
  start(d, task) {
    inProgress(d, task);
    join.onChildEnded!(d, task);
  },
  onChildEnded(d, task) {
    const latest = d.latestByRef();
    const refs = joinRefs(d, task);
    const done = (ref: string) => {
      const branchTask = latest.get(ref);
      return branchTask !== undefined && TERMINAL_TASK.has(branchTask.status) && branchTask.executed;
    };
    // Branches tend to end in the order they were forked: looking from the last
    // one finds a pending branch at once, so a wide fork's join costs O(1) per branch.
    for (let i = refs.length - 1; i >= 0; i--) if (!done(refs[i]!)) return;
    const output: JsonObject = {};
    const failed: TaskState[] = [];
    const withErrors: TaskState[] = [];
    for (const ref of refs) {
      const branchTask = latest.get(ref)!;
      if (!SUCCESSFUL_TASK.has(branchTask.status)) failed.push(branchTask);
      if (branchTask.status === "COMPLETED_WITH_ERRORS") withErrors.push(branchTask);
      // Conductor leaves out branches whose output is empty.
      if (Object.keys(branchTask.output).length > 0) output[ref] = branchTask.output;
    }
    task.output = output;
    const wt = d.workflowTaskOf(task);
    if (failed.length > 0 && !wt?.optional) {
      const first = failed[0]!;
      d.endTask(task, "FAILED", `join failed: task ${first.ref} ended ${first.status}`);
    } else if (withErrors.length > 0) {
      // An optional branch failed: the join says so, as Conductor's does (its reason names each one).
      d.endTask(task, "COMPLETED_WITH_ERRORS", `${withErrors.map((t) => `${t.defName}/${t.id}`).join(" ")} completed with errors`);
    } else d.endTask(task, "COMPLETED", "");
  },
};

const exclusiveJoin: SystemTask = {
  reopen: true,
  start(d, task) {
    inProgress(d, task);
    exclusiveJoin.onChildEnded!(d, task);
  },
  onChildEnded(d, task) {
    const latest = d.latestByRef();
    const wt = d.workflowTaskOf(task);
    for (const ref of [...joinRefs(d, task), ...(wt?.defaultExclusiveJoinTask ?? [])]) {
      const done = latest.get(ref);
      if (done && SUCCESSFUL_TASK.has(done.status) && done.status !== "SKIPPED") {
        complete(d, task, { ...done.output });
        return;
      }
    }
  },
};

const dynamicFork: SystemTask = {
  start(d, task) {
    const wt = d.workflowTaskOf(task)!;
    let tasks: WorkflowTask[];
    let inputs: Record<string, JsonObject>;
    const listParam = wt.dynamicForkTasksParam ?? wt.dynamicForkJoinTasksParam;
    if (listParam) {
      tasks = (task.input[listParam] ?? []) as unknown as WorkflowTask[];
      inputs = (task.input[wt.dynamicForkTasksInputParamName ?? ""] ?? {}) as Record<string, JsonObject>;
    } else {
      const name = task.input["forkTaskName"];
      const list = task.input["forkTaskInputs"];
      if (typeof name !== "string" || !Array.isArray(list)) {
        fail(d, task, "FORK_JOIN_DYNAMIC needs dynamicForkTasksParam, or forkTaskName and forkTaskInputs in its input", true);
        return;
      }
      const type = typeof task.input["forkTaskType"] === "string" ? (task.input["forkTaskType"] as string) : "SIMPLE";
      tasks = list.map((_, i) => ({ name, taskReferenceName: `${name}_${i}`, type }));
      inputs = Object.fromEntries(list.map((input, i) => [`${name}_${i}`, input as JsonObject]));
    }
    if (!Array.isArray(tasks) || tasks.some((t) => !t || typeof t.taskReferenceName !== "string" || typeof t.name !== "string")) {
      fail(d, task, "the dynamic fork's task list must be a list of tasks with name and taskReferenceName", true);
      return;
    }
    const refs = tasks.map((t) => t.taskReferenceName);
    const taken = new Set(d.tasks.map((t) => t.ref));
    const clash = refs.find((ref, i) => taken.has(ref) || refs.indexOf(ref) !== i);
    if (clash) {
      fail(d, task, `the dynamic fork's reference name ${clash} is already used in this run`, true);
      return;
    }
    d.endTask(task, "COMPLETED", "");
    task.executed = true;
    // Conductor: the forked tasks are in the fork's input, its output is empty.
    task.input = { ...task.input, forkedTasks: refs, forkedTaskDefs: tasks as unknown as Json };
    for (const t of tasks) {
      const input = inputs[t.taskReferenceName] ?? {};
      const forked = d.newTask({ ...t, type: t.type ?? "SIMPLE" }, { iteration: 0, input, extra: { dynamicJoin: d.defRef(task) } });
      d.dispatch(forked);
      if (TERMINAL_WORKFLOW.has(d.run.status)) return;
    }
    scheduleJoinAfter(d, task, refs);
  },
};

const doWhile: SystemTask = {
  reopen: true,
  start(d, task) {
    task.extra["outerIteration"] = task.iteration;
    const items = task.input["items"];
    if (items !== undefined && !Array.isArray(items)) {
      fail(d, task, "DO_WHILE items must be a list", true);
      return;
    }
    if (Array.isArray(items) && items.length === 0) {
      complete(d, task, { iteration: 0 });
      return;
    }
    inProgress(d, task);
    nextIteration(d, task, 1);
  },
  onChildEnded(d, task) {
    const wt = d.workflowTaskOf(task)!;
    const n = Number(task.output["iteration"] ?? 1);
    collectIteration(d, task);
    const output = task.output;
    const keep = Number(task.input["keepLastN"] ?? (wt.inputParameters?.["keepLastN"] as number | undefined) ?? 0);
    if (keep > 0) for (const key of Object.keys(output)) if (/^\d+$/.test(key) && Number(key) <= n - keep) delete output[key];
    d.touch(task);
    const items = task.input["items"];
    if (!Array.isArray(items)) return d.requestEvaluation(task, loopCondition(d, task));
    if (n < items.length) nextIteration(d, task, n + 1);
    else d.endTask(task, "COMPLETED", "");
  },
  evaluation(d, task) {
    return task.extra["continueAt"] !== undefined ? { kind: "continue" } : loopCondition(d, task);
  },
  onEvaluated(d, task, outcome) {
    const continueAt = task.extra["continueAt"];
    if (continueAt !== undefined) {
      delete task.extra["continueAt"];
      return nextIteration(d, task, Number(continueAt));
    }
    if (!outcome.ok) fail(d, task, `evaluating the loopCondition failed: ${outcome.message}`, true);
    else if (scriptTruth(outcome.value)) nextIteration(d, task, Number(task.output["iteration"] ?? 1) + 1);
    else d.endTask(task, "COMPLETED", "");
  },
};

/** Records the current iteration's task outputs under the loop's output[n] (Conductor's shape), from that iteration's tasks only. */
function collectIteration(d: TaskContext, loop: TaskState): JsonObject {
  const n = Number(loop.output["iteration"] ?? 1);
  const bodyRefs = new Set(d.graph.descendants(d.defRef(loop)));
  const iterationOutput: JsonObject = {};
  for (const t of d.tasksOfIteration(n)) {
    const ref = d.defRef(t);
    if (t.iteration === n && bodyRefs.has(ref)) iterationOutput[ref] = t.output;
  }
  d.ownOutput(loop)[String(n)] = iterationOutput;
  return iterationOutput;
}

/** The loopCondition with its bindings: the loop's inputs resolved afresh (variables may have changed), its output, and the iteration's outputs. */
function loopCondition(d: TaskContext, task: TaskState): EvaluationRequest {
  const wt = d.workflowTaskOf(task)!;
  const n = Number(task.output["iteration"] ?? 1);
  const bindings: JsonObject = { ...d.resolve(wt.inputParameters ?? {}, task.id), [d.defRef(task)]: task.output };
  const iterationOutput = task.output[String(n)];
  if (iterationOutput && typeof iterationOutput === "object" && !Array.isArray(iterationOutput)) {
    for (const [ref, out] of Object.entries(iterationOutput)) bindings[ref] = out;
  }
  return { kind: "script", source: wt.loopCondition ?? "false", bindings };
}

/** Starts iteration `n` if this decision's budget allows; otherwise the loop goes on in the next event. */
function nextIteration(d: TaskContext, task: TaskState, n: number): void {
  if (d.spendIteration()) return startIteration(d, task, n);
  task.extra["continueAt"] = n;
  d.requestEvaluation(task, { kind: "continue" });
}

function startIteration(d: TaskContext, task: TaskState, n: number): void {
  const wt = d.workflowTaskOf(task)!;
  const items = task.input["items"];
  const output = d.ownOutput(task);
  output["iteration"] = n;
  if (Array.isArray(items)) {
    output["item"] = items[n - 1] ?? null;
    output["index"] = n - 1;
  }
  // Conductor: the loop task's own `iteration` counts its iterations (`${loop['iteration']}`).
  task.iteration = n;
  d.touch(task);
  const first = wt.loopOver?.[0];
  if (first) d.scheduleOrJump(first, n);
  else d.endTask(task, "COMPLETED", "");
}

const setVariable: SystemTask = {
  start(d, task) {
    const variables = { ...d.run.variables, ...task.input };
    const size = Buffer.byteLength(stringifyJson(variables));
    const limit = d.services?.maxVariablesBytes ?? MAX_VARIABLES_BYTES;
    if (size > limit) {
      fail(d, task, `variables would be ${size} bytes; the limit is ${limit} bytes`, true);
      return;
    }
    d.run.variables = variables;
    complete(d, task, {});
  },
};

const terminate: SystemTask = {
  start(d, task) {
    const status = task.input["terminationStatus"];
    if (status !== "COMPLETED" && status !== "FAILED" && status !== "TERMINATED") {
      fail(d, task, `terminationStatus must be COMPLETED, FAILED or TERMINATED, not ${JSON.stringify(status ?? null)}`, true);
      return;
    }
    const reason = typeof task.input["terminationReason"] === "string" ? (task.input["terminationReason"] as string) : "";
    const workflowOutput = task.input["workflowOutput"];
    // Conductor: an object becomes the output as it is, any other value is wrapped as {output: value}.
    const output: JsonObject | undefined =
      workflowOutput === undefined || workflowOutput === null
        ? undefined
        : typeof workflowOutput === "object" && !Array.isArray(workflowOutput)
          ? { ...(workflowOutput as JsonObject) }
          : { output: workflowOutput };
    // Conductor: the loops this TERMINATE sits in keep the ending iteration's outputs (taken before
    // the TERMINATE's own output is set) and end CANCELED with no reason of their own.
    const ref = d.defRef(task);
    for (const loop of d.tasks) {
      if (loop.type !== "DO_WHILE" || TERMINAL_TASK.has(loop.status) || !d.graph.descendants(d.defRef(loop)).includes(ref)) continue;
      collectIteration(d, loop);
      d.endTask(loop, "CANCELED", "");
      loop.executed = true;
    }
    complete(d, task, output ?? {});
    task.executed = true;
    if (status !== "COMPLETED") {
      d.run.failedTaskId = task.id;
    }
    // Conductor: without workflowOutput the output is empty (outputParameters are not evaluated).
    d.endRun(status as WorkflowStatus, reason || `Workflow is ${status} by TERMINATE task: ${task.id}`, output ?? {});
  },
};

const waitTask: SystemTask = {
  start(d, task) {
    inProgress(d, task);
    const duration = task.input["duration"];
    const until = task.input["until"];
    try {
      if (typeof duration === "string" && duration) task.extra["waitUntil"] = d.now + parseDuration(duration);
      else if (typeof until === "string" && until) task.extra["waitUntil"] = parseUntil(until);
    } catch (error) {
      fail(d, task, errorMessage(error), true);
      return;
    }
    waitTask.onTick!(d, task);
  },
  onTick(d, task) {
    const until = task.extra["waitUntil"];
    if (typeof until === "number" && d.now >= until) complete(d, task);
  },
  dueAt(_d, task) {
    const until = task.extra["waitUntil"];
    return typeof until === "number" ? until : undefined;
  },
};

const human: SystemTask = {
  start(d, task) {
    inProgress(d, task);
  },
};

const noop: SystemTask = {
  start(d, task) {
    complete(d, task, {});
  },
};

function inlineScript(d: TaskContext, task: TaskState): EvaluationRequest | undefined {
  const expression = task.input["expression"];
  return typeof expression === "string" ? { kind: "script", source: expression, bindings: task.input } : undefined;
}

const inline: SystemTask = {
  start(d, task) {
    const wt = d.workflowTaskOf(task);
    const evaluator = (task.input["evaluatorType"] as string | undefined) ?? wt?.evaluatorType ?? "javascript";
    const expression = task.input["expression"];
    if (typeof expression !== "string") {
      fail(d, task, "INLINE needs an `expression` input", true);
      return;
    }
    if (evaluator === "value-param") complete(d, task, { result: task.input[expression] ?? null });
    else d.requestEvaluation(task, inlineScript(d, task)!);
  },
  evaluation: inlineScript,
  onEvaluated(d, task, outcome) {
    if (outcome.ok) return complete(d, task, { result: outcome.value });
    // Conductor: a script that throws is a terminal failure, its message in output.error for `${ref.output.error}`.
    task.output = { error: outcome.message };
    fail(d, task, outcome.message, true);
  },
};

function lambdaScript(_d: TaskContext, task: TaskState): EvaluationRequest | undefined {
  const script = task.input["scriptExpression"];
  return typeof script === "string" ? { kind: "script", source: lambdaSource(script), bindings: task.input } : undefined;
}

const lambda: SystemTask = {
  start(d, task) {
    const request = lambdaScript(d, task);
    if (!request) {
      fail(d, task, "LAMBDA needs a `scriptExpression` input", true);
      return;
    }
    d.requestEvaluation(task, request);
  },
  evaluation: lambdaScript,
  onEvaluated(d, task, outcome) {
    if (outcome.ok) complete(d, task, { result: outcome.value });
    else fail(d, task, outcome.message);
  },
};

function jqFilter(_d: TaskContext, task: TaskState): EvaluationRequest | undefined {
  const { queryExpression, ...input } = task.input;
  return typeof queryExpression === "string" ? { kind: "jq", filter: queryExpression, input } : undefined;
}

const jqTransform: SystemTask = {
  start(d, task) {
    const request = jqFilter(d, task);
    if (!request) {
      fail(d, task, "JSON_JQ_TRANSFORM needs a `queryExpression` input", true);
      return;
    }
    d.requestEvaluation(task, request);
  },
  evaluation: jqFilter,
  onEvaluated(d, task, outcome) {
    if (outcome.ok) {
      const { result, resultList } = outcome.value as { result: Json; resultList: Json[] };
      complete(d, task, { result, resultList });
    } else {
      // The message as jq's error() gave it, without the jq CLI's prefix (Conductor's jq gives it bare).
      const message = outcome.message.replace(/^jq: error \(at [^)]*\): /, "");
      task.output = { error: message };
      fail(d, task, message);
    }
  },
};

const dynamic: SystemTask = {
  start(d, task) {
    const wt = d.workflowTaskOf(task)!;
    const name = task.input[wt.dynamicTaskNameParam ?? "taskToExecute"];
    if (typeof name !== "string" || !name) {
      fail(d, task, `DYNAMIC needs the task name in input ${wt.dynamicTaskNameParam ?? "taskToExecute"}`, true);
      return;
    }
    // The dynamic task becomes the named task in place (Conductor).
    const def = d.taskDefs.get(name);
    task.type = "SIMPLE";
    task.defName = name;
    task.responseTimeoutSeconds = def?.responseTimeoutSeconds ?? 3600;
    task.timeoutSeconds = def?.timeoutSeconds ?? 0;
    task.extra["workflowTask"] = { ...wt, name, type: "SIMPLE" } as unknown as Json;
    d.touch(task);
    d.dispatch(task);
  },
};

const subWorkflow: SystemTask = {
  start(d, task) {
    const wt = d.workflowTaskOf(task)!;
    const { workflowDefinition, ...params } = (wt.subWorkflowParam ?? {}) as JsonObject;
    const resolved = d.resolveValue(params, task.id) as JsonObject;
    const name = typeof resolved["name"] === "string" ? resolved["name"] : "";
    // An inline definition's own `${...}` belong to the child: only a whole-expression reference is resolved here.
    const inline = typeof workflowDefinition === "string" ? d.resolveValue(workflowDefinition, task.id) : workflowDefinition;
    const written = typeof workflowDefinition === "object" && d.graph.task(d.defRef(task)) !== undefined;
    if (inline !== undefined && inline !== null && !written && d.services?.inlineDefinitionsFromData === false) {
      fail(d, task, "SUB_WORKFLOW takes its definition from run data, which this server refuses: register the definition and name it in subWorkflowParam.name, or start the server with --allow-inline-definitions", true);
      return;
    }
    if (!name && !(inline && typeof inline === "object")) {
      fail(d, task, "SUB_WORKFLOW needs subWorkflowParam.name or an inline workflowDefinition", true);
      return;
    }
    const depth = Number(d.run.extra["depth"] ?? 0);
    if (depth >= 32) {
      fail(d, task, `sub-workflow nesting deeper than 32 levels (a workflow that starts itself?)`, true);
      return;
    }
    const childId = d.newId();
    task.subWorkflowId = childId;
    task.output = { subWorkflowId: childId };
    inProgress(d, task);
    const version = resolved["version"];
    d.effects.push({
      kind: "startRun",
      request: {
        runId: childId,
        parentTaskId: task.id,
        name: name || String((inline as JsonObject)["name"] ?? ""),
        ...(typeof version === "number" || (typeof version === "string" && version !== "") ? { version: Number(version) } : {}),
        ...(inline && typeof inline === "object" ? { definition: inline as never } : {}),
        input: task.input,
        correlationId: d.run.correlationId,
        priority: d.run.priority,
        linked: true,
        depth: depth + 1,
      },
    });
  },
};

const startWorkflow: SystemTask = {
  start(d, task) {
    const request = task.input["startWorkflow"];
    const r = (request && typeof request === "object" && !Array.isArray(request) ? request : {}) as JsonObject;
    const malformed =
      typeof r["name"] !== "string" || !r["name"]
        ? "a name"
        : r["version"] !== undefined && r["version"] !== null && typeof r["version"] !== "number"
          ? "a numeric version"
          : r["input"] !== undefined && r["input"] !== null && (typeof r["input"] !== "object" || Array.isArray(r["input"]))
            ? "an object input"
            : "";
    if (malformed) {
      fail(d, task, `START_WORKFLOW needs input startWorkflow: {name, version?, input?, correlationId?} with ${malformed}`);
      return;
    }
    const childId = d.newId();
    d.effects.push({
      kind: "startRun",
      request: {
        runId: childId,
        parentTaskId: "",
        name: r["name"] as string,
        ...(typeof r["version"] === "number" ? { version: r["version"] } : {}),
        input: (r["input"] ?? {}) as JsonObject,
        correlationId: typeof r["correlationId"] === "string" ? r["correlationId"] : d.run.correlationId,
        priority: d.run.priority,
        linked: false,
        depth: Number(d.run.extra["depth"] ?? 0) + 1,
        failTaskIfMissing: task.id,
      },
    });
    // Completes (or fails, when the run cannot be started) once the start has happened: see runStarted.
    task.output = { workflowId: childId };
    inProgress(d, task);
  },
};

const event: SystemTask = {
  start(d, task) {
    const wt = d.workflowTaskOf(task)!;
    const sink = wt.sink ?? (task.input["sink"] as string | undefined) ?? "";
    if (!sink) {
      fail(d, task, "EVENT needs a sink", true);
      return;
    }
    // Conductor's queue names: "conductor" alone is this task's own queue,
    // "conductor:<name>" is scoped to the workflow, any other sink is as written.
    let name = sink;
    if (sink === "conductor") name = `conductor:${d.run.name}:${task.ref}`;
    else if (sink.startsWith("conductor:")) name = `conductor:${d.run.name}:${sink.slice("conductor:".length)}`;
    else if (sink.startsWith("conductor")) {
      fail(d, task, `Invalid / Unsupported sink specified: ${sink}`, true);
      return;
    }
    const payload: JsonObject = {
      ...task.input,
      workflowInstanceId: d.run.id,
      workflowType: d.run.name,
      workflowVersion: d.run.version,
      correlationId: d.run.correlationId,
    };
    d.effects.push({ kind: "publishEvent", sink, name, payload });
    task.output = { ...payload, event_produced: name };
    if (wt.asyncComplete) inProgress(d, task);
    else d.endTask(task, "COMPLETED", "");
  },
};

const http: SystemTask = {
  start(d, task) {
    inProgress(d, task);
    task.leaseToken = d.newId();
    task.leaseExpiresAt = d.now + Math.max(task.responseTimeoutSeconds, 1) * 1000;
    d.effects.push({ kind: "runAsync", task });
  },
  onTick(d, task) {
    // The process that ran the call died before it answered: call again.
    if (task.leaseExpiresAt > 0 && d.now >= task.leaseExpiresAt) {
      d.endTask(task, "TIMED_OUT", "HTTP call got no answer in time");
    }
  },
  dueAt(_d, task) {
    return task.leaseExpiresAt || undefined;
  },
};

export const SYSTEM_TASKS: Record<string, SystemTask> = {
  DECISION: decision,
  SWITCH: decision,
  FORK_JOIN: fork,
  FORK: fork,
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
