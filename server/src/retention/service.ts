// RetentionService: `baton runs purge` — removes ended runs before a time, in
// the reaper's batches (exported first when the server exports).
import { RetentionService, type ServiceImpl } from "@baton/protocol";
import type { Store } from "../store/store.js";
import { invalid, rpc } from "../service/errors.js";
import type { Reaper } from "./reaper.js";

export function retentionService(store: Pick<Store, "countEndedRuns" | "oldestEndedRun">, reaper: Reaper): ServiceImpl<typeof RetentionService> {
  return {
    purgeRuns: rpc(async (req) => {
      const before = Number(req.beforeTimeMs);
      if (!(before > 0)) throw invalid("before_time_ms is required: runs that ended before this instant (epoch ms) are removed");
      const filter = { before, ...(req.workflowName ? { workflow: req.workflowName } : {}) };
      const removed = req.dryRun ? await store.countEndedRuns(filter) : await reaper.purge(filter);
      return { runs: BigInt(removed.runs), tasks: BigInt(removed.tasks), oldestEndedTimeMs: BigInt(await store.oldestEndedRun()) };
    }),
  };
}
