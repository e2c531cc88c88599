export {
  BatonClient,
  DEFAULT_ADDRESS,
  tlsFromEnv,
  type ClientOptions,
  type TlsClientOptions,
  type StartOptions,
  type SearchOptions,
  type ScheduleState,
  type RouteView,
  type RouteWeightView,
  type RouteGuardView,
  type DeclaredFlow,
} from "./client.js";
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
