// What a run (and its sub-workflow runs) is waiting for: read through the
// server's store (runTreeSnapshot), the one operation this package needs that
// the wire has no call for.
export type { QueueRow, RunRow, RunningTask, RunTreeSnapshot as Snapshot } from "@baton/server";
