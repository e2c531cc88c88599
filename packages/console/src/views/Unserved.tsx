// Task types a running run waits on that no connected worker serves: the
// first thing to know when a run sits still (the same check as `baton get`
// and `baton start --wait`). Asked again whenever the run moves.
import { useEffect, useState } from "preact/hooks";
import { listQueues, listWorkers, type Workflow } from "../api.js";
import { taskStatusName, workflowStatusName } from "../ui.js";

/** Types of the run's queued worker tasks with nobody connected to take them ([] while unknown). */
export function useUnservedTypes(run: Workflow | undefined, state: string): string[] {
  const [types, setTypes] = useState<string[]>([]);
  const waiting =
    run && workflowStatusName(run.status) === "RUNNING"
      ? [...new Set(run.tasks.filter((t) => taskStatusName(t.status) === "SCHEDULED" && t.taskDefName).map((t) => t.taskDefName))]
      : [];
  const key = waiting.sort().join(",");
  useEffect(() => {
    if (!key) {
      setTypes([]);
      return;
    }
    let live = true;
    const waitingTypes = key.split(",");
    Promise.all([listQueues(waitingTypes), listWorkers()]).then(
      ([queues, connected]) => {
        if (!live) return;
        // Only types with a queue are handed to workers (system tasks never are).
        const queued = new Set(queues.filter((x) => x.ready + x.delayed > 0n).map((x) => x.taskType));
        const served = new Set(connected.flatMap((x) => x.taskTypes));
        setTypes(waitingTypes.filter((t) => queued.has(t) && !served.has(t)));
      },
      () => live && setTypes([]),
    );
    return () => {
      live = false;
    };
  }, [key, state]);
  return types;
}

export function UnservedNotice({ types }: { types: string[] }) {
  if (types.length === 0) return null;
  const many = types.length > 1;
  return (
    <div class="unserved" role="status" data-unserved={types.join(",")}>
      ⚠ Waits on task type{many ? "s" : ""} <span class="mono">{types.join(", ")}</span>, which no connected worker serves: start a worker for{" "}
      {many ? "them" : "it"} (<a href="/queues">Queues &amp; workers</a> lists the workers connected).
    </div>
  );
}
