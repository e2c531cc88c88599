export { BatonClient, type StartOptions, type SearchOptions, type DeclaredFlow } from "./client.js";
export { DEFAULT_ADDRESS, tlsFromEnv, type ClientOptions, type TlsClientOptions } from "./connection.js";
export type { ScheduleState, RouteView, RouteWeightView, RouteGuardView } from "./views.js";
export {
  Worker,
  TerminalError,
  inProgress,
  type Handler,
  type HandlerOptions,
  type DeclaredTaskType,
  type TaskContext,
  type WorkerOptions,
  type InProgress,
} from "./worker.js";
export { toConductorWorkflow, toConductorTask, type ConductorWorkflow, type ConductorTask } from "./conductor.js";
