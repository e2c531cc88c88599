// Stage 2 of an event batch: the decisions, from what the load stage read and
// nothing else (no I/O). One run's events are decided in order on one
// decider; a refused event is reported with the item it came from, so the
// caller can answer it and decide the others again from the stored state.
import { randomUUID } from "node:crypto";
import { decide, Decider, Refusal, type Decision, type RunEvent } from "../decider/decider.js";
import { graphFor } from "../decider/graph.js";
import type { RunState } from "../decider/model.js";
import type { TaskDef } from "@baton/sdk";
import type { Admission } from "../concurrency/admission.js";
import { fairMarksOf } from "../fairness/key.js";
import { sameText } from "../payload-text.js";
import type { EventItem, StartItem } from "./batch-items.js";
import type { RunToDecide } from "./load.js";
import type { EngineServices } from "./services.js";

/** One run's events decided. */
export interface RunDecided {
  kind: "decided";
  decision: Decision;
  /** The events as applied (a restart with the latest definition filled in), in order. */
  applied: RunEvent[];
  /** Whether each item's event changed anything. */
  outcomes: Map<EventItem, boolean>;
  /** Ids of the tasks the run had before (updated, not inserted). */
  existing: TaskIds;
}

/** An item's event the run's state does not allow: nothing of the decision stands. */
export interface RunRefused {
  kind: "refused";
  item: EventItem;
  error: Refusal;
}

/** `eventOf`: the event decided for an item (its own, unless the pipeline replaced it). */
export function decideRun(
  input: RunToDecide,
  items: EventItem[],
  now: number,
  services: EngineServices,
  eventOf: (item: EventItem) => RunEvent = (item) => item.event,
): RunDecided | RunRefused {
  const { def, graph, state, restartDef, taskDefs } = input;
  // The tasks were loaded for this batch alone: the decider may change them in place.
  const decider = new Decider({
    def,
    graph,
    run: state.run,
    tasks: state.tasks,
    book: state.book,
    taskDefs,
    now,
    newId: randomUUID,
    services,
    ownsTasks: true,
  });
  const applied: RunEvent[] = [];
  const outcomes = new Map<EventItem, boolean>();
  for (const item of items) {
    const given = eventOf(item);
    const event = given.kind === "restart" && restartDef && given.useLatest && !given.def ? { ...given, def: restartDef } : given;
    try {
      outcomes.set(item, decider.applyNext(event));
      applied.push(event);
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      return { kind: "refused", item, error };
    }
  }
  const decision = decider.result();
  return { kind: "decided", decision, applied, outcomes, existing: notIn(decision.created) };
}

/** A set of task ids asked only whether it has one. */
export type TaskIds = Pick<ReadonlySet<string>, "has">;

/**
 * The run's tasks from before a decision: those it did not create. Told by the
 * few it created, not by a set of every task's id (a run of thousands of
 * tasks made one for every event decided on it).
 */
const notIn = (created: ReadonlySet<string>): TaskIds => ({ has: (id) => !created.has(id) });

/** A new run's first decision; `admission`: what its concurrency key's slot said (see concurrency/admission.ts). */
export function decideStart(
  item: StartItem,
  runId: string,
  admission: Admission | undefined,
  taskDefs: Map<string, TaskDef>,
  now: number,
  services: EngineServices,
): Decision {
  const { def, hash } = item.resolved;
  const run = newRun(item, runId, now);
  if (admission) {
    run.marks = { ...run.marks, ...admission.marks };
    run.reason = admission.reason;
  }
  return decide({ def, graph: graphFor(hash, def), run, tasks: [], taskDefs, now, newId: randomUUID, services }, { kind: "start" });
}

/** A start's input: the definition's template under the request's (with no template, a copy with the same text). */
export function startInput({ options, resolved }: Pick<StartItem, "options" | "resolved">): RunState["input"] {
  const template = resolved.def.inputTemplate ?? {};
  const input = { ...template, ...options.input };
  return Object.keys(template).length === 0 ? sameText(input, options.input) : input;
}

/** The fairness key of the run a start makes: its workflow's, or (naming none) the key of the run of its tree that started it. */
export function startFairKey(item: Pick<StartItem, "options" | "resolved">): string {
  const { options, resolved } = item;
  const input = resolved.def["fairnessKey"] === undefined ? {} : startInput(item);
  return fairMarksOf(resolved.def, input, options.correlationId ?? "", options.fairShare).fairKey ?? "";
}

function newRun(item: StartItem, runId: string, now: number): RunState {
  const { options, resolved } = item;
  const { def, hash, version, route } = resolved;
  const input = startInput(item);
  // A run of a tree whose workflow names no key takes the key of the run that started it.
  const fair = fairMarksOf(def, input, options.correlationId ?? "", options.fairShare);
  return {
    id: runId,
    name: def.name,
    version,
    defHash: hash,
    status: "RUNNING",
    input,
    output: {},
    variables: structuredClone(def.variables ?? {}),
    correlationId: options.correlationId ?? "",
    idempotencyKey: options.idempotencyKey ?? "",
    priority: options.priority ?? 0,
    reason: "",
    failedRefs: [],
    failedTaskId: "",
    parentRunId: options.parentRunId ?? "",
    parentTaskId: options.parentTaskId ?? "",
    createdAt: now,
    updatedAt: now,
    endedAt: 0,
    wakeAt: 0,
    nextSeq: 1,
    marks: {
      ...(options.depth ? { depth: options.depth } : {}),
      ...(options.tree ? { root: options.tree.root } : {}),
      ...fair,
    },
    ...(route ? { route } : {}),
  };
}
