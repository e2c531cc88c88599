// HTTP: carried out after commit by runtime/http-tasks.ts, answered by an event.
import { httpCallLeaseAt } from "../deadlines.js";
import type { SystemTask } from "./contract.js";
import { inProgress } from "./outcomes.js";

export const http: SystemTask = {
  start(d, task) {
    inProgress(d, task);
    task.leaseToken = d.newId();
    task.leaseExpiresAt = httpCallLeaseAt(d.now, task);
    d.effects.push({ kind: "runAsync", task });
  },
  onTick(d, task) {
    // The process that ran the call died before it answered: call again.
    if (task.leaseExpiresAt > 0 && d.now >= task.leaseExpiresAt) {
      d.endTask(task, "TIMED_OUT", "HTTP call got no answer in time");
    }
  },
  dueAt(_d, task) {
    return task.leaseExpiresAt || undefined;
  },
};
