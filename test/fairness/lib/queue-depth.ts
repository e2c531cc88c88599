// A task type's queue as the server reports it (ready, in progress), for the
// fair-claim tests' checks of what a claim took and what it left.
import type { BatonClient } from "@baton/client";

/** The queue of task type `type` from ListQueues, or undefined when the server lists none. */
export async function queueDepth(client: BatonClient, type: string) {
  return (await client.tasks.listQueues({})).queues.find((q) => q.taskType === type);
}
