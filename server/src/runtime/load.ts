// Stage 1 of an event batch: everything its decisions read, read before any
// of them is made — each run's tasks (from memory when it is current there),
// its definition and graph, the latest definition for a restart that asks for
// it, and the task definitions. Inside the batch's transaction, through its
// connection: a second one from the pool could wait forever while every
// connection holds a run lock.
import type { TaskDef, WorkflowDef } from "@baton/sdk";
import type { RunEvent } from "../decider/decider.js";
import type { Graph } from "../decider/graph.js";
import type { LoadedRun, Queryable, Store } from "../store/store.js";
import type { Definitions, ResolvedDefinition } from "./definitions.js";
import { swapTask, type RunInMemory, type RunMemory } from "./run-memory.js";

export type RestartDef = Extract<RunEvent, { kind: "restart" }>["def"];

/** All one run's decision reads. */
export interface RunToDecide {
  runId: string;
  state: RunInMemory;
  def: WorkflowDef;
  graph: Graph;
  /** The latest definition, for a restart that asks for it without naming one. */
  restartDef: RestartDef;
  taskDefs: Map<string, TaskDef>;
}

export class Loader {
  constructor(
    private readonly store: Pick<Store, "getRun">,
    private readonly definitions: Definitions,
    private readonly memory: RunMemory,
  ) {}

  /**
   * A locked run's tasks: as loaded, or kept in memory since this replica last
   * wrote it. Kept tasks are current when the run's revision has not moved:
   * only events change a finished task, and every event bumps the revision.
   * Open tasks also change by claims and lease extensions, which leave the
   * revision alone, so the tasks the events name come fresh from the
   * database; any other open task the decision writes is checked against
   * its stored revision (a stale one makes the batch retry from the database).
   *
   * A run kept here is locked without reading its row (only its revision).
   * A run not kept (narrow and only waiting, evicted, or last written by
   * another replica) is read and parsed whole, each loop with its iteration
   * entries: the decider's task book indexes every task, `${...}` may read
   * any of them, a loop's output is measured against its limit, and nothing
   * here says which rows changed since this replica last saw them.
   */
  async state(tx: Queryable, runId: string, loaded: LoadedRun): Promise<RunInMemory> {
    if (loaded.run && loaded.tasks) return { run: loaded.run, rev: loaded.rev, tasks: loaded.tasks };
    const kept = this.memory.take(runId);
    // Taken out of memory: its tasks (and their index) are this decision's to change. Its run is the row
    // as read (the revision has not moved), and its payloads are the objects already measured (run-bytes.ts).
    if (kept && kept.rev === loaded.rev && loaded.fresh.every((row) => swapTask(kept, row))) {
      return { run: kept.run, rev: loaded.rev, tasks: kept.tasks, ...(kept.book ? { book: kept.book } : {}) };
    }
    return this.reread(tx, runId, loaded.rev);
  }

  /** The run and its tasks as stored (a refused event may have changed the state half way); `rev` is the one locked. */
  async reread(tx: Queryable, runId: string, rev: number): Promise<RunInMemory> {
    return { ...(await this.store.getRun(runId, true, tx))!, rev };
  }

  /** What deciding `events` on this run reads beyond its state. */
  async forRun(tx: Queryable, runId: string, state: RunInMemory, events: RunEvent[]): Promise<RunToDecide> {
    const { def, graph } = await this.definitions.definition(state.run.defHash, tx);
    let restartDef: RestartDef;
    for (const event of events) {
      if (event.kind === "restart" && event.def === undefined && event.useLatest && !restartDef) {
        restartDef = await this.definitions.latestIn(tx, state.run.name);
      }
    }
    const taskDefs = await this.definitions.taskDefsFor(tx, restartDef?.def ?? def, state.tasks);
    return { runId, state, def, graph, restartDef, taskDefs };
  }

  /** The task definitions a new run may need. */
  forStart(tx: Queryable, resolved: ResolvedDefinition): Promise<Map<string, TaskDef>> {
    return this.definitions.taskDefsFor(tx, resolved.def, []);
  }
}
