export * from "./gen/baton/v1/run_pb.js";
export * from "./gen/baton/v1/metadata_service_pb.js";
export * from "./gen/baton/v1/workflow_service_pb.js";
export * from "./gen/baton/v1/task_service_pb.js";
export * from "./gen/baton/v1/event_service_pb.js";
export * from "./gen/baton/v1/session_service_pb.js";
export * from "./gen/baton/v1/schedule_service_pb.js";
export * from "./gen/baton/v1/retention_service_pb.js";
export * from "./gen/baton/v1/route_service_pb.js";
export * from "./grpc.js";
export * from "./slices.js";
export { encodedInSlices, sharedReply } from "./encode-in-slices.js";
export { jsonEncodedInSlices, slicedJsonEncoder } from "./json-in-slices.js";
export * from "./run-orders.js";
export { everyPage, everyPageOfNames, type ListPageOf } from "./pages.js";
// The JSON codec lives in @baton/json (the server uses it too); clients keep importing it from here.
export { parseJson, stringifyJson } from "@baton/json";
