// Conductor's REST API on its own HTTP port of the server process: a thin
// adapter over the same service implementations, keys and policy as gRPC.
import { EventService, MetadataService, TaskService, WorkflowService, type grpc } from "@baton/protocol";
import type { Limits } from "../limits.js";
import type { Logger } from "../logger.js";
import type { RequestBytes } from "../request-bytes.js";
import type { UnsentAnswers } from "../unsent-answers.js";
import type { Connections } from "../connections.js";
import type { OpenCalls } from "../auth/open-calls.js";
import type { Principal } from "../auth/policy.js";
import type { Services as ServiceImpls } from "../service/index.js";
import type { Store } from "../store/store.js";
import type { Queries } from "../sandbox/queries.js";
import { publishLine, type PoolLine } from "../service/publish-budgets.js";
import type { BodyViewName } from "./body-views.js";
import { Admission } from "./admission.js";
import { toHttpError } from "./errors.js";
import { eventRoutes } from "./event-routes.js";
import { startHttpApi, type HttpApi, type Route, type Unserved } from "./http.js";
import { RestLeases } from "./leases.js";
import { metadataRoutes } from "./metadata-routes.js";
import { TOKEN_REQUEST } from "./schemas.js";
import { called, type Services } from "./services.js";
import { taskRoutes } from "./task-routes.js";
import { workflowRoutes } from "./workflow-routes.js";

export interface ConductorApiOptions {
  host: string;
  port: number;
  /** The same service implementations gRPC serves. */
  services: ServiceImpls;
  store: Pick<Store, "taskLease" | "requeue">;
  limits: Limits;
  /** The server's budget of answers not yet read by their callers. */
  answers?: UnsentAnswers;
  /** The server's budget of request bytes in hand. */
  requests?: RequestBytes;
  /** The limits on the port's connections. */
  connections?: Connections;
  log: Logger;
  /** Undefined when authentication is disabled. */
  authenticate?: (metadata: grpc.Metadata) => Promise<Principal>;
  /** Where calls admitted with a key are registered, so revoking the key ends them (with authenticate). */
  calls?: OpenCalls;
  /** Whether operators may run definitions sent with the request. */
  inlineDefinitions?: boolean;
  taskTypeOf: (taskId: string) => Promise<string | undefined>;
  /** Where large bodies are read (the queries pool); none: on the serving thread. */
  queries?: Pick<Queries, "readBody">;
  /** The line publishes' requests to the queries pool wait in (the metadata service's): publishes' bodies are read in it. */
  publishes?: PoolLine;
}

/** The bodies of publishes: definitions, task definitions and event handlers. */
const PUBLISH_VIEWS = new Set<BodyViewName>(["definition", "definitions", "taskDefs", "taskDef", "eventHandler"]);

/** Conductor endpoints Baton knows and does not serve, with why. */
const UNSERVED: Unserved[] = [
  { method: "*", path: "/api/tasks/queue/polldata", reason: "Baton keeps no poll data; see the metrics port for queue waits" },
  { method: "*", path: "/api/tasks/queue/polldata/all", reason: "Baton keeps no poll data; see the metrics port for queue waits" },
  { method: "*", path: "/api/tasks/queue/requeue/:taskType", reason: "Baton's queue needs no requeue: expired leases return tasks by themselves" },
  { method: "*", path: "/api/tasks/search", reason: "task search is not served; search workflows instead" },
  { method: "*", path: "/api/tasks/search-v2", reason: "task search is not served; search workflows instead" },
  { method: "*", path: "/api/tasks/externalstoragelocation", reason: "Baton has no external payload storage" },
  { method: "*", path: "/api/tasks/external-storage-location", reason: "Baton has no external payload storage" },
  { method: "*", path: "/api/workflow/externalstoragelocation", reason: "Baton has no external payload storage" },
  { method: "*", path: "/api/workflow/external-storage-location", reason: "Baton has no external payload storage" },
  { method: "*", path: "/api/workflow/search-by-tasks", reason: "search by task fields is not served" },
  { method: "*", path: "/api/workflow/search-by-tasks-v2", reason: "search by task fields is not served" },
  { method: "*", path: "/api/workflow/correlated/batch", reason: "an Orkes endpoint: ask /api/workflow/{name}/correlated once per workflow name" },
  { method: "*", path: "/api/workflow/test", reason: "test runs with mocked tasks are @baton/testing's job" },
  { method: "*", path: "/api/workflow/decide/:workflowId", reason: "Baton decides on every event; there is nothing to trigger" },
  { method: "*", path: "/api/workflow/:workflowId/remove", reason: "runs are not deleted over the API" },
  { method: "*", path: "/api/workflow/:workflowId/resetcallbacks", reason: "not served" },
  { method: "*", path: "/api/metadata/tags", reason: "tags are an Orkes feature" },
  { method: "*", path: "/api/event/queue/*", reason: "Baton reads no external queues; events come through its own bus" },
  { method: "*", path: "/api/event/execution/*", reason: "Baton keeps no record of event executions" },
  { method: "*", path: "/api/queue/*", reason: "Conductor's queue admin is not served" },
  { method: "*", path: "/api/admin/*", reason: "Conductor's admin endpoints are not served" },
  { method: "*", path: "/api/scheduler/*", reason: "schedules are an Orkes feature here" },
  { method: "*", path: "/api/secrets/*", reason: "secrets are an Orkes feature" },
  { method: "*", path: "/api/applications/*", reason: "applications are an Orkes feature; Baton has API keys (baton keys)" },
  { method: "*", path: "/api/human/*", reason: "human tasks are an Orkes feature; use HUMAN tasks and complete them by reference" },
  { method: "*", path: "/api/integrations/*", reason: "integrations are an Orkes feature" },
  { method: "*", path: "/api/prompts/*", reason: "prompts are an Orkes feature" },
  { method: "*", path: "/api/schema/*", reason: "schemas are an Orkes feature" },
];

export async function startConductorApi(options: ConductorApiOptions): Promise<HttpApi> {
  const services: Services = {
    tasks: called(TaskService, options.services.tasks),
    workflows: called(WorkflowService, options.services.workflows),
    metadata: called(MetadataService, options.services.metadata),
    events: called(EventService, options.services.events),
    leases: new RestLeases(options.store),
    store: options.store,
    limits: options.limits,
  };
  const admission = new Admission({
    ...(options.authenticate ? { authenticate: options.authenticate } : {}),
    taskTypeOf: options.taskTypeOf,
    inlineDefinitions: options.inlineDefinitions ?? false,
  });
  // A publish's body is read in the line its definition is then checked in, other bodies in one of their own: each
  // takes one of the pool's threads at most, so a flood of publishes holds back neither runs' results and starts nor
  // (when the other line is idle) runs' filters and schemas.
  const { queries } = options;
  const bodyLine = publishLine();
  const publishes = options.publishes ?? publishLine();
  const lineOf = (view: BodyViewName): PoolLine => (PUBLISH_VIEWS.has(view) ? publishes : bodyLine);
  const open: Route[] = [
    { method: "GET", path: "/health", rights: "", public: true, handle: async () => ({ json: { healthy: true } }) },
    {
      // Conductor's SDKs trade a key id and secret for a token sent as X-Authorization; Baton's token is the key itself.
      method: "POST",
      path: "/api/token",
      rights: "",
      public: true,
      schema: TOKEN_REQUEST,
      handle: async (r) => {
        const { keyId, keySecret } = r.body as { keyId: string; keySecret: string };
        const key = keyId.startsWith("bk_") && (keySecret === "" || keyId.endsWith(`_${keySecret}`)) ? keyId : `bk_${keyId.replace(/^bk_/, "")}_${keySecret}`;
        await admission.verifyKey(key).catch((error: unknown) => {
          throw toHttpError(error);
        });
        return { json: { token: key } };
      },
    },
  ];
  return startHttpApi({
    host: options.host,
    port: options.port,
    routes: [...open, ...taskRoutes(services), ...workflowRoutes(services), ...metadataRoutes(services), ...eventRoutes(services)],
    unserved: UNSERVED,
    admission,
    log: options.log,
    maxBodyBytes: options.limits.definitionBytes + 1024 * 1024,
    ...(options.answers ? { answers: options.answers } : {}),
    ...(options.requests ? { requests: options.requests } : {}),
    ...(options.connections ? { connections: options.connections } : {}),
    ...(options.authenticate && options.calls ? { calls: options.calls } : {}),
    ...(queries ? { readBody: (view, text, params) => lineOf(view)(() => queries.readBody(view, text, params)) } : {}),
  });
}

export type { HttpApi } from "./http.js";
