// An ended run that runs again (retry, restart, rerun, or brought back by
// its sub-workflow's revival) under its workflow's per-key limit of running
// runs takes a slot as a start does (see
// admission.ts), in the batch's transaction, once its revival has been
// decided (a refused one takes nothing): with a slot it runs again now; over
// the limit it waits (QUEUE: the revival is decided again as a
// 'queueRevival', see decider/queued-revival.ts) or is refused
// (CANCEL_NEWEST); CANCEL_OLDEST terminates the key's oldest running run.
import type { WorkflowDef } from "@baton/sdk";
import { Refusal, type Decision, type RunEvent } from "../decider/decider.js";
import type { Queryable, Store } from "../store/store.js";
import { runLimitOf } from "./limit.js";

type Revival = Extract<RunEvent, { kind: "retry" | "restart" | "rerun" | "childRevived" }>;

const isRevival = (event: RunEvent): event is Revival =>
  event.kind === "retry" || event.kind === "restart" || event.kind === "rerun" || event.kind === "childRevived";

export type RevivalSlot =
  /** It holds a slot (the runs to terminate for it, with CANCEL_OLDEST). */
  | { kind: "run"; terminate: { runId: string; reason: string }[] }
  /** Over the limit: the revival event is replaced by this one. */
  | { kind: "wait"; event: RunEvent }
  /** Over the limit with CANCEL_NEWEST: the revival is refused. */
  | { kind: "refused"; error: Refusal };

/**
 * Takes the slot of a run `decision` brought back from its end; `events`
 * are its events as applied. Undefined when it takes none (no revival, no
 * limit); else which event revived it and what the slot says.
 */
export async function slotForRevival(
  store: Pick<Store, "takeSlot">,
  q: Queryable,
  decision: Decision,
  events: RunEvent[],
  defOf: (hash: string) => Promise<WorkflowDef>,
): Promise<{ index: number; slot: RevivalSlot } | undefined> {
  if (!decision.effects.some((e) => e.kind === "runRevived")) return undefined;
  const index = events.findIndex(isRevival);
  if (index < 0) return undefined;
  const def = await defOf(decision.run.defHash);
  const { run } = decision;
  const limit = runLimitOf(def, run.input, run.correlationId);
  if (!limit) return undefined;
  const outcome = await store.takeSlot(q, def.name, limit.key, limit.limit, limit.strategy, run.id);
  const over = `${outcome.kind === "run" ? limit.limit : outcome.running} runs of ${def.name} with key "${limit.key}" are running (limit ${limit.limit})`;
  switch (outcome.kind) {
    case "run":
      // Its end gives the slot back and admits the next waiting run at once (see runtime/write-plan.ts).
      run.marks = { ...run.marks, concurrencyKey: limit.key };
      return {
        index,
        slot: {
          kind: "run",
          terminate: outcome.cancelled.map((id) => ({ runId: id, reason: `cancelled: ${over} and run ${run.id} ran again after it (strategy CANCEL_OLDEST)` })),
        },
      };
    case "queued":
      return {
        index,
        slot: {
          kind: "wait",
          event: { kind: "queueRevival", revival: events[index] as Revival, reason: `queued: ${over}; this run runs again when one of them ends` },
        },
      };
    case "refused":
      return {
        index,
        slot: { kind: "refused", error: new Refusal("FAILED_PRECONDITION", `refused: ${over} (strategy CANCEL_NEWEST); try again when one of them has ended`) },
      };
  }
}
