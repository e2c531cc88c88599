// The decider: given a definition, a run's state, an event and the time, it
// returns the new state and the effects. No I/O and no clock of its own, so
// every rule here is unit-tested without a database, with time as an input.
import { stringifyJson } from "@baton/json";
import { definitionRef, iterationRef, type TaskDef, type WorkflowDef, type WorkflowTask } from "@baton/sdk";
import type { Graph } from "./graph.js";
import {
  SUCCESSFUL_TASK,
  TERMINAL_TASK,
  TERMINAL_WORKFLOW,
  type Json,
  type JsonObject,
  type RunState,
  type TaskState,
  type TaskStatus,
  type WorkflowStatus,
} from "./model.js";
import { CONTINUE_LEASE_MS, EVALUATION_LEASE_MS, ITERATION_BUDGET, type EvaluationRequest } from "./evaluation.js";
import { retryDelaySeconds } from "./retry.js";
import { leaseDeadline } from "../rules/lease.js";
import { MAX_VARIABLES_BYTES } from "../rules/variables.js";
import { enforceOutputLimit, outputLimit } from "./output-limit.js";
import { SYSTEM_TASKS, isWorkerTask, type SystemTaskServices } from "./system-tasks/index.js";
import { Resolver } from "./resolver.js";
import { PlaceHeap } from "./place-heap.js";
import * as queuedRevival from "./queued-revival.js";
import type { TaskContext } from "./task-context.js";
import { Refusal, unknownKind, type Decision, type DeciderInput, type Effect, type RunEvent } from "./contract.js";

export { Refusal, type Decision, type DeciderInput, type Effect, type RunEvent, type StartRunRequest } from "./contract.js";

/** Decides one event. Throws Refusal when the event is not allowed now. */
export function decide(input: DeciderInput, event: RunEvent): Decision {
  const decider = new Decider(input);
  decider.apply(event);
  return decider.result();
}

const clone = <T>(value: T): T => structuredClone(value);

export class Decider implements TaskContext {
  def: WorkflowDef;
  graph: Graph;
  readonly run: RunState;
  tasks: TaskState[];
  readonly taskDefs: ReadonlyMap<string, TaskDef>;
  readonly now: number;
  readonly newId: () => string;
  readonly services: SystemTaskServices | undefined;
  readonly changed = new Set<TaskState>();
  readonly removed: string[] = [];
  readonly effects: Effect[] = [];
  private applied = true;
  /** Applying a task result whose reconcile is put off (see applyNext), and whether one is owed. */
  private deferring = false;
  private owed = false;
  /** A timer fired: every due time is checked, not only the one the run recorded. */
  private tick: boolean;
  private resolver: Resolver;
  private readonly runBefore: string;
  private readonly inputBefore: JsonObject;
  private readonly outputBefore: JsonObject;
  private readonly statusBefore: WorkflowStatus;
  /** The latest instance of each reference name, and every task by id. */
  private byRef = new Map<string, TaskState>();
  private byId = new Map<string, TaskState>();
  /** Each task's place in `tasks`, and the tasks created in each loop iteration (in order). */
  private position = new Map<TaskState, number>();
  private byIteration = new Map<number, TaskState[]>();
  /**
   * Tasks that ended and wait to be acted on, by place: those after the one
   * being acted on now (this pass) and those before it (the next pass), so the
   * decision loop visits them in the order a scan of every task would, without
   * scanning every task per step.
   */
  private endedNow = new PlaceHeap();
  private endedNext = new PlaceHeap();
  private cursor = -1;
  /** Loop iterations this decision may still start (see ITERATION_BUDGET). */
  private iterationsLeft = ITERATION_BUDGET;
  /** Task outputs already copied in this decision, so later changes may be made in place. */
  private readonly ownedOutputs = new Set<TaskState>();

  constructor(input: DeciderInput) {
    this.def = input.def;
    this.graph = input.graph;
    // Input, output and variables are replaced, never changed in place, so they are shared, not copied (a run's input may be large).
    this.run = { ...input.run, extra: clone(input.run.extra), failedRefs: [...input.run.failedRefs] };
    this.tasks = input.ownsTasks ? input.tasks : input.tasks.map((task) => ({ ...task }));
    this.tick = false;
    this.taskDefs = input.taskDefs;
    this.now = input.now;
    this.newId = input.newId;
    this.services = input.services;
    this.runBefore = runFingerprint(this.run);
    this.inputBefore = this.run.input;
    this.outputBefore = this.run.output;
    this.statusBefore = this.run.status;
    this.resolver = new Resolver(this.run, this.tasks, this.def);
    this.reindex();
  }

  /** Rebuilds the lookups after tasks were removed (and at the start: tasks may have ended while the run was paused). */
  private reindex(): void {
    this.byRef = new Map();
    this.byId = new Map();
    this.position = new Map();
    this.byIteration = new Map();
    this.endedNow = new PlaceHeap();
    this.endedNext = new PlaceHeap();
    this.cursor = -1;
    for (const task of this.tasks) this.index(task);
  }

  private index(task: TaskState): void {
    this.byRef.set(task.ref, task);
    this.byId.set(task.id, task);
    this.position.set(task, this.position.size);
    const list = this.byIteration.get(task.iteration);
    if (list) list.push(task);
    else this.byIteration.set(task.iteration, [task]);
    this.noteEnded(task);
  }

  /** Queues a task that ended and was not acted on yet for the decision loop. */
  private noteEnded(task: TaskState): void {
    if (task.handled || !TERMINAL_TASK.has(task.status)) return;
    const place = this.position.get(task);
    if (place === undefined) return;
    (place > this.cursor ? this.endedNow : this.endedNext).add(place);
  }

  /** The next ended task in scan order: later in this pass, else from the start again. */
  private nextEnded(): TaskState | undefined {
    for (;;) {
      let place = this.endedNow.pop();
      if (place === undefined) {
        if (this.endedNext.size === 0) return undefined;
        [this.endedNow, this.endedNext] = [this.endedNext, this.endedNow];
        this.cursor = -1;
        place = this.endedNow.pop()!;
      }
      this.cursor = place;
      const task = this.tasks[place];
      if (task && TERMINAL_TASK.has(task.status) && !task.handled) return task;
    }
  }

  result(): Decision {
    this.settle();
    if (TERMINAL_WORKFLOW.has(this.statusBefore) && !TERMINAL_WORKFLOW.has(this.run.status)) this.effects.push({ kind: "runRevived" });
    this.run.wakeAt = this.nextWake();
    if (this.changed.size > 0 || this.removed.length > 0 || this.runChanged()) {
      this.run.updatedAt = this.now;
    }
    return { run: this.run, tasks: this.tasks, changed: this.changed, removed: this.removed, effects: this.effects, applied: this.applied };
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
    switch (event.kind) {
      case "start":
        return this.start();
      case "admit":
        return this.admit();
      case "queueRevival":
        return this.queueRevival(event);
      case "taskResult":
        return this.taskResult(event);
      case "tick":
        this.tick = true;
        return this.reconcile();
      case "pause":
        return this.pause();
      case "resume":
        return this.resume();
      case "terminate":
        return this.terminate(event.reason);
      case "retry":
        return this.retryRun(event.resumeSubworkflowTasks);
      case "restart":
        return this.restart(event.def);
      case "rerun":
        return this.rerun(event);
      case "skip":
        return this.skip(event.ref, event.output);
      case "signal":
        return this.signal(event);
      case "childEnded":
        return this.childEnded(event);
      case "childRevived":
        return this.childRevived(event);
      case "runStarted":
        return this.runStarted(event);
      case "updateVariables":
        return this.updateVariables(event);
      case "evaluated":
        return this.evaluated(event);
      default:
        return unknownKind(event);
    }
  }

  // ---- evaluations (user code run outside the decision: see evaluation.ts) ----

  private evaluated(event: Extract<RunEvent, { kind: "evaluated" }>): void {
    const task = this.byId.get(event.taskId);
    // A late answer: the task ended, was asked again (a new lease), or the run ended.
    if (!task || !this.awaitingEvaluation(task) || task.leaseToken !== event.leaseToken || TERMINAL_WORKFLOW.has(this.run.status)) {
      this.applied = false;
      return;
    }
    // A paused run starts no loop iteration: the loop asks again when the run resumes.
    if (this.run.status === "PAUSED" && task.type === "DO_WHILE") {
      this.applied = false;
      return;
    }
    task.leaseToken = "";
    task.leaseExpiresAt = 0;
    this.touch(task);
    SYSTEM_TASKS[task.type]!.onEvaluated!(this, task, event.outcome);
    this.reconcile();
  }

  /**
   * Asks for user code to be evaluated for `task` after this decision: the
   * task waits IN_PROGRESS under a lease until its `evaluated` event.
   */
  requestEvaluation(task: TaskState, request: EvaluationRequest): void {
    if (task.status === "SCHEDULED") {
      task.status = "IN_PROGRESS";
      task.startedAt = this.now;
    }
    task.leaseToken = this.newId();
    task.leaseExpiresAt = this.now + (request.kind === "continue" ? CONTINUE_LEASE_MS : EVALUATION_LEASE_MS);
    this.touch(task);
    this.effects.push({ kind: "evaluate", task, leaseToken: task.leaseToken, request });
  }

  /** Whether a system task waits for an evaluation it asked for. */
  awaitingEvaluation(task: TaskState): boolean {
    return task.status === "IN_PROGRESS" && task.leaseExpiresAt > 0 && SYSTEM_TASKS[task.type]?.onEvaluated !== undefined && !isWorkerTask(task.type);
  }

  /** Asks again for an evaluation whose answer never came (its lease ran out, or the run was paused meanwhile). */
  private askAgain(task: TaskState): void {
    const request = SYSTEM_TASKS[task.type]?.evaluation?.(this, task);
    if (request) this.requestEvaluation(task, request);
  }

  /** Takes one loop iteration from this decision's budget; false when it is spent. */
  spendIteration(): boolean {
    if (this.iterationsLeft <= 0) return false;
    this.iterationsLeft--;
    return true;
  }

  /** Tasks created in loop iteration `n`, in order (a loop task's own iteration moves on: check it). */
  tasksOfIteration(n: number): readonly TaskState[] {
    return this.byIteration.get(n) ?? [];
  }

  /** The task's output, copied once in this decision, so that it may then be changed in place. */
  ownOutput(task: TaskState): JsonObject {
    if (!this.ownedOutputs.has(task)) {
      task.output = { ...task.output };
      this.ownedOutputs.add(task);
    }
    return task.output;
  }

  private updateVariables(event: Extract<RunEvent, { kind: "updateVariables" }>): void {
    if (TERMINAL_WORKFLOW.has(this.run.status)) {
      throw new Refusal("FAILED_PRECONDITION", `run ${this.run.id} has ended (${this.run.status}); its variables stay as they were`);
    }
    const variables: JsonObject = { ...this.run.variables };
    for (const [key, value] of Object.entries(event.variables)) {
      const current = variables[key];
      variables[key] = event.appendArray && Array.isArray(current) ? [...current, ...(Array.isArray(value) ? value : [value])] : value;
    }
    const size = Buffer.byteLength(stringifyJson(variables));
    const limit = this.services?.maxVariablesBytes ?? MAX_VARIABLES_BYTES;
    if (size > limit) throw new Refusal("INVALID_ARGUMENT", `variables would be ${size} bytes; the limit is ${limit} bytes`);
    this.run.variables = variables;
    this.reconcile();
  }

  private start(): void {
    // Over its concurrency key's limit (see concurrency/limit.ts): refused, or waiting for a slot.
    const admission = this.run.extra["admission"];
    if (admission === "refused") return this.endRun("TERMINATED", this.run.reason);
    if (admission === "queued") return;
    const first = this.def.tasks[0];
    if (first) this.schedule(first, { iteration: 0 });
    this.reconcile();
  }

  private admit(): void {
    if (this.run.extra["admission"] !== "queued" || TERMINAL_WORKFLOW.has(this.run.status)) {
      this.applied = false;
      return;
    }
    const { admission: _admission, revival, ...extra } = this.run.extra;
    this.run.extra = extra;
    this.run.reason = "";
    if (revival) {
      this.apply(queuedRevival.restore(this.run, revival));
      // The slot is still the run's (a restart starts its extra afresh).
      if (extra["concurrencyKey"] !== undefined) this.run.extra["concurrencyKey"] = extra["concurrencyKey"];
      return;
    }
    // Paused while it waited: it holds its slot and starts when resumed.
    if (this.run.status === "PAUSED") return;
    this.start();
  }

  private queueRevival(event: Extract<RunEvent, { kind: "queueRevival" }>): void {
    if (!TERMINAL_WORKFLOW.has(this.run.status))
      throw new Refusal("FAILED_PRECONDITION", `run ${this.run.id} is ${this.run.status}; only an ended run waits to run again`);
    queuedRevival.hold(this.run, event.revival, event.reason, this.now);
  }

  private taskResult(event: Extract<RunEvent, { kind: "taskResult" }>): void {
    const task = this.taskById(event.taskId);
    if (TERMINAL_TASK.has(task.status)) {
      this.applied = false;
      return;
    }
    if (task.status !== "IN_PROGRESS" || task.leaseToken !== event.leaseToken) {
      throw new Refusal("FAILED_PRECONDITION", `stale lease for task ${task.id}: the task was handed to another worker or put back (status ${task.status})`);
    }
    if (!["IN_PROGRESS", "COMPLETED", "FAILED", "FAILED_WITH_TERMINAL_ERROR"].includes(event.status)) {
      throw new Refusal("INVALID_ARGUMENT", `a worker cannot set status ${event.status}; use IN_PROGRESS, COMPLETED, FAILED or FAILED_WITH_TERMINAL_ERROR`);
    }
    if (event.workerId) task.workerId = event.workerId;
    task.output = event.output;
    task.updatedAt = this.now;
    switch (event.status) {
      case "IN_PROGRESS":
        if (event.callbackAfterSeconds > 0) {
          task.status = "SCHEDULED";
          task.callbackAfterSeconds = event.callbackAfterSeconds;
          task.visibleAt = this.now + event.callbackAfterSeconds * 1000;
          task.leaseToken = "";
          task.leaseExpiresAt = 0;
          this.effects.push({ kind: "enqueue", task });
        } else {
          task.leaseExpiresAt = this.leaseDeadline(task);
        }
        break;
      case "COMPLETED":
      case "FAILED":
      case "FAILED_WITH_TERMINAL_ERROR":
        this.endTask(task, event.status, event.reason);
        break;
    }
    this.touch(task);
    this.reconcile();
  }

  private pause(): void {
    if (this.run.status === "PAUSED") return;
    this.requireStatus(["RUNNING"], "pause");
    this.run.status = "PAUSED";
    this.reconcile();
  }

  private resume(): void {
    if (this.run.status === "RUNNING") return;
    this.requireStatus(["PAUSED"], "resume");
    this.run.status = "RUNNING";
    // Admitted while paused (see admit): it has not started yet.
    if (this.tasks.length === 0 && this.run.extra["admission"] === undefined) return this.start();
    // A loop's answer that came while paused was set aside: ask again now.
    for (const task of this.tasks) if (task.type === "DO_WHILE" && this.awaitingEvaluation(task)) this.askAgain(task);
    this.reconcile();
  }

  private terminate(reason: string): void {
    this.requireStatus(["RUNNING", "PAUSED"], "terminate");
    this.endRun("TERMINATED", reason);
  }

  private retryRun(resumeSubworkflowTasks: boolean): void {
    this.requireStatus(["FAILED", "TIMED_OUT", "TERMINATED"], "retry");
    const retried = this.reopenFailed(resumeSubworkflowTasks);
    this.revive();
    if (retried === 0 && this.tasks.length === 0) this.start();
    else this.reconcile();
  }

  /**
   * Gives every reference whose latest instance failed another go: a new
   * attempt, or (joins, loops, resumed children) the same instance waiting again.
   */
  private reopenFailed(resumeSubworkflowTasks: boolean, except?: TaskState): number {
    let retried = 0;
    for (const task of [...this.latestByRef().values()]) {
      if (task === except || !["FAILED", "FAILED_WITH_TERMINAL_ERROR", "TIMED_OUT", "CANCELED"].includes(task.status)) continue;
      if (task.type === "SUB_WORKFLOW" && task.subWorkflowId && resumeSubworkflowTasks) {
        // The child resumes where it failed and reports back to this task.
        this.reopen(task);
        this.effects.push({ kind: "retryRun", runId: task.subWorkflowId, resumeSubworkflowTasks });
      } else if (SYSTEM_TASKS[task.type]?.reopen) {
        // Joins and loops wait again instead of being copied.
        this.reopen(task);
      } else {
        this.createRetry(task, { countsAsRetry: false });
      }
      retried++;
    }
    return retried;
  }

  /** The same task instance waits again (a join, a loop, a resumed child). */
  private reopen(task: TaskState): void {
    task.status = "IN_PROGRESS";
    task.handled = false;
    task.endedAt = 0;
    task.reason = "";
    this.touch(task);
  }

  /** An ended run runs again; its timeout counts from now (Conductor's lastRetriedTime). */
  private revive(): void {
    this.run.status = "RUNNING";
    this.run.reason = "";
    this.run.endedAt = 0;
    this.run.failedTaskId = "";
    this.run.extra["lastRetriedAt"] = this.now;
    delete this.run.extra["permissiveFailure"];
    delete this.run.extra["failureWorkflowStarted"];
  }

  private runStarted(event: Extract<RunEvent, { kind: "runStarted" }>): void {
    const task = this.byId.get(event.taskId);
    if (!task || TERMINAL_TASK.has(task.status) || task.output["workflowId"] !== event.childId) {
      this.applied = false;
      return;
    }
    if (event.error) this.endTask(task, "FAILED", event.error);
    else this.endTask(task, "COMPLETED", "");
    this.reconcile();
  }

  /** A child that had ended runs again (retried, rerun, restarted): its task, and this run, wait for it again. */
  private childRevived(event: Extract<RunEvent, { kind: "childRevived" }>): void {
    const task = this.byId.get(event.taskId);
    if (!task || task.subWorkflowId !== event.childId || !TERMINAL_TASK.has(task.status) || this.latest(task.ref) !== task) {
      this.applied = false;
      return;
    }
    this.reopen(task);
    if (TERMINAL_WORKFLOW.has(this.run.status)) {
      this.reopenFailed(false, task);
      this.revive();
    }
    this.reconcile();
  }

  private restart(latest: Extract<RunEvent, { kind: "restart" }>["def"]): void {
    if (!TERMINAL_WORKFLOW.has(this.run.status)) {
      throw new Refusal("FAILED_PRECONDITION", `run ${this.run.id} is ${this.run.status}; only an ended run can be restarted`);
    }
    if (latest) {
      this.def = latest.def;
      this.graph = latest.graph;
      this.run.defHash = latest.hash;
      this.run.version = latest.version;
    }
    if (this.def.restartable === false) {
      throw new Refusal("FAILED_PRECONDITION", `workflow ${this.def.name} is not restartable (restartable: false)`);
    }
    for (const task of this.tasks) {
      this.removed.push(task.id);
      if (task.subWorkflowId && !TERMINAL_TASK.has(task.status)) {
        this.effects.push({ kind: "terminateRun", runId: task.subWorkflowId, reason: "parent restarted" });
      }
    }
    this.tasks = [];
    this.changed.clear();
    this.reindex();
    this.resolver = new Resolver(this.run, this.tasks, this.def);
    Object.assign(this.run, {
      status: "RUNNING",
      output: {},
      variables: clone(this.def.variables ?? {}),
      reason: "",
      failedRefs: [],
      failedTaskId: "",
      createdAt: this.now,
      endedAt: 0,
      nextSeq: 1,
      extra: {},
    } satisfies Partial<RunState>);
    this.start();
  }

  private rerun(event: Extract<RunEvent, { kind: "rerun" }>): void {
    const target = this.taskById(event.taskId);
    if (this.run.status === "RUNNING" || this.run.status === "PAUSED") {
      throw new Refusal("FAILED_PRECONDITION", `run ${this.run.id} is ${this.run.status}; rerun applies to an ended run`);
    }
    const wt = this.workflowTaskOf(target);
    if (!wt) throw new Refusal("INVALID_ARGUMENT", `task ${target.ref} cannot be rerun: it is not in the definition`);
    // Everything from the target on is dropped and the flow resumes there.
    const keep: TaskState[] = [];
    for (const task of this.tasks) {
      if (task.seq >= target.seq) {
        this.removed.push(task.id);
        this.changed.delete(task);
        if (task.subWorkflowId && !TERMINAL_TASK.has(task.status)) {
          this.effects.push({ kind: "terminateRun", runId: task.subWorkflowId, reason: "rerun" });
        }
      } else keep.push(task);
    }
    this.tasks = keep;
    this.reindex();
    if (event.workflowInput) this.run.input = event.workflowInput;
    this.resolver = new Resolver(this.run, this.tasks, this.def);
    Object.assign(this.run, { status: "RUNNING", reason: "", endedAt: 0, failedRefs: [], failedTaskId: "" } satisfies Partial<RunState>);
    delete this.run.extra["permissiveFailure"];
    // Reopen the joins and loops the target sits in (they ended, or ended with the run).
    const targetRef = this.defRef(target);
    for (const task of this.tasks) {
      if (SYSTEM_TASKS[task.type]?.reopen && this.encloses(task, target, targetRef)) {
        this.reopen(task);
        if (task.type === "DO_WHILE") {
          task.iteration = target.iteration;
          task.output = { ...task.output, iteration: target.iteration };
        }
      }
    }
    this.schedule(wt, { iteration: target.iteration, ...(event.taskInput ? { input: event.taskInput } : {}) });
    // Parallel paths cut off by the removal (a fork's other branches, what followed their tasks) resume.
    for (const task of [...this.tasks]) {
      if (!SUCCESSFUL_TASK.has(task.status) || !task.handled || task === target) continue;
      if (task.type === "FORK_JOIN" || task.type === "FORK") {
        for (const branch of this.workflowTaskOf(task)?.forkTasks ?? []) {
          if (branch[0] && !this.latest(iterationRef(branch[0].taskReferenceName, task.iteration))) this.scheduleOrJump(branch[0], task.iteration);
        }
        const join = this.graph.next(this.defRef(task));
        if (join.kind === "task" && !this.latest(iterationRef(join.task.taskReferenceName, task.iteration)))
          this.schedule(join.task, { iteration: task.iteration });
        continue;
      }
      if (["SWITCH", "DECISION", "FORK_JOIN_DYNAMIC", "DO_WHILE", "TERMINATE"].includes(task.type)) continue;
      const next = this.graph.next(this.defRef(task));
      if (next.kind === "task" && !this.latest(iterationRef(next.task.taskReferenceName, task.iteration))) {
        task.handled = false;
        this.touch(task);
      }
    }
    this.reconcile();
  }

  /** Whether the join or loop `container` waits on `target` (the target is in its loop body, or in its fork). */
  private encloses(container: TaskState, target: TaskState, targetRef: string): boolean {
    const ref = this.defRef(container);
    if (container.type === "DO_WHILE") return this.graph.descendants(ref).includes(targetRef);
    if (container.iteration !== target.iteration && container.type !== "DO_WHILE") return false;
    const node = this.graph.nodes.get(ref);
    const fork = node?.list[node.index - 1];
    if (!fork) return false;
    return target.extra["dynamicJoin"] === fork.taskReferenceName || this.graph.descendants(fork.taskReferenceName).includes(targetRef);
  }

  private skip(ref: string, output: JsonObject): void {
    this.requireStatus(["RUNNING", "PAUSED"], "skip a task of");
    const existing = this.latestByRef().get(ref);
    if (existing && !TERMINAL_TASK.has(existing.status)) {
      if (existing.status === "IN_PROGRESS" && isWorkerTask(existing.type)) {
        throw new Refusal("FAILED_PRECONDITION", `task ${ref} is already running; only a task not yet started can be skipped`);
      }
      existing.output = output;
      this.endTask(existing, "SKIPPED", "skipped by an operator");
      this.effects.push({ kind: "dequeue", taskId: existing.id });
    } else if (existing) {
      throw new Refusal("FAILED_PRECONDITION", `task ${ref} has already ended (${existing.status})`);
    } else {
      const wt = this.graph.task(ref);
      if (!wt) throw new Refusal("NOT_FOUND", `no task ${ref} in workflow ${this.def.name}`);
      // A placeholder: when the flow reaches this task it jumps over it.
      const placeholder = this.newTask(wt, { iteration: 0 });
      placeholder.status = "SKIPPED";
      placeholder.output = output;
      placeholder.handled = true;
      placeholder.endedAt = this.now;
      placeholder.reason = "skipped by an operator";
    }
    this.reconcile();
  }

  private signal(event: Extract<RunEvent, { kind: "signal" }>): void {
    const task = this.taskById(event.taskId);
    if (TERMINAL_WORKFLOW.has(this.run.status)) {
      throw new Refusal("FAILED_PRECONDITION", `run ${this.run.id} has ended (${this.run.status})`);
    }
    if (TERMINAL_TASK.has(task.status)) {
      throw new Refusal("FAILED_PRECONDITION", `task ${task.ref} has already ended (${task.status})`);
    }
    if (!["COMPLETED", "FAILED", "FAILED_WITH_TERMINAL_ERROR", "COMPLETED_WITH_ERRORS"].includes(event.status)) {
      throw new Refusal("INVALID_ARGUMENT", `a signal sets COMPLETED, FAILED or FAILED_WITH_TERMINAL_ERROR, not ${event.status}`);
    }
    task.output = { ...task.output, ...event.output };
    this.endTask(task, event.status, event.reason);
    this.effects.push({ kind: "dequeue", taskId: task.id });
    this.reconcile();
  }

  private childEnded(event: Extract<RunEvent, { kind: "childEnded" }>): void {
    const task = this.taskById(event.taskId);
    if (TERMINAL_TASK.has(task.status) || task.subWorkflowId !== event.childId) {
      this.applied = false;
      return;
    }
    task.output = { ...task.output, ...event.output };
    if (event.status === "COMPLETED") this.endTask(task, "COMPLETED", "");
    else {
      const status: TaskStatus = event.status === "TIMED_OUT" ? "TIMED_OUT" : event.status === "TERMINATED" ? "CANCELED" : "FAILED";
      // Conductor's wording, which the run's reason and a failure workflow's `reason` then carry.
      const reason = event.name ? `Sub workflow ${event.name}.${event.version ?? 1}/${event.childId} failure reason: ${event.reason}` : event.reason;
      this.endTask(task, status, reason || `sub-workflow ${event.childId} ended ${event.status}`);
      if (event.status === "TERMINATED") {
        // A child terminated from outside takes its parent with it (Conductor).
        task.handled = true;
        this.run.failedRefs = addUnique(this.run.failedRefs, task.ref);
        this.endRun("TERMINATED", event.reason || `sub-workflow ${event.childId} was terminated`);
        return;
      }
    }
    this.reconcile();
  }

  // ---- the decision loop ------------------------------------------------------

  /** Applies timeouts, then acts on every task that ended, until nothing moves. */
  reconcile(): void {
    if (this.deferring) {
      this.owed = true;
      return;
    }
    if (TERMINAL_WORKFLOW.has(this.run.status)) return;
    this.checkTimeouts();
    if (this.run.status !== "RUNNING" || this.run.extra["admission"] === "queued") return;
    // In scan order: passes over the tasks until none ended unhandled (see nextEnded).
    for (const place of this.endedNext.drain()) this.endedNow.add(place);
    this.cursor = -1;
    while (this.run.status === "RUNNING") {
      const task = this.nextEnded();
      if (!task) break;
      task.handled = true;
      this.touch(task);
      // What a worker sends is held to the limit at the door; what the engine made, here.
      if (!isWorkerTask(task.type)) enforceOutputLimit(task, outputLimit(this.services));
      this.onTaskEnded(task);
    }
    if (this.run.status === "RUNNING" && this.tasks.every((t) => TERMINAL_TASK.has(t.status))) this.complete();
  }

  private checkTimeouts(): void {
    const now = this.now;
    const timeout = this.def.timeoutSeconds ?? 0;
    if (timeout > 0 && (this.def.timeoutPolicy ?? "ALERT_ONLY") === "TIME_OUT_WF" && now >= this.timeoutBase() + timeout * 1000) {
      this.endRun("TIMED_OUT", `Workflow timed out after ${timeout} seconds (timeoutPolicy TIME_OUT_WF)`);
      return;
    }
    if (this.run.status === "PAUSED") return;
    // Nothing is due before the run's recorded wake time: other events skip the scan of every open task
    // (a timer's tick always scans: a lease taken by a claim since the last decision is not in wakeAt).
    if (!this.tick && (this.run.wakeAt === 0 || now < this.run.wakeAt)) return;
    for (const task of [...this.tasks]) {
      if (TERMINAL_TASK.has(task.status)) continue;
      const taskDef = this.taskDefOf(task);
      const timedOut = task.status === "IN_PROGRESS" && task.timeoutSeconds > 0 && task.startedAt > 0 && now >= task.startedAt + task.timeoutSeconds * 1000;
      if (timedOut && (isWorkerTask(task.type) || (taskDef?.timeoutPolicy ?? "TIME_OUT_WF") !== "ALERT_ONLY")) {
        // The task definition's timeoutSeconds holds for system tasks too (a WAIT, a HUMAN, a child run).
        const policy = taskDef?.timeoutPolicy ?? "TIME_OUT_WF";
        if (policy === "ALERT_ONLY") continue;
        this.endTask(task, "TIMED_OUT", `Task timed out after ${task.timeoutSeconds} seconds (timeoutPolicy ${policy})`);
        if (isWorkerTask(task.type)) this.effects.push({ kind: "dequeue", taskId: task.id });
        if (task.subWorkflowId) this.effects.push({ kind: "terminateRun", runId: task.subWorkflowId, reason: `task ${task.ref} of the parent timed out` });
        if (policy === "TIME_OUT_WF") {
          task.handled = true;
          this.run.failedRefs = addUnique(this.run.failedRefs, task.ref);
          this.run.failedTaskId = task.id;
          this.endRun("TIMED_OUT", `Task ${task.id} timed out after ${task.timeoutSeconds} seconds`);
          return;
        }
      } else if (task.status === "IN_PROGRESS" && isWorkerTask(task.type)) {
        if (task.leaseExpiresAt > 0 && now >= task.leaseExpiresAt) {
          this.endTask(task, "TIMED_OUT", `responseTimeout: no update from the worker for ${task.responseTimeoutSeconds} seconds`);
        }
      } else if (task.status === "SCHEDULED" && isWorkerTask(task.type)) {
        const pollTimeout = taskDef?.pollTimeoutSeconds ?? 0;
        if (pollTimeout > 0 && now >= task.visibleAt + pollTimeout * 1000) {
          this.endTask(task, "TIMED_OUT", `pollTimeout: not polled within ${pollTimeout} seconds`);
          this.effects.push({ kind: "dequeue", taskId: task.id });
        }
      } else if (task.status === "SCHEDULED" && !isWorkerTask(task.type)) {
        if (task.visibleAt <= now) SYSTEM_TASKS[task.type]?.start(this, task);
      } else if (this.awaitingEvaluation(task)) {
        if (now >= task.leaseExpiresAt) this.askAgain(task);
      } else {
        SYSTEM_TASKS[task.type]?.onTick?.(this, task);
      }
    }
  }

  /** What the flow does with a task that just ended. */
  private onTaskEnded(task: TaskState): void {
    if (task.status === "CANCELED" && this.run.extra["canceling"]) return;
    if (SUCCESSFUL_TASK.has(task.status)) return this.proceedAfter(task);
    if (task.retried) return;
    // Conductor lists every reference that failed, even when a retry then succeeded.
    this.run.failedRefs = addUnique(this.run.failedRefs, task.ref);
    if (this.isRetriable(task)) {
      this.createRetry(task, { countsAsRetry: true });
      return;
    }
    const wt = this.workflowTaskOf(task);
    if (wt?.optional) {
      task.status = "COMPLETED_WITH_ERRORS";
      this.touch(task);
      return this.proceedAfter(task);
    }
    if (wt?.permissive) {
      if (!this.run.extra["permissiveFailure"]) {
        this.run.extra["permissiveFailure"] = { taskId: task.id, ref: task.ref, status: task.status, reason: task.reason };
      }
      this.run.failedRefs = addUnique(this.run.failedRefs, task.ref);
      return this.proceedAfter(task);
    }
    this.failBy(task);
  }

  /** Ends the run because `task` failed for good. */
  failBy(task: TaskState): void {
    this.run.failedRefs = addUnique(this.run.failedRefs, task.ref);
    this.run.failedTaskId = task.id;
    const status: WorkflowStatus = task.status === "TIMED_OUT" ? "TIMED_OUT" : task.status === "CANCELED" ? "TERMINATED" : "FAILED";
    this.endRun(status, `Task ${task.id} failed with status: ${task.status} and reason: '${task.reason}'`);
  }

  private isRetriable(task: TaskState): boolean {
    if (task.status !== "FAILED" && task.status !== "TIMED_OUT") return false;
    return task.retryCount < this.maxRetries(task);
  }

  maxRetries(task: TaskState): number {
    const wt = this.workflowTaskOf(task);
    if (wt?.retryCount !== undefined) return wt.retryCount;
    const def = this.taskDefOf(task);
    // A task with no registered definition (system tasks too) is not retried.
    return def ? (def.retryCount ?? 3) : 0;
  }

  private createRetry(failed: TaskState, options: { countsAsRetry: boolean }): TaskState {
    failed.retried = true;
    failed.handled = true;
    this.touch(failed);
    const def = this.taskDefOf(failed);
    const delay = options.countsAsRetry && def ? retryDelaySeconds(def, failed.retryCount) : 0;
    const retry: TaskState = {
      ...failed,
      id: this.newId(),
      seq: this.run.nextSeq++,
      ...this.freshAttempt(this.now + delay * 1000),
      retryCount: failed.retryCount + 1,
      retriedTaskId: failed.id,
      extra: { ...failed.extra },
    };
    this.addTask(retry);
    this.dispatch(retry);
    return retry;
  }

  /** Schedules what follows `task` in the definition. */
  proceedAfter(task: TaskState): void {
    const dynamicJoin = task.extra["dynamicJoin"];
    if (typeof dynamicJoin === "string") return this.branchEnded(dynamicJoin, task.iteration);
    const next = this.graph.next(this.defRef(task));
    const iteration = task.type === "DO_WHILE" ? Number(task.extra["outerIteration"] ?? 0) : task.iteration;
    switch (next.kind) {
      case "task":
        this.scheduleOrJump(next.task, iteration);
        return;
      case "end":
        return;
      case "branchEnd":
        return this.branchEnded(next.fork, iteration);
      case "loopEnd": {
        const loop = this.openLoop(next.loop);
        if (loop) SYSTEM_TASKS["DO_WHILE"]!.onChildEnded?.(this, loop, task);
        return;
      }
    }
  }

  /** A fork branch ended: wake the join that follows the fork (in the same loop iteration). */
  private branchEnded(forkRef: string, iteration = 0): void {
    const forkNode = this.graph.nodes.get(forkRef);
    const joinRef = forkNode?.list[forkNode.index + 1]?.taskReferenceName ?? forkRef;
    const join = this.latest(iterationRef(joinRef, iteration));
    if (join && !TERMINAL_TASK.has(join.status)) SYSTEM_TASKS[join.type]?.onChildEnded?.(this, join);
  }

  /** The running instance of the DO_WHILE `ref`. */
  private openLoop(ref: string): TaskState | undefined {
    const loop = this.latest(ref);
    return loop && loop.type === "DO_WHILE" && !TERMINAL_TASK.has(loop.status) ? loop : undefined;
  }

  /** Schedules `wt`, or jumps over it when an operator skipped it in advance. */
  scheduleOrJump(wt: WorkflowTask, iteration: number): void {
    const ref = iterationRef(wt.taskReferenceName, iteration);
    const existing = this.latest(ref);
    const placeholder = existing?.status === "SKIPPED" && existing.extra["placeholder"] !== false ? existing : undefined;
    if (placeholder && placeholder.handled && placeholder.extra["jumped"] !== true) {
      placeholder.extra["jumped"] = true;
      this.touch(placeholder);
      return this.proceedAfter(placeholder);
    }
    this.schedule(wt, { iteration });
  }

  /** Creates and starts a task instance for `wt`. */
  schedule(wt: WorkflowTask, options: { iteration: number; input?: JsonObject; extra?: JsonObject }): TaskState {
    const task = this.newTask(wt, options);
    this.dispatch(task);
    return task;
  }

  /** Hands a scheduled task to its executor: the queue for workers, or the system task. */
  dispatch(task: TaskState): void {
    if (isWorkerTask(task.type)) {
      this.effects.push({ kind: "enqueue", task });
      return;
    }
    const system = SYSTEM_TASKS[task.type];
    if (!system) {
      this.endTask(task, "FAILED_WITH_TERMINAL_ERROR", `unknown task type ${task.type}`);
      return;
    }
    // A retry delay or startDelay holds a system task SCHEDULED until a tick starts it.
    if (task.visibleAt > this.now) return;
    system.start(this, task);
  }

  /** The fields of a task instance that has not run yet: scheduled now, visible from `visibleAt`. */
  private freshAttempt(visibleAt: number) {
    return {
      status: "SCHEDULED",
      output: {},
      reason: "",
      retried: false,
      handled: false,
      pollCount: 0,
      workerId: "",
      leaseToken: "",
      leaseExpiresAt: 0,
      scheduledAt: this.now,
      startedAt: 0,
      endedAt: 0,
      updatedAt: this.now,
      visibleAt,
      callbackAfterSeconds: 0,
      subWorkflowId: "",
      rev: 0,
    } satisfies Partial<TaskState>;
  }

  newTask(wt: WorkflowTask, options: { iteration: number; input?: JsonObject; extra?: JsonObject }): TaskState {
    const id = this.newId();
    const type = wt.type ?? "SIMPLE";
    const taskDef = wt.taskDefinition ?? this.taskDefs.get(wt.name);
    const input = options.input ?? this.resolveInput(wt, taskDef, id);
    const task: TaskState = {
      id,
      runId: this.run.id,
      seq: this.run.nextSeq++,
      ref: iterationRef(wt.taskReferenceName, options.iteration),
      type,
      defName: wt.name,
      iteration: options.iteration,
      input,
      ...this.freshAttempt(this.now + (wt.startDelay ?? 0) * 1000),
      retryCount: 0,
      retriedTaskId: "",
      responseTimeoutSeconds: taskDef?.responseTimeoutSeconds ?? 3600,
      timeoutSeconds: taskDef?.timeoutSeconds ?? 0,
      extra: options.extra ?? {},
    };
    if (!this.graph.task(wt.taskReferenceName)) task.extra["workflowTask"] = wt as unknown as Json;
    this.addTask(task);
    return task;
  }

  private resolveInput(wt: WorkflowTask, taskDef: TaskDef | undefined, taskId: string): JsonObject {
    const resolved = this.resolver.resolve(wt.inputParameters ?? {}, taskId);
    const template = taskDef?.inputTemplate;
    return template ? { ...(this.resolver.resolve(template, taskId) as JsonObject), ...resolved } : resolved;
  }

  /** Resolves `${...}` parameters against the run's current state. */
  resolve(template: JsonObject, taskId?: string): JsonObject {
    return this.resolver.resolve(template, taskId);
  }

  resolveValue(value: unknown, taskId?: string): Json {
    return this.resolver.resolveValue(value, taskId);
  }

  private addTask(task: TaskState): void {
    this.tasks.push(task);
    this.index(task);
    this.resolver.taskAdded(task);
    this.touch(task);
  }

  /** Marks a task ended with `status`; the decision loop acts on it. */
  endTask(task: TaskState, status: TaskStatus, reason: string): void {
    task.status = status;
    task.reason = reason;
    task.endedAt = this.now;
    task.updatedAt = this.now;
    task.leaseExpiresAt = 0;
    if (!task.startedAt) task.startedAt = this.now;
    this.touch(task);
  }

  touch(task: TaskState): void {
    task.updatedAt = this.now;
    this.changed.add(task);
    this.noteEnded(task);
  }

  leaseDeadline(task: TaskState): number {
    return leaseDeadline({ now: this.now, startedAt: task.startedAt, leaseSeconds: task.responseTimeoutSeconds, timeoutSeconds: task.timeoutSeconds });
  }

  // ---- ending the run ---------------------------------------------------------

  private complete(): void {
    const permissive = this.run.extra["permissiveFailure"] as { taskId: string; status: string; reason: string } | undefined;
    if (permissive) {
      this.run.failedTaskId = permissive.taskId;
      this.endRun("FAILED", `Task ${permissive.taskId} failed with status: ${permissive.status} and reason: '${permissive.reason}'`);
      return;
    }
    this.endRun("COMPLETED", "");
  }

  /** Ends the run: cancels what is open, evaluates the output, tells whoever waits. */
  endRun(status: WorkflowStatus, reason: string, output?: JsonObject): void {
    this.run.extra["canceling"] = true;
    for (const task of this.tasks) {
      if (TERMINAL_TASK.has(task.status)) continue;
      // Conductor gives a task canceled with its run no reason of its own (the run's says why).
      this.endTask(task, "CANCELED", "");
      task.handled = true;
      if (isWorkerTask(task.type)) this.effects.push({ kind: "dequeue", taskId: task.id });
      if (task.subWorkflowId) this.effects.push({ kind: "terminateRun", runId: task.subWorkflowId, reason: `parent workflow ${status}` });
    }
    delete this.run.extra["canceling"];
    // Conductor evaluates outputParameters before a completing run ends: `${workflow.status}` reads RUNNING.
    if (status === "COMPLETED") output ??= this.workflowOutput();
    this.run.status = status;
    this.run.reason = reason;
    this.run.endedAt = this.now;
    this.run.output = output ?? this.workflowOutput();
    const failureWorkflow = status !== "COMPLETED" ? this.failureWorkflowName() : "";
    if (failureWorkflow && !this.run.extra["failureWorkflowStarted"]) {
      this.run.extra["failureWorkflowStarted"] = true;
      const failureRunId = this.newId();
      this.run.output = { ...this.run.output, "conductor.failure_workflow": failureRunId };
      this.effects.push({
        kind: "startRun",
        request: {
          runId: failureRunId,
          parentTaskId: "",
          name: failureWorkflow,
          ...(this.def.failureWorkflowVersion !== undefined ? { version: this.def.failureWorkflowVersion } : {}),
          input: {
            ...this.run.input,
            workflowId: this.run.id,
            reason,
            failureStatus: status,
            failureTaskId: this.run.failedTaskId,
            failedWorkflow: this.snapshot(),
          } as JsonObject,
          correlationId: this.run.correlationId,
          priority: this.run.priority,
          linked: false,
          depth: Number(this.run.extra["depth"] ?? 0) + 1,
        },
      });
    }
    this.effects.push({ kind: "runEnded" });
  }

  /**
   * The failure workflow's name: as written, or taken from the run's input when
   * written `$workflow.input.<name>` (Conductor) or as a `${...}` expression.
   */
  private failureWorkflowName(): string {
    const name = this.def.failureWorkflow ?? "";
    if (name.startsWith("${")) {
      const value = this.resolver.resolveValue(name);
      return typeof value === "string" ? value : "";
    }
    if (name.startsWith("$")) {
      const key = name.split(".")[2];
      const value = key !== undefined ? this.run.input[key] : undefined;
      return typeof value === "string" ? value : "";
    }
    return name;
  }

  private workflowOutput(): JsonObject {
    const params = this.def.outputParameters;
    if (params && Object.keys(params).length > 0) return this.resolver.resolve(params);
    // Conductor: without outputParameters the output is the last task's output, whatever its status.
    const last = this.tasks[this.tasks.length - 1];
    return last ? { ...last.output } : {};
  }

  private snapshot(): JsonObject {
    return {
      workflowId: this.run.id,
      workflowName: this.run.name,
      workflowVersion: this.run.version,
      status: this.run.status,
      input: this.run.input,
      output: this.run.output,
      reasonForIncompletion: this.run.reason,
      correlationId: this.run.correlationId,
      failedReferenceTaskNames: this.run.failedRefs,
      tasks: this.tasks.map((t) => ({
        taskId: t.id,
        referenceTaskName: t.ref,
        taskType: t.type,
        status: t.status,
        reasonForIncompletion: t.reason,
      })),
    };
  }

  private nextWake(): number {
    if (TERMINAL_WORKFLOW.has(this.run.status)) return 0;
    let wake = Infinity;
    const timeout = this.def.timeoutSeconds ?? 0;
    if (timeout > 0 && (this.def.timeoutPolicy ?? "ALERT_ONLY") === "TIME_OUT_WF") wake = this.timeoutBase() + timeout * 1000;
    if (this.run.status === "RUNNING") {
      for (const task of this.tasks) {
        if (TERMINAL_TASK.has(task.status)) continue;
        if (task.status === "SCHEDULED" && isWorkerTask(task.type)) {
          const poll = this.taskDefOf(task)?.pollTimeoutSeconds ?? 0;
          if (poll > 0) wake = Math.min(wake, task.visibleAt + poll * 1000);
        } else if (task.status === "IN_PROGRESS" && isWorkerTask(task.type)) {
          // A leased task is found by the sweeper through the lease index, as
          // one a claim took is; its lease never outlasts its timeout. Left out
          // of the wake time, which then stays put from step to step, so the
          // run's row is updated in place (HOT) instead of in every index.
          if (task.leaseExpiresAt === 0 && task.timeoutSeconds > 0 && task.startedAt > 0) wake = Math.min(wake, task.startedAt + task.timeoutSeconds * 1000);
        } else if (task.status === "SCHEDULED") {
          wake = Math.min(wake, task.visibleAt);
        } else {
          if (task.timeoutSeconds > 0 && task.startedAt > 0) wake = Math.min(wake, task.startedAt + task.timeoutSeconds * 1000);
          if (this.awaitingEvaluation(task)) wake = Math.min(wake, task.leaseExpiresAt);
          const due = SYSTEM_TASKS[task.type]?.dueAt?.(this, task);
          if (due) wake = Math.min(wake, due);
        }
      }
    }
    return Number.isFinite(wake) ? wake : 0;
  }

  /** The workflow timeout counts from the start, or from the last retry. */
  private timeoutBase(): number {
    return Math.max(this.run.createdAt, Number(this.run.extra["lastRetriedAt"] ?? 0));
  }

  // ---- lookups --------------------------------------------------------------

  taskById(id: string): TaskState {
    const task = this.byId.get(id);
    if (!task) throw new Refusal("NOT_FOUND", `no task ${id} in run ${this.run.id}`);
    return task;
  }

  /** The latest instance of each reference name (read only). */
  latestByRef(): ReadonlyMap<string, TaskState> {
    return this.byRef;
  }

  /** The latest instance of a reference name (with its loop suffix, if any). */
  latest(ref: string): TaskState | undefined {
    return this.byRef.get(ref);
  }

  /** The reference name in the definition (without the loop's `__N`). */
  defRef(task: TaskState): string {
    return definitionRef(task.ref, task.iteration);
  }

  workflowTaskOf(task: TaskState): WorkflowTask | undefined {
    return this.graph.task(this.defRef(task)) ?? (task.extra["workflowTask"] as WorkflowTask | undefined);
  }

  taskDefOf(task: TaskState): TaskDef | undefined {
    return this.workflowTaskOf(task)?.taskDefinition ?? this.taskDefs.get(task.defName);
  }

  private requireStatus(allowed: WorkflowStatus[], action: string): void {
    if (!allowed.includes(this.run.status)) {
      throw new Refusal("FAILED_PRECONDITION", `cannot ${action} run ${this.run.id}: it is ${this.run.status}`);
    }
  }
}

function runFingerprint(run: RunState): string {
  const { input: _input, output: _output, ...rest } = run;
  return stringifyJson(rest);
}

function addUnique(list: string[], item: string): string[] {
  return list.includes(item) ? list : [...list, item];
}
