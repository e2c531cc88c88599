// The decider: given a definition, a run's state, an event and the time, it
// returns the new state and the effects. No I/O and no clock of its own, so
// every rule here is unit-tested without a database, with time as an input.
//
// This file holds one decision's state and routes each event to the module
// that knows it: the run's task book (task-book.ts), the flow through the
// definition (flow.ts), what is due (timeouts.ts, every instant computed by
// deadlines.ts), how a run ends (run-end.ts), task and child-run events
// (task-events.ts), operator events (operator-events.ts) and evaluations
// (evaluation-lease.ts). System tasks see the decision through TaskContext,
// the modules through DecisionContext.
import { abridged, stringifyJson } from "@baton/json";
import { definitionRef, type TaskDef, type WorkflowDef, type WorkflowTask } from "@baton/sdk";
import type { Graph } from "./graph.js";
import { TERMINAL_TASK, TERMINAL_WORKFLOW, type Json, type JsonObject, type RunState, type TaskState, type TaskStatus, type WorkflowStatus } from "./model.js";
import { ITERATION_BUDGET, TASK_BUDGET, type EvaluationRequest } from "./evaluation.js";
import { copyOutput } from "./loop-output.js";
import { enforceOutputLimit, outputLimit } from "./output-limit.js";
import { isWorkerTask } from "./system-tasks/index.js";
import { Resolver } from "./resolver.js";
import { TaskBook } from "./task-book.js";
import type { DecisionContext } from "./decision-context.js";
import { Refusal, unknownKind, type Decision, type DeciderInput, type Effect, type RunEvent, type SystemTaskServices } from "./contract.js";
import { dispatch, newTask, onTaskEnded, schedule, scheduleOrJump, type NewTaskOptions } from "./flow.js";
import { checkTimeouts, nextWake } from "./timeouts.js";
import { complete, endRun, isEnding } from "./run-end.js";
import { childEnded, childRevived, runStarted, taskResult } from "./task-events.js";
import { pause, restart, rerun, resume, retryRun, signal, skip, terminate, updateVariables } from "./operator-events.js";
import { evaluated, requestEvaluation } from "./evaluation-lease.js";
import * as queuedRevival from "./queued-revival.js";

export { Refusal, type Decision, type DeciderInput, type Effect, type RunEvent, type StartRunRequest } from "./contract.js";

/** Decides one event. Throws Refusal when the event is not allowed now. */
export function decide(input: DeciderInput, event: RunEvent): Decision {
  const decider = new Decider(input);
  decider.apply(event);
  return decider.result();
}

/** Events that would take the flow further: refused while a run waits for its output to end (run-end.ts). */
const FLOW_CHANGES: ReadonlySet<RunEvent["kind"]> = new Set(["skip", "rerun", "signal"]);

export class Decider implements DecisionContext {
  def: WorkflowDef;
  graph: Graph;
  readonly run: RunState;
  readonly book: TaskBook;
  readonly taskDefs: ReadonlyMap<string, TaskDef>;
  readonly now: number;
  readonly newId: () => string;
  readonly services: SystemTaskServices | undefined;
  readonly changed = new Set<TaskState>();
  readonly removed: string[] = [];
  readonly effects: Effect[] = [];
  applied = true;
  tick: boolean;
  /** Applying a task result whose reconcile is put off (see applyNext), and whether one is owed. */
  private deferring = false;
  private owed = false;
  private resolver: Resolver;
  private readonly runBefore: string;
  private readonly inputBefore: JsonObject;
  private readonly outputBefore: JsonObject;
  private readonly statusBefore: WorkflowStatus;
  /** Loop iterations this decision may still start (see ITERATION_BUDGET). */
  private iterationsLeft = ITERATION_BUDGET;
  /** Ids of the tasks this decision created; their number is held to TASK_BUDGET. */
  private readonly created = new Set<string>();
  /** Task outputs already copied in this decision, so later changes may be made in place. */
  private readonly ownedOutputs = new Set<TaskState>();
  /** The caller handed its tasks over: their outputs are this decision's too (see ownOutput). */
  private readonly ownsOutputs: boolean;

  constructor(input: DeciderInput) {
    this.def = input.def;
    this.graph = input.graph;
    // Input, output and variables are replaced, never changed in place, so they are shared, not copied (a run's input may be large).
    this.run = { ...input.run, marks: structuredClone(input.run.marks), failedRefs: [...input.run.failedRefs] };
    const tasks = input.ownsTasks ? input.tasks : input.tasks.map((task) => ({ ...task }));
    this.ownsOutputs = input.ownsTasks ?? false;
    this.tick = false;
    this.taskDefs = input.taskDefs;
    this.now = input.now;
    this.newId = input.newId;
    this.services = input.services;
    this.runBefore = runFingerprint(this.run);
    this.inputBefore = this.run.input;
    this.outputBefore = this.run.output;
    this.statusBefore = this.run.status;
    // A run held in memory brings the book of its last decision, over these same task objects.
    this.book = input.book && input.book.tasks === tasks ? input.book.resume() : new TaskBook(tasks);
    this.resolver = new Resolver(this.run, this.book, this.def);
  }

  get tasks(): TaskState[] {
    return this.book.tasks;
  }

  result(): Decision {
    this.settle();
    if (TERMINAL_WORKFLOW.has(this.statusBefore) && !TERMINAL_WORKFLOW.has(this.run.status)) this.effects.push({ kind: "runRevived" });
    this.run.wakeAt = nextWake(this);
    if (this.changed.size > 0 || this.removed.length > 0 || this.runChanged()) {
      this.run.updatedAt = this.now;
    }
    return {
      run: this.run,
      tasks: this.tasks,
      book: this.book,
      changed: this.changed,
      created: this.created,
      removed: this.removed,
      effects: this.effects,
      applied: this.applied,
    };
  }

  /** Input and output are replaced, never changed in place: compared by reference, they are not serialized per event. */
  private runChanged(): boolean {
    return this.run.input !== this.inputBefore || this.run.output !== this.outputBefore || runFingerprint(this.run) !== this.runBefore;
  }

  // ---- events ---------------------------------------------------------------

  /**
   * Applies one more event to the state so far (several events of one run are
   * decided together when they arrive together); returns whether it changed
   * anything. A Refusal may leave the state partly changed: the caller starts
   * over from the stored state without the refused event.
   */
  applyNext(event: RunEvent): boolean {
    this.applied = true;
    // Task results only end tasks: one reconcile after a run of them does what
    // one after each would, without walking every task per result (a wide fork).
    const defer = event.kind === "taskResult";
    if (!defer) this.settle();
    this.deferring = defer;
    try {
      this.apply(event);
    } finally {
      this.deferring = false;
    }
    return this.applied;
  }

  /** Carries out a reconcile that deferred task results still owe. */
  private settle(): void {
    if (!this.owed) return;
    this.owed = false;
    this.reconcile();
  }

  apply(event: RunEvent): void {
    if (isEnding(this.run) && FLOW_CHANGES.has(event.kind))
      throw new Refusal("FAILED_PRECONDITION", `run ${this.run.id} is ending (its output is being resolved): try again once it has ended`);
    switch (event.kind) {
      case "start":
        return this.start();
      case "admit":
        return this.admit();
      case "queueRevival":
        return this.queueRevival(event);
      case "taskResult":
        return taskResult(this, event);
      case "tick":
        this.tick = true;
        return this.reconcile();
      case "pause":
        return pause(this);
      case "resume":
        return resume(this);
      case "terminate":
        return terminate(this, event.reason);
      case "retry":
        return retryRun(this, event.resumeSubworkflowTasks);
      case "restart":
        return restart(this, event.def);
      case "rerun":
        return rerun(this, event);
      case "skip":
        return skip(this, event.ref, event.output);
      case "signal":
        return signal(this, event);
      case "childEnded":
        return childEnded(this, event);
      case "childRevived":
        return childRevived(this, event);
      case "runStarted":
        return runStarted(this, event);
      case "updateVariables":
        return updateVariables(this, event);
      case "evaluated":
        return evaluated(this, event);
      default:
        return unknownKind(event);
    }
  }

  start(): void {
    // Over its concurrency key's limit (see concurrency/limit.ts): refused, or waiting for a slot.
    const admission = this.run.marks.admission;
    if (admission === "refused") return this.endRun("TERMINATED", this.run.reason);
    if (admission === "queued") return;
    const first = this.def.tasks[0];
    if (first) schedule(this, first, { iteration: 0 });
    this.reconcile();
  }

  private admit(): void {
    if (this.run.marks.admission !== "queued" || TERMINAL_WORKFLOW.has(this.run.status)) {
      this.applied = false;
      return;
    }
    const { admission: _admission, ...kept } = this.run.marks;
    this.run.marks = kept;
    this.run.reason = "";
    // Paused while it waited: it holds its slot and starts (or runs again) when resumed.
    if (this.run.status === "PAUSED") return;
    if (kept.revival) return this.reviveHeld();
    this.start();
  }

  reviveHeld(): void {
    const { revival, ...kept } = this.run.marks;
    if (!revival) return;
    this.run.marks = kept;
    for (const event of queuedRevival.restore(this.run, revival)) this.apply(event);
    // The slot is still the run's (a restart starts its marks afresh).
    if (kept.concurrencyKey !== undefined) this.run.marks.concurrencyKey = kept.concurrencyKey;
  }

  private queueRevival(event: Extract<RunEvent, { kind: "queueRevival" }>): void {
    if (!TERMINAL_WORKFLOW.has(this.run.status))
      throw new Refusal("FAILED_PRECONDITION", `run ${this.run.id} is ${this.run.status}; only an ended run waits to run again`);
    queuedRevival.hold(this.run, event.revival, event.reason, this.now);
  }

  // ---- the decision loop ------------------------------------------------------

  /** Applies timeouts, then acts on every task that ended, until nothing moves. */
  reconcile(): void {
    if (this.deferring) {
      this.owed = true;
      return;
    }
    if (TERMINAL_WORKFLOW.has(this.run.status)) return;
    checkTimeouts(this);
    // Ending, its tasks ended: it waits for its output from the queries pool, nothing more to do.
    if (isEnding(this.run)) return;
    if (this.run.status !== "RUNNING" || this.run.marks.admission === "queued") return;
    // In scan order: passes over the tasks until none ended unhandled (see TaskBook.nextEnded).
    this.book.startPass();
    while (this.run.status === "RUNNING" && !isEnding(this.run)) {
      const task = this.book.nextEnded();
      if (!task) break;
      task.handled = true;
      this.touch(task);
      // What a worker sends is held to the limit at the door; what the engine made, here.
      if (!isWorkerTask(task.type)) enforceOutputLimit(task, outputLimit(this.services));
      onTaskEnded(this, task);
    }
    if (this.run.status === "RUNNING" && !isEnding(this.run) && this.tasks.every((t) => TERMINAL_TASK.has(t.status))) complete(this);
  }

  // ---- what system tasks and the modules may do (TaskContext, DecisionContext) ----

  newTask(wt: WorkflowTask, options: NewTaskOptions): TaskState {
    return newTask(this, wt, options);
  }

  schedule(wt: WorkflowTask, options: NewTaskOptions): TaskState {
    return schedule(this, wt, options);
  }

  dispatch(task: TaskState): void {
    dispatch(this, task);
  }

  scheduleOrJump(wt: WorkflowTask, iteration: number): void {
    scheduleOrJump(this, wt, iteration);
  }

  endRun(status: WorkflowStatus, reason: string, output?: JsonObject): void {
    endRun(this, status, reason, output);
  }

  requestEvaluation(task: TaskState, request: EvaluationRequest): void {
    requestEvaluation(this, task, request);
  }

  addTask(task: TaskState, place: "first" | "last" = "last"): void {
    this.created.add(task.id);
    if (place === "first") this.book.addFirst(task);
    else this.book.add(task);
    this.touch(task);
  }

  resetResolver(): void {
    this.resolver = new Resolver(this.run, this.book, this.def);
  }

  /** Marks a task ended with `status`; the decision loop acts on it. */
  endTask(task: TaskState, status: TaskStatus, reason: string): void {
    task.status = status;
    // A reason may quote what a worker, a script, jq or an HTTP response said: stored and returned with every read, so shortened.
    task.reason = abridged(reason);
    task.endedAt = this.now;
    task.updatedAt = this.now;
    task.leaseExpiresAt = 0;
    if (!task.startedAt) task.startedAt = this.now;
    this.touch(task);
  }

  touch(task: TaskState): void {
    task.updatedAt = this.now;
    this.changed.add(task);
    this.book.noteEnded(task);
  }

  /** Takes one loop iteration from this decision's budget; false when it is spent (iterations, or tasks created). */
  spendIteration(): boolean {
    if (this.iterationsLeft <= 0 || this.created.size >= TASK_BUDGET) return false;
    this.iterationsLeft--;
    return true;
  }

  tasksLeft(): number {
    return Math.max(0, TASK_BUDGET - this.created.size);
  }

  /**
   * The task's output, to be changed in place: a loop's, whose entries grow
   * with its iterations. Handed over with the tasks, it is changed as it is
   * (copying it per decision cost as much as its iterations so far); the
   * caller's own is copied once in this decision.
   */
  ownOutput(task: TaskState): JsonObject {
    if (!this.ownsOutputs && !this.ownedOutputs.has(task)) {
      task.output = copyOutput(task.output);
      this.ownedOutputs.add(task);
    }
    return task.output;
  }

  /** Resolves `${...}` parameters against the run's current state; throws FilterDeferred at a path with a filter. */
  resolve(template: JsonObject, taskId?: string): JsonObject {
    return this.resolver.resolve(template, taskId);
  }

  resolveValue(value: unknown, taskId?: string): Json {
    return this.resolver.resolveValue(value, taskId);
  }

  snapshot(template: unknown): { [name: string]: Json } {
    return this.resolver.snapshot(template);
  }

  // ---- lookups --------------------------------------------------------------

  taskById(id: string): TaskState {
    const task = this.book.find(id);
    if (!task) throw new Refusal("NOT_FOUND", `no task ${id} in run ${this.run.id}`);
    return task;
  }

  /** The latest instance of each reference name (read only). */
  latestByRef(): ReadonlyMap<string, TaskState> {
    return this.book.latestByRef();
  }

  /** The latest instance of a reference name (with its loop suffix, if any). */
  latest(ref: string): TaskState | undefined {
    return this.book.latest(ref);
  }

  /** Tasks created in loop iteration `n`, in order (a loop task's own iteration moves on: check it). */
  tasksOfIteration(n: number): readonly TaskState[] {
    return this.book.ofIteration(n);
  }

  /** The reference name in the definition (without the loop's `__N`). */
  defRef(task: TaskState): string {
    return definitionRef(task.ref, task.iteration);
  }

  workflowTaskOf(task: TaskState): WorkflowTask | undefined {
    return this.graph.task(this.defRef(task)) ?? task.marks.workflowTask;
  }

  taskDefOf(task: TaskState): TaskDef | undefined {
    return this.workflowTaskOf(task)?.taskDefinition ?? this.taskDefs.get(task.defName);
  }
}

function runFingerprint(run: RunState): string {
  const { input: _input, output: _output, ...rest } = run;
  return stringifyJson(rest);
}
