// Replies made from a run read whole, shared by the callers whose reads found
// it the same: four readers of a run of 5,000 tasks each converted and encoded
// all of it (the largest turns and most of the garbage of a wide run's reads),
// though they share one or two reads of it (store.runToView).
import type { RunView } from "../store/runs.js";

/** What a read found, to know another found the same: the run row's revision, and each task's id and revision, in order. */
class ReadContent {
  private readonly revision: number;
  private readonly ids: string[];
  private readonly revs: Int32Array;

  constructor(view: Pick<RunView, "revision" | "tasks">) {
    this.revision = view.revision;
    this.ids = view.tasks.map((t) => t.id);
    this.revs = Int32Array.from(view.tasks, (t) => t.rev);
  }

  /** Every write of a run or task row moves its revision, and a task removed or added changes the list. */
  same(other: Pick<RunView, "revision" | "tasks">): boolean {
    if (other.revision !== this.revision || other.tasks.length !== this.ids.length) return false;
    for (let i = 0; i < this.ids.length; i++) {
      const t = other.tasks[i]!;
      if (t.id !== this.ids[i] || t.rev !== this.revs[i]) return false;
    }
    return true;
  }
}

interface Made<T extends object> {
  content: ReadContent;
  /** While it is being made. */
  making?: Promise<T>;
  /** Once made: kept while a call still holds it (sending it), for readers who come meanwhile. */
  made?: WeakRef<T>;
}

/**
 * A reply per run and request shape, given to every caller whose read found
 * what the reply was made from. A read of other content (a later revision) gets
 * a reply of its own, which replaces the earlier for those who come after.
 * The reply goes out as it is: nothing may change it once given.
 */
export class RunReplies<T extends object> {
  private readonly byKey = new Map<string, Made<T>>();
  private readonly gone = new FinalizationRegistry<{ key: string; entry: Made<T> }>(({ key, entry }) => {
    if (this.byKey.get(key) === entry) this.byKey.delete(key);
  });

  /** `key`: the run and the request's shape; `make`: the reply from `view`, made once for its readers. */
  get(key: string, view: Pick<RunView, "revision" | "tasks">, make: () => Promise<T>): Promise<T> {
    const known = this.byKey.get(key);
    if (known?.content.same(view)) {
      if (known.making) return known.making;
      const reply = known.made?.deref();
      if (reply) return Promise.resolve(reply);
    }
    const entry: Made<T> = { content: new ReadContent(view) };
    const making = make();
    entry.making = making;
    this.byKey.set(key, entry);
    making.then(
      (reply) => {
        delete entry.making;
        entry.made = new WeakRef(reply);
        this.gone.register(reply, { key, entry });
      },
      () => {
        if (this.byKey.get(key) === entry) this.byKey.delete(key);
      },
    );
    return making;
  }
}
