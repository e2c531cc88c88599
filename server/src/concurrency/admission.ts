// A start under its workflow's per-key limit (see limit.ts): in the start's
// transaction, before it is decided, the run takes a slot of its key. The
// outcome says how the run is written: running (and, with CANCEL_OLDEST,
// the key's oldest runs are terminated through the outbox), queued
// (RUNNING with no task, its reason saying why, until an 'admitRun' item
// starts it), or refused (CANCEL_NEWEST: the decider ends it TERMINATED at
// once, with the reason).
import type { WorkflowDef } from "@baton/sdk";
import type { JsonObject, RunMarks } from "../decider/model.js";
import type { Queryable, Store } from "../store/store.js";
import { runLimitOf } from "./limit.js";

export { hasRunLimit } from "./limit.js";

/** What a start's slot means for its new run. */
export interface Admission {
  /** Marks merged into the run's (its concurrency key; whether it waits for a slot or was refused). */
  marks: Pick<RunMarks, "concurrencyKey" | "admission">;
  /** The run's reason ("" when it runs). */
  reason: string;
  /** Runs to terminate (CANCEL_OLDEST), with why. */
  terminate: { runId: string; reason: string }[];
}

/** Takes the slot of a run `runId` of `def` starting with `input`; undefined when the workflow has no limit. */
export async function admit(
  store: Pick<Store, "takeSlot">,
  tx: Queryable,
  def: WorkflowDef,
  input: JsonObject,
  correlationId: string,
  runId: string,
): Promise<Admission | undefined> {
  const limit = runLimitOf(def, input, correlationId);
  if (!limit) return undefined;
  const { key } = limit;
  const outcome = await store.takeSlot(tx, def.name, key, limit.limit, limit.strategy, runId);
  const over = `${outcome.kind === "run" ? limit.limit : outcome.running} runs of ${def.name} with key "${key}" are running (limit ${limit.limit})`;
  switch (outcome.kind) {
    case "run":
      return {
        marks: { concurrencyKey: key },
        reason: "",
        terminate: outcome.cancelled.map((id) => ({ runId: id, reason: `cancelled: ${over} and run ${runId} started after it (strategy CANCEL_OLDEST)` })),
      };
    case "queued":
      return { marks: { concurrencyKey: key, admission: "queued" }, reason: `queued: ${over}; this run starts when one of them ends`, terminate: [] };
    case "refused":
      return { marks: { admission: "refused" }, reason: `refused: ${over} (strategy CANCEL_NEWEST)`, terminate: [] };
  }
}
