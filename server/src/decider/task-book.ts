// A run's task book: its task instances in order, found by id, by reference
// name (the latest instance) and by loop iteration, and the ended tasks the
// decision loop has still to act on. Plain bookkeeping, no rules of the flow.
import { TERMINAL_TASK, type TaskState } from "./model.js";
import { PlaceHeap } from "./place-heap.js";

export class TaskBook {
  private list: TaskState[];
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

  /** `tasks` is kept, not copied: tasks added later are pushed onto it. */
  constructor(tasks: TaskState[]) {
    this.list = tasks;
    this.reindex();
  }

  get tasks(): TaskState[] {
    return this.list;
  }

  /** Replaces the tasks (a restart, a rerun removed some) and rebuilds the lookups. */
  replace(tasks: TaskState[]): void {
    this.list = tasks;
    this.reindex();
  }

  add(task: TaskState): void {
    this.list.push(task);
    this.index(task);
  }

  /** The task with this id, if the run has it. */
  find(id: string): TaskState | undefined {
    return this.byId.get(id);
  }

  /** The latest instance of a reference name (with its loop suffix, if any). */
  latest(ref: string): TaskState | undefined {
    return this.byRef.get(ref);
  }

  /** The latest instance of each reference name (read only). */
  latestByRef(): ReadonlyMap<string, TaskState> {
    return this.byRef;
  }

  /** Tasks created in loop iteration `n`, in order (a loop task's own iteration moves on: check it). */
  ofIteration(n: number): readonly TaskState[] {
    return this.byIteration.get(n) ?? [];
  }

  /** Queues a task that ended and was not acted on yet for the decision loop. */
  noteEnded(task: TaskState): void {
    if (task.handled || !TERMINAL_TASK.has(task.status)) return;
    const place = this.position.get(task);
    if (place === undefined) return;
    (place > this.cursor ? this.endedNow : this.endedNext).add(place);
  }

  /** Starts a pass of the decision loop from the first task. */
  startPass(): void {
    for (const place of this.endedNext.drain()) this.endedNow.add(place);
    this.cursor = -1;
  }

  /** The next ended task in scan order: later in this pass, else from the start again. */
  nextEnded(): TaskState | undefined {
    for (;;) {
      let place = this.endedNow.pop();
      if (place === undefined) {
        if (this.endedNext.size === 0) return undefined;
        [this.endedNow, this.endedNext] = [this.endedNext, this.endedNow];
        this.cursor = -1;
        place = this.endedNow.pop()!;
      }
      this.cursor = place;
      const task = this.list[place];
      if (task && TERMINAL_TASK.has(task.status) && !task.handled) return task;
    }
  }

  /** Rebuilds the lookups (at the start, tasks may have ended while the run was paused: they are queued). */
  private reindex(): void {
    this.byRef = new Map();
    this.byId = new Map();
    this.position = new Map();
    this.byIteration = new Map();
    this.endedNow = new PlaceHeap();
    this.endedNext = new PlaceHeap();
    this.cursor = -1;
    for (const task of this.list) this.index(task);
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
}
