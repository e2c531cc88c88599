// Conductor's TaskResult carries no lease token: a worker names a task by id.
// The token of each task handed out over REST is kept here, with the worker
// it went to, so an update is fenced exactly as a gRPC worker's is: a task
// since put back and handed to someone else refuses the old holder's result.
// A task handed out by another replica (or before a restart) is looked up.
import { RecentMap } from "../recent.js";
import type { Store } from "../store/store.js";

interface Lease {
  token: string;
  workerId: string;
  taskType: string;
}

export class RestLeases {
  private readonly known: RecentMap<string, Lease>;

  constructor(
    private readonly store: Pick<Store, "taskLease">,
    maxEntries = 200_000,
  ) {
    this.known = new RecentMap(maxEntries);
  }

  remember(taskId: string, lease: Lease): void {
    this.known.set(taskId, lease);
  }

  forget(taskId: string): void {
    this.known.delete(taskId);
  }

  /**
   * The lease token an update from `workerId` holds, and the task's type.
   * "" when the task has no live lease (it ended, or waits in the queue): the
   * service then ignores the result (ended) or refuses it (stale).
   */
  async resolve(taskId: string, workerId: string): Promise<{ token: string; taskType: string } | undefined> {
    const known = this.known.get(taskId);
    if (known && sameWorker(known.workerId, workerId)) return { token: known.token, taskType: known.taskType };
    const found = await this.store.taskLease(taskId);
    if (!found) return undefined;
    // A TaskResult's workerId need not be the workerid its poll sent (Conductor's Go SDK stamps the
    // host's name on every result): a task handed out only once has no other holder it could be from.
    const holder = sameWorker(found.workerId, workerId) || found.pollCount === 1;
    const live = found.status === "IN_PROGRESS" && found.leaseToken !== "" && holder;
    return { token: live ? found.leaseToken : "", taskType: found.defName };
  }
}

/** A result from another worker than the lease holder is stale (either side unnamed: no evidence either way). */
function sameWorker(holder: string, sender: string): boolean {
  return holder === "" || sender === "" || holder === sender;
}
