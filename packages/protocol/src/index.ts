export * from "./gen/baton/v1/run_pb.js";
export * from "./gen/baton/v1/metadata_service_pb.js";
export * from "./gen/baton/v1/workflow_service_pb.js";
export * from "./gen/baton/v1/task_service_pb.js";
export * from "./gen/baton/v1/event_service_pb.js";
export * from "./gen/baton/v1/session_service_pb.js";
export * from "./grpc.js";
export * from "./json.js";
