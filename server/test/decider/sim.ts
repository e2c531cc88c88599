// A run driven by the pure decider alone: state in, state out, time as an input.
import type { TaskDef, WorkflowDef } from "@baton/sdk";
import { decide, type Decision, type Effect, type RunEvent } from "../../src/decider/decider.js";
import type { EvaluationOutcome, EvaluationRequest, Resolution } from "../../src/decider/evaluation.js";
import { Graph } from "../../src/decider/graph.js";
import type { Json, JsonObject, RunState, TaskState, TaskStatus } from "../../src/decider/model.js";
import { resolveValue } from "../../src/expressions/resolve.js";
import type { SystemTaskServices } from "../../src/decider/system-tasks/index.js";
import type { TaskBook } from "../../src/decider/task-book.js";

export const T0 = Date.UTC(2030, 0, 1);

/** A definition "w" (version 1, schema 2) of `tasks`, with `extra` fields (outputParameters, failureWorkflow...). */
export const flowDef = (tasks: unknown[], extra: Record<string, unknown> = {}): WorkflowDef =>
  ({ name: "w", version: 1, schemaVersion: 2, tasks, ...extra }) as WorkflowDef;

/** A worker task named and referenced `ref`. */
export const simple = (ref: string) => ({ name: ref, taskReferenceName: ref, type: "SIMPLE" });

export const testServices: SystemTaskServices = { maxVariablesBytes: 1024 };

/** A run as the decider sees it before its start event, created at T0; `run` overrides fields. */
export function newRunState(name: string, input: JsonObject = {}, run: Partial<RunState> = {}): RunState {
  return {
    id: "run-1",
    name,
    version: 1,
    defHash: "h",
    status: "RUNNING",
    input,
    output: {},
    variables: {},
    correlationId: "",
    idempotencyKey: "",
    priority: 0,
    reason: "",
    failedRefs: [],
    failedTaskId: "",
    parentRunId: "",
    parentTaskId: "",
    createdAt: T0,
    updatedAt: T0,
    endedAt: 0,
    wakeAt: 0,
    nextSeq: 1,
    marks: {},
    ...run,
  };
}

/** A template whose paths hold filters, resolved here as the queries pool resolves it. */
function resolved(r: Resolution): Json {
  return resolveValue(r.template, r.context, { runFilters: true, ...(r.taskId !== undefined ? { taskId: r.taskId } : {}) });
}

/** Scripts as plain JavaScript functions: enough for unit tests of the decider (the sandbox is tested elsewhere). */
function evaluate(request: EvaluationRequest): EvaluationOutcome {
  try {
    switch (request.kind) {
      case "script": {
        // Inputs that read a filter are resolved first and bound under the rest, as the engine does.
        const bindings = request.resolve ? { ...(resolved(request.resolve) as JsonObject), ...(request.bindings as JsonObject) } : request.bindings;
        return { ok: true, value: new Function("$", `return eval(${JSON.stringify(request.source)});`)(bindings) as never };
      }
      case "resolve":
        return { ok: true, value: resolved(request) };
      case "jq":
        throw new Error("jq is not used in these tests");
      case "continue":
        return { ok: true, value: true };
    }
  } catch (error) {
    return { ok: false, message: (error as Error).message };
  }
}

/** What a decision asked for and still waits for: a task's evaluation (not its input: those are answered by hand), or the run's ending. */
function pendingEvaluations(decision: Decision) {
  const waiting = (e: Extract<Effect, { kind: "evaluate" }>) =>
    e.task ? e.task.status === "IN_PROGRESS" && e.task.leaseToken === e.leaseToken : decision.run.marks.ending?.leaseToken === e.leaseToken;
  return decision.effects.flatMap((e) => (e.kind === "evaluate" && waiting(e) ? [e] : []));
}

/**
 * A run decided one event at a time, as the engine decides it: the
 * evaluations a decision asks for wait until the test answers them (`asked`,
 * `answerEvaluation`). Sim answers them at once.
 */
export class ManualRun {
  run: RunState;
  tasks: TaskState[] = [];
  now = T0;
  last!: Decision;
  /** How many events were decided, the start included. */
  decisions = 0;
  private ids = 0;
  private book: TaskBook | undefined;
  readonly graph: Graph;

  constructor(
    readonly def: WorkflowDef,
    readonly taskDefs: Map<string, TaskDef> = new Map(),
    input: JsonObject = {},
    run: Partial<RunState> = {},
    /** Hand each decision the book of the last, as the engine does for a run it holds in memory (false: a fresh book each time). */
    readonly keepBook = true,
  ) {
    this.graph = new Graph(def);
    this.run = newRunState(def.name, input, run);
    this.apply({ kind: "start" });
  }

  /** Decides `event`; evaluations it asks for are left waiting. */
  apply(event: RunEvent): Decision {
    return this.decideOne(event);
  }

  protected decideOne(event: RunEvent): Decision {
    this.decisions++;
    this.last = decide(
      {
        def: this.def,
        graph: this.graph,
        run: this.run,
        tasks: this.tasks,
        book: this.keepBook ? this.book : undefined,
        taskDefs: this.taskDefs,
        now: this.now,
        newId: () => `id-${++this.ids}`,
        services: testServices,
        ownsTasks: true,
      },
      event,
    );
    this.run = this.last.run;
    this.tasks = this.last.tasks;
    this.book = this.last.book;
    for (const t of this.last.changed) t.rev++;
    return this.last;
  }

  /** The evaluations the last decision asked for. */
  asked(): Extract<Effect, { kind: "evaluate" }>[] {
    return this.last.effects.filter((e): e is Extract<Effect, { kind: "evaluate" }> => e.kind === "evaluate");
  }

  /** Answers an evaluation with `value`. */
  answerEvaluation(e: Extract<Effect, { kind: "evaluate" }>, value: unknown): Decision {
    return this.apply({ kind: "evaluated", taskId: e.task?.id ?? "", leaseToken: e.leaseToken, outcome: { ok: true, value: value as never } });
  }
}

/** A run driven by the pure decider, with every evaluation it asks for answered at once (`evaluate` above). */
export class Sim extends ManualRun {
  /**
   * Decides `event`, then answers every evaluation it asks for at once, as the
   * engine does after commit; `last` holds the effects and changes of them all.
   */
  override apply(event: RunEvent): Decision {
    let decision = this.decideOne(event);
    const effects = [...decision.effects];
    const changed = new Set(decision.changed);
    for (let asked = pendingEvaluations(decision); asked.length > 0; asked = pendingEvaluations(decision)) {
      for (const e of asked) {
        decision = this.decideOne({ kind: "evaluated", taskId: e.task?.id ?? "", leaseToken: e.leaseToken, outcome: evaluate(e.request) });
        effects.push(...decision.effects);
        for (const t of decision.changed) changed.add(t);
      }
    }
    this.last = { ...decision, effects, changed };
    return this.last;
  }

  latest(ref: string): TaskState {
    const task = [...this.tasks].reverse().find((t) => t.ref === ref);
    if (!task) throw new Error(`no task ${ref} in ${this.tasks.map((t) => t.ref).join(", ")}`);
    return task;
  }

  /**
   * Hands the latest scheduled instance of `ref` to a worker, like the store's
   * claim does: only once it is visible, a new lease token each time, the
   * first start time kept.
   */
  claim(ref: string): TaskState {
    const task = this.latest(ref);
    if (task.status !== "SCHEDULED") throw new Error(`${ref} is ${task.status}, not SCHEDULED`);
    if (task.visibleAt > this.now) throw new Error(`${ref} is not visible until ${task.visibleAt - this.now} ms from now`);
    task.status = "IN_PROGRESS";
    task.pollCount++;
    task.startedAt ||= this.now;
    task.leaseToken = `lease-${task.id}-${task.pollCount}`;
    task.leaseExpiresAt = this.now + task.responseTimeoutSeconds * 1000;
    return task;
  }

  /** Reports `status` for the latest instance of `ref`, with the lease it holds (claim it first). */
  answer(ref: string, status: TaskStatus, output: JsonObject = {}, extra: { reason?: string; callbackAfterSeconds?: number } = {}): Decision {
    const task = this.latest(ref);
    return this.apply({
      kind: "taskResult",
      taskId: task.id,
      leaseToken: task.leaseToken,
      status,
      output,
      reason: extra.reason ?? "",
      callbackAfterSeconds: extra.callbackAfterSeconds ?? 0,
      workerId: "w",
    });
  }

  /** Claims `ref` and reports `status` for it. */
  finish(ref: string, status: TaskStatus = "COMPLETED", output: JsonObject = {}, reason = ""): Decision {
    this.claim(ref);
    return this.answer(ref, status, output, { reason });
  }

  /** Moves time on by `ms` and lets the decider see it. */
  advance(ms: number): Decision {
    this.now += ms;
    return this.apply({ kind: "tick" });
  }

  statuses(): [string, string][] {
    return this.tasks.map((t) => [t.ref, t.status]);
  }
}
