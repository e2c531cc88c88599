// The services every door serves (gRPC here; other protocols adapt the same
// implementations): built once from narrow dependencies, so no service
// reaches the store or the clock through the engine.
import type { EventService, MetadataService, ServiceImpl, TaskService, WorkflowService } from "@baton/protocol";
import type { Clock } from "../clock.js";
import type { RunChanges } from "../console/run-changes.js";
import type { ReplicaView } from "../console/replica-view.js";
import type { Dispatcher } from "../dispatch/dispatcher.js";
import type { RunWaiters } from "../dispatch/run-waiters.js";
import type { ConnectedWorkers } from "../dispatch/workers.js";
import type { Limits } from "../limits.js";
import type { Engine } from "../runtime/engine.js";
import { eventService } from "./events.js";
import { metadataService } from "./metadata.js";
import { taskService } from "./tasks.js";
import type { PoolLine } from "./publish-budgets.js";
import type { SearchLane } from "./search-lane.js";
import { workflowService } from "./workflows.js";

export interface ServiceDeps {
  engine: Pick<Engine, "start" | "handle" | "definition" | "workflowDefsChanged" | "taskDefsChanged" | "admitQueued" | "queries">;
  store: Parameters<typeof metadataService>[0]["store"] &
    Parameters<typeof workflowService>[0]["store"] &
    Parameters<typeof taskService>[0]["store"] &
    Parameters<typeof eventService>[0]["store"];
  dispatcher: Pick<Dispatcher, "add" | "remove" | "credit" | "release" | "fair">;
  waiters: Pick<RunWaiters, "wait">;
  clock: Clock;
  limits: Limits;
  /** Runs this replica moved (the console's watch calls wait on it). */
  changes?: RunChanges;
  /** Workers connected here (the console lists them). */
  workers?: ConnectedWorkers;
  /** Workers connected to every replica (ListWorkers answers with them). */
  everyReplica?: Pick<ReplicaView, "workersEverywhere">;
  /** An event was published here: this replica's consumer looks at once. */
  eventPublished?: () => void;
  /** Where reads that cost what their caller's filter touches wait their key's turn (runs searched and counted, queues counted). */
  searches: SearchLane;
  /** The line publishes' requests to the queries pool wait in (metadata.ts). */
  publishes?: PoolLine;
}

export interface Services {
  metadata: ServiceImpl<typeof MetadataService>;
  workflows: ServiceImpl<typeof WorkflowService>;
  tasks: ServiceImpl<typeof TaskService>;
  events: ServiceImpl<typeof EventService>;
}

export function createServices({
  engine,
  store,
  dispatcher,
  waiters,
  clock,
  limits,
  changes,
  workers,
  everyReplica,
  eventPublished,
  publishes,
  searches,
}: ServiceDeps): Services {
  return {
    metadata: metadataService({
      store,
      clock,
      limits,
      queries: engine.queries,
      changed: {
        workflowDef: (name) => engine.workflowDefsChanged(name),
        taskDefs: () => engine.taskDefsChanged(),
        runsAdmitted: (count) => engine.admitQueued(count),
      },
      ...(publishes ? { publishes } : {}),
    }),
    workflows: workflowService({
      engine,
      store,
      waiters,
      limits,
      searches,
      ...(changes ? { changes } : {}),
    }),
    tasks: taskService({ engine, store, dispatcher, clock, limits, searches, ...(workers ? { workers } : {}), ...(everyReplica ? { everyReplica } : {}) }),
    events: eventService({ store, clock, limits, ...(eventPublished ? { published: eventPublished } : {}) }),
  };
}
