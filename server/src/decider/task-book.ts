// A run's task book: its task instances in order, found by id, by reference
// name (the latest instance), by the names `${...}` parameters use and by loop
// iteration, and the ended tasks the decision loop has still to act on. Plain
// bookkeeping, no rules of the flow. A run held in memory keeps its book from
// one decision to the next (see resume and swap), so a decision on a run of
// thousands of tasks costs what it changes, not a fresh index of every task.
import { definitionRef } from "@baton/sdk";
import { TERMINAL_TASK, type TaskState } from "./model.js";
import { PlaceHeap } from "./place-heap.js";

/** Where a task is filed: its place in `tasks`, the loop iteration it was created in, its plain `${...}` name if it has one. */
interface Filed {
  place: number;
  iteration: number;
  plain: string | undefined;
}

export class TaskBook {
  private list: TaskState[];
  /** The latest instance of each reference name, and every task by id. */
  private byRef = new Map<string, TaskState>();
  private byId = new Map<string, TaskState>();
  /** The `${...}` names: each reference name and, inside a loop, its plain name (Conductor: the latest iteration). */
  private byName = new Map<string, TaskState>();
  private filed = new Map<TaskState, Filed>();
  /** The tasks created in each loop iteration (in order). */
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

  /** Puts `task` before the others (an operator's placeholder, rare: every place moves, so the lookups are rebuilt). */
  addFirst(task: TaskState): void {
    this.list.unshift(task);
    this.reindex();
  }

  /**
   * Puts a newer copy of one of the run's tasks (its row read again) in the
   * place of the one held; false when the run has no task with its id.
   */
  swap(row: TaskState): boolean {
    const old = this.byId.get(row.id);
    if (!old) return false;
    if (old === row) return true;
    const filed = this.filed.get(old)!;
    const created = this.byIteration.get(filed.iteration)!;
    created[this.placeIn(created, filed.place)] = row;
    this.filed.delete(old);
    this.filed.set(row, filed);
    this.list[filed.place] = row;
    this.byId.set(row.id, row);
    for (const name of [old.ref, filed.plain]) if (name !== undefined && this.byName.get(name) === old) this.byName.set(name, row);
    if (this.byRef.get(old.ref) === old) this.byRef.set(old.ref, row);
    this.noteEnded(row);
    return true;
  }

  /**
   * Readies the book for another decision on the same tasks: what ended and
   * was not acted on yet is queued afresh, as a new book would (a scan of
   * statuses; the lookups stay as they are).
   */
  resume(): this {
    this.endedNow = new PlaceHeap();
    this.endedNext = new PlaceHeap();
    this.cursor = -1;
    // By index: entries() made a pair per task, for every decision on a run of thousands.
    for (let place = 0; place < this.list.length; place++) {
      const task = this.list[place]!;
      if (!task.handled && TERMINAL_TASK.has(task.status)) this.endedNow.add(place);
    }
    return this;
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

  /** The task a `${...}` name stands for: a reference name, or a loop's plain name (its latest iteration). */
  named(name: string): TaskState | undefined {
    return this.byName.get(name);
  }

  /** Every `${...}` name, in the order first seen. */
  names(): IterableIterator<string> {
    return this.byName.keys();
  }

  /** Tasks created in loop iteration `n`, in order (a loop task's own iteration moves on: check it). */
  ofIteration(n: number): readonly TaskState[] {
    return this.byIteration.get(n) ?? [];
  }

  /** Queues a task that ended and was not acted on yet for the decision loop. */
  noteEnded(task: TaskState): void {
    if (task.handled || !TERMINAL_TASK.has(task.status)) return;
    const place = this.filed.get(task)?.place;
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
    this.byName = new Map();
    this.filed = new Map();
    this.byIteration = new Map();
    this.endedNow = new PlaceHeap();
    this.endedNext = new PlaceHeap();
    this.cursor = -1;
    for (const task of this.list) this.index(task);
  }

  private index(task: TaskState): void {
    this.byRef.set(task.ref, task);
    this.byId.set(task.id, task);
    this.byName.set(task.ref, task);
    const plain = definitionRef(task.ref, task.iteration);
    if (plain !== task.ref) this.byName.set(plain, task);
    this.filed.set(task, { place: this.filed.size, iteration: task.iteration, plain: plain !== task.ref ? plain : undefined });
    const created = this.byIteration.get(task.iteration);
    if (created) created.push(task);
    else this.byIteration.set(task.iteration, [task]);
    this.noteEnded(task);
  }

  /** The index in `created` (in place order) of the task at `place`. */
  private placeIn(created: TaskState[], place: number): number {
    let lo = 0;
    let hi = created.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.filed.get(created[mid]!)!.place < place) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
