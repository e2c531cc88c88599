// Tasks that wait on the outside: WAIT (a time or a signal), HUMAN, EVENT (publish, then go on).
import type { JsonObject } from "../model.js";
import { waitEndsAt } from "../deadlines.js";
import type { SystemTask } from "./contract.js";
import { complete, fail, inProgress, errorMessage } from "./outcomes.js";

export const waitTask: SystemTask = {
  start(d, task) {
    inProgress(d, task);
    try {
      const endsAt = waitEndsAt(d.now, task.input);
      if (endsAt !== undefined) task.marks.waitUntil = endsAt;
    } catch (error) {
      fail(d, task, errorMessage(error), true);
      return;
    }
    waitTask.onTick!(d, task);
  },
  onTick(d, task) {
    const until = task.marks.waitUntil;
    if (until !== undefined && d.now >= until) complete(d, task);
  },
  dueAt(_d, task) {
    return task.marks.waitUntil;
  },
};

export const human: SystemTask = {
  start(d, task) {
    inProgress(d, task);
  },
};

export const event: SystemTask = {
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
