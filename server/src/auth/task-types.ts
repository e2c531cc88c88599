// The task type (definition name, what workers subscribe to) of a task id,
// for scope checks on worker calls that name a task. A task's type never
// changes, so answers are kept (bounded, oldest out first).
import { RecentMap } from "../recent.js";
import type { Store } from "../store/store.js";

export class TaskTypes {
  private readonly known: RecentMap<string, string>;

  constructor(
    private readonly store: Pick<Store, "taskTypeOf">,
    maxEntries = 50_000,
  ) {
    this.known = new RecentMap(maxEntries);
  }

  /** Notes a task's type learnt elsewhere (a task handed to a worker here). */
  remember(taskId: string, type: string): void {
    this.known.set(taskId, type);
  }

  /** The task's type; undefined when there is no such task (the handler then says so). */
  async of(taskId: string): Promise<string | undefined> {
    const id = taskId.toLowerCase();
    const hit = this.known.get(id);
    if (hit !== undefined) return hit;
    const type = await this.store.taskTypeOf(id);
    if (type !== undefined) this.remember(id, type);
    return type;
  }
}
