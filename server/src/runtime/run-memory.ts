// Runs as this replica last wrote them (row, revision, tasks), so their next
// events need not read them again: a wide run's tasks are not read whole each
// time, and a narrow run's task result is decided without reading or locking
// anything (see Engine's fast path). Also which run a task belongs to, for
// tasks seen lately, so a run's results are grouped into one batch.
import type { Decision } from "../decider/decider.js";
import { TERMINAL_TASK, TERMINAL_WORKFLOW, type RunState, type TaskState } from "../decider/model.js";
import { markLoopStored } from "../decider/loop-output.js";
import { isWorkerTask } from "../decider/system-tasks/index.js";
import type { TaskBook } from "../decider/task-book.js";
import type { TaskIds } from "./decide.js";
import type { LoadedRun } from "../store/store.js";
import { noteStored } from "../store/stored-payloads.js";
import { measureRun, remeasure, type RunBytes } from "./run-bytes.js";

/** Runs with fewer tasks are read whole each time: cheap, and memory stays small. */
export const KEEP_MIN_TASKS = 64;
/** At most this many tasks, runs, and bytes of their payloads kept in memory; the least recently written go first. */
const KEEP_MAX_TASKS = 200_000;
const KEEP_MAX_RUNS = 5_000;
const KEEP_MAX_BYTES = 256 * 1024 * 1024;
/** At most this many task -> run entries. */
const MAX_TASK_RUNS = 50_000;

export interface RunInMemory {
  run: RunState;
  rev: number;
  tasks: TaskState[];
  /** The index of `tasks` from the run's last decision (absent: as read from the database), reused by its next one. */
  book?: TaskBook;
}

/** A run to keep once its write committed. */
export interface KeptRun {
  runId: string;
  /** The run's revision after this write. */
  rev: number;
  decision: Decision;
  /** Ids of the tasks that existed before (updated, not inserted). */
  existing: TaskIds;
}

export class RunMemory {
  private readonly runs = new Map<string, RunInMemory>();
  private cachedTasks = 0;
  private cachedBytes = 0;
  /**
   * What each run kept, or taken out to be kept again, weighs (run-bytes.ts):
   * per task, so keeping a run again re-measures only the tasks its decision
   * changed. A run taken and never kept again (its write failed) leaves its
   * entry until it is the oldest of too many.
   */
  private readonly accounts = new Map<string, RunBytes>();
  private readonly maxBytes: number;

  constructor(options: { maxBytes?: number } = {}) {
    this.maxBytes = options.maxBytes ?? KEEP_MAX_BYTES;
  }

  /** What is kept: runs, their tasks, and the bytes of their payloads (estimated). */
  size(): { runs: number; tasks: number; bytes: number } {
    return { runs: this.runs.size, tasks: this.cachedTasks, bytes: this.cachedBytes };
  }
  /** Which run a task belongs to (never changes). */
  private readonly runOfTask = new Map<string, string>();

  /** The run of a task, when seen lately. */
  runOf(taskId: string): string | undefined {
    return this.runOfTask.get(taskId);
  }

  has(runId: string): boolean {
    return this.runs.has(runId);
  }

  /** A narrow run's state, if kept, for a task result decided from memory (not taken out: see take). */
  peek(runId: string): RunInMemory | undefined {
    return this.runs.get(runId);
  }

  /** Takes a run out while it is in use: the decider changes its objects in place, and a failed write leaves them wrong. */
  take(runId: string): RunInMemory | undefined {
    const kept = this.runs.get(runId);
    if (!kept) return undefined;
    this.runs.delete(runId);
    this.cachedTasks -= kept.tasks.length;
    this.cachedBytes -= this.accounts.get(runId)?.total ?? 0;
    return kept;
  }

  /** Wide runs loaded for a batch: their results arrive together and are worth grouping. */
  loaded(runs: Iterable<LoadedRun>): void {
    for (const { tasks } of runs) if (tasks && tasks.length >= KEEP_MIN_TASKS) this.rememberTasks(tasks.map((t) => [t.id, t.runId] as [string, string]));
  }

  private rememberTasks(entries: Iterable<[string, string]>): void {
    for (const [taskId, runId] of entries) this.runOfTask.set(taskId, runId);
    for (const taskId of this.runOfTask.keys()) {
      if (this.runOfTask.size <= MAX_TASK_RUNS) break;
      this.runOfTask.delete(taskId);
    }
  }

  /** Tasks claimed here from the queue: a narrow run kept in memory takes their new rows, so its next result is decided from memory. */
  claimed(tasks: TaskState[]): void {
    for (const task of tasks) {
      const kept = this.runs.get(task.runId);
      if (!kept || kept.tasks.length >= KEEP_MIN_TASKS) continue;
      const held = kept.tasks.find((t) => t.id === task.id);
      // The claim bumped the row's revision once; any other difference means memory is behind.
      if (held && held.rev + 1 === task.rev) swapTask(kept, task);
      else {
        this.take(task.runId);
        this.accounts.delete(task.runId);
      }
    }
  }

  /**
   * Keeps a run after commit, as written: a wide one, whose tasks are then
   * not read whole again; a narrow one with a worker task open, whose result
   * can then be decided from memory. Not runs that only wait (timers,
   * signals): memory stays small with many of those.
   */
  keep({ runId, rev, decision, existing }: KeptRun): void {
    this.take(runId);
    const before = this.accounts.get(runId);
    this.accounts.delete(runId);
    if (TERMINAL_WORKFLOW.has(decision.run.status)) return;
    const wide = decision.tasks.length >= KEEP_MIN_TASKS;
    // A leased system task (an evaluation, an HTTP call) is answered by this replica: its answer is decided from memory too.
    if (!wide && !decision.tasks.some((t) => !TERMINAL_TASK.has(t.status) && (isWorkerTask(t.type) || t.leaseToken !== ""))) return;
    // The store bumped the revision of every task it updated; what it wrote is now what is stored.
    for (const task of decision.changed) {
      if (existing.has(task.id)) task.rev += 1;
      noteStored(task);
      if (task.type === "DO_WHILE") markLoopStored(task);
    }
    noteStored(decision.run);
    const account = before ? remeasure(before, decision) : measureRun(decision);
    // A wide run keeps its task book for its next decision; a narrow one is indexed afresh (cheap), and memory stays small with many.
    this.runs.set(runId, { run: decision.run, rev, tasks: decision.tasks, ...(wide ? { book: decision.book } : {}) });
    this.accounts.set(runId, account);
    this.cachedTasks += decision.tasks.length;
    this.cachedBytes += account.total;
    this.rememberTasks([...decision.changed].map((t) => [t.id, runId] as [string, string]));
    for (const id of this.runs.keys()) {
      if (this.cachedTasks <= KEEP_MAX_TASKS && this.runs.size <= KEEP_MAX_RUNS && this.cachedBytes <= this.maxBytes) break;
      this.take(id);
      this.accounts.delete(id);
    }
    for (const id of this.accounts.keys()) {
      if (this.accounts.size <= 2 * KEEP_MAX_RUNS) break;
      if (!this.runs.has(id)) this.accounts.delete(id);
    }
  }
}

/**
 * Puts a newer row of one of a kept run's tasks in the place of the one held
 * (in its book too); false when the run has no such task. A row at the
 * revision held is what memory holds already (every change to a task's row
 * bumps its revision), and the object held stays: a loop's output keeps its
 * measure (see output-limit.ts).
 */
export function swapTask(kept: RunInMemory, row: TaskState): boolean {
  const held = kept.book ? kept.book.find(row.id) : kept.tasks.find((t) => t.id === row.id);
  if (held === undefined) return false;
  if (held.rev === row.rev) return true;
  // A loop's row is read without its iteration entries (store/loop-iterations.ts): a newer one means reading the run whole.
  if (row.type === "DO_WHILE") return false;
  if (kept.book) return kept.book.swap(row);
  kept.tasks[kept.tasks.indexOf(held)] = row;
  return true;
}
