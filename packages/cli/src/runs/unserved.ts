// Task types a run waits on that no connected worker serves: the first thing
// to know when a run sits still (`baton get`, `baton start --wait`).
import type { BatonClient, ConductorWorkflow } from "@baton/client";

/** Types of the run's queued worker tasks with nobody connected to take them. */
export async function unservedTaskTypes(client: BatonClient, run: ConductorWorkflow): Promise<string[]> {
  if (run.status !== "RUNNING") return [];
  const waiting = new Set(run.tasks.filter((t) => t.status === "SCHEDULED" && t.taskDefName).map((t) => t.taskDefName));
  if (waiting.size === 0) return [];
  const [queues, workers] = await Promise.all([client.queues([...waiting]), client.workers()]);
  // Only types with a queue are handed to workers (system tasks never are).
  const queued = new Set(queues.filter((q) => q.ready + q.delayed > 0).map((q) => q.taskType));
  const served = new Set(workers.flatMap((w) => w.taskTypes));
  return [...waiting].filter((type) => queued.has(type) && !served.has(type)).sort();
}

export function unservedNotice(types: string[]): string {
  return `the run waits on task type${types.length > 1 ? "s" : ""} ${types.join(", ")}, which no connected worker serves (start a worker for ${types.length > 1 ? "them" : "it"}; \`baton tasks\` lists the workers connected)`;
}
