// What the rest of the server sees of the runtime: the hooks it is told
// through, what an event and a start return, and its errors of its own.
import type { WorkflowDef } from "@baton/sdk";
import { Refusal } from "../decider/contract.js";
import type { Decision, RunEvent } from "../decider/decider.js";
import type { JsonObject, RouteChoice, RunState, TaskState } from "../decider/model.js";
import type { ClaimedTask } from "../store/store.js";

export interface EngineHooks {
  /** Worker tasks became ready (after commit). */
  tasksReady(taskTypes: Set<string>, at: number): void;
  /** A run reached a terminal status (after commit). */
  runEnded(runId: string): void;
  /** An HTTP (or other asynchronous) system task must be carried out. */
  runAsync(task: TaskState): void;
  /** Task definitions changed: drop what was derived from them. */
  taskDefsChanged?(): void;
  /**
   * A worker of this type waiting here with a free credit, reserved for a task
   * this event makes ready: the task is handed over at commit without going
   * through the queue table. `quiet`: only a credit a stream keeps for keys
   * with nothing queued (other keys' tasks are), or with none free, the place
   * of a task a stream holds unwritten for a key holding more there than
   * `key` (the task's run's fairness key).
   */
  reserveWorker?(taskType: string, room: "any" | "quiet", key: string): Reservation | undefined;
  /** A run's events were decided and committed (after commit; `events` in the order applied). */
  decided?(decision: Decision, events: RunEvent[]): void;
}

/** What one event did to its run. */
export interface EventOutcome {
  /** False when the event changed nothing (e.g. a result for a task that had ended). */
  applied: boolean;
  /** The run after the event (and any decided with it). */
  run: RunState;
}

export interface Reservation {
  workerId: string;
  /** Pushes the task (with its run's facts); false when the worker left meanwhile. */
  deliver(task: ClaimedTask): boolean;
  /** Gives the credit back (the event did not commit). */
  release(): void;
}

export interface StartOptions {
  name: string;
  version?: number;
  definition?: WorkflowDef;
  input: JsonObject;
  correlationId?: string;
  idempotencyKey?: string;
  priority?: number;
  /** Checks the resolved definition against the request before anything is written (throws to refuse). */
  admit?: (def: WorkflowDef) => void | Promise<void>;
  /** The id of the key whose call starts the run ("" or none: no key), for its share of the starts in flight. */
  caller?: string;
  /** Set for child runs: chosen by the parent's decider. */
  runId?: string;
  parentRunId?: string;
  parentTaskId?: string;
  depth?: number;
  /** Set for runs another run started: the root of the tree the run joins, which counts it (store/run-trees.ts). */
  tree?: { root: string; pastBound?: boolean };
  /**
   * Set for runs another run started: that run's fairness key and weight, the new run's when its own workflow
   * names no key (or its key's value is absent). A tree's runs then take their root key's turns in the fair
   * claims: a keyed parent's 10,000 children were keyless, queued ahead of every unkeyed run's task of their type.
   */
  fairShare?: { key: string; weight: number };
}

/** Picks the version for a start without one (see routes/router.ts). */
export interface VersionChooser {
  choose(start: { name: string; input: JsonObject; correlationId: string }): Promise<{ version: number; choice: RouteChoice } | undefined>;
}

/** A run's tree has started as many runs as one may: the run is not started, and starting it again cannot help. */
export class TreeFull extends Refusal {
  constructor(root: string, bound: number) {
    super(
      "FAILED_PRECONDITION",
      `the run tree of ${root} has started ${bound} runs, the most one tree may (the runs its SUB_WORKFLOW, START_WORKFLOW, failure ` +
        `workflows and event handlers start, at any depth): a workflow that starts itself without end? Start fewer runs from one run, ` +
        `or raise the server's BATON_MAX_RUNS_PER_TREE`,
    );
    this.name = "TreeFull";
  }
}

/** More work than the server takes on at once: the caller should retry after `retryAfterMs`. */
export class Overloaded extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
    this.name = "Overloaded";
  }
}
