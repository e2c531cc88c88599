// The task type (definition name, what workers subscribe to) of a task id,
// for scope checks on worker calls that name a task. A task's type never
// changes, so answers are kept (bounded, oldest out first).
import type { Store } from "../store/store.js";

export class TaskTypes {
  private readonly known = new Map<string, string>();

  constructor(
    private readonly store: Pick<Store, "taskTypeOf">,
    private readonly maxEntries = 50_000,
  ) {}

  /** Notes a task's type learnt elsewhere (a task handed to a worker here). */
  remember(taskId: string, type: string): void {
    this.known.delete(taskId);
    this.known.set(taskId, type);
    if (this.known.size > this.maxEntries) {
      const oldest = this.known.keys().next().value;
      if (oldest !== undefined) this.known.delete(oldest);
    }
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
