// RetentionService: `baton runs purge` — removes ended runs before a time, in
// the reaper's batches (exported first when the server exports). A dry run
// counts every ended run before the time and their tasks, a read as costly as
// a search no index serves: it takes its key's turn in the search lane.
import { RetentionService, type ServiceImpl } from "@baton/protocol";
import { keyIdOfCall } from "../auth/guard.js";
import type { Store } from "../store/store.js";
import { invalid, rpc } from "../service/errors.js";
import type { SearchLane } from "../service/search-lane.js";
import type { Reaper } from "./reaper.js";

export function retentionService(
  store: Pick<Store, "countEndedRuns" | "oldestEndedRun">,
  reaper: Reaper,
  searches: SearchLane,
): ServiceImpl<typeof RetentionService> {
  return {
    purgeRuns: rpc(async (req, call) => {
      const before = Number(req.beforeTimeMs);
      if (!(before > 0)) throw invalid("before_time_ms is required: runs that ended before this instant (epoch ms) are removed");
      const filter = { before, ...(req.workflowName ? { workflow: req.workflowName } : {}) };
      const removed = req.dryRun
        ? await searches.run(keyIdOfCall(call), () => store.countEndedRuns(filter), undefined, "a workflow name, an earlier time")
        : await reaper.purge(filter);
      return { runs: BigInt(removed.runs), tasks: BigInt(removed.tasks), oldestEndedTimeMs: BigInt(await store.oldestEndedRun()) };
    }),
  };
}
