export { startServer, type BatonServer, type ServerOptions } from "./server.js";
export { startEmbeddedPostgres, type EmbeddedDatabase } from "./embedded.js";
export { ManualClock, systemClock, type Clock } from "./clock.js";
export { createLogger, type Logger } from "./logger.js";
export { decide, Refusal, type RunEvent, type Decision, type DeciderInput } from "./engine/decider.js";
export { Graph } from "./engine/graph.js";
export type { RunState, TaskState } from "./engine/model.js";
