// Typed clients for Baton's services, generated from proto/ (the same
// descriptors every other client uses), over the Connect protocol on the
// console's own origin. The API key, when the server asks for one, is kept in
// this browser's session storage and sent as a bearer token.
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { WorkflowService } from "../../protocol/src/gen/baton/v1/workflow_service_pb.js";
import { MetadataService } from "../../protocol/src/gen/baton/v1/metadata_service_pb.js";
import { TaskService } from "../../protocol/src/gen/baton/v1/task_service_pb.js";
import { EventService } from "../../protocol/src/gen/baton/v1/event_service_pb.js";
import { SessionService } from "../../protocol/src/gen/baton/v1/session_service_pb.js";
import { everyPage, everyPageOfNames } from "../../protocol/src/pages.js";

export * from "../../protocol/src/gen/baton/v1/run_pb.js";
export type { Workflow, Task } from "../../protocol/src/gen/baton/v1/run_pb.js";

const KEY = "baton.apiKey";

export function apiKey(): string | undefined {
  return sessionStorage.getItem(KEY) ?? undefined;
}

export function setApiKey(key: string | undefined): void {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

const auth: Interceptor = (next) => (req) => {
  const key = apiKey();
  if (key) req.header.set("authorization", `Bearer ${key}`);
  return next(req);
};

const transport = createConnectTransport({ baseUrl: location.origin, useBinaryFormat: true, interceptors: [auth] });

export const workflows = createClient(WorkflowService, transport);
export const metadata = createClient(MetadataService, transport);
export const tasks = createClient(TaskService, transport);
export const events = createClient(EventService, transport);
export const session = createClient(SessionService, transport);

/** Items asked per page when a list is read whole (the server's most). */
const PAGE_SIZE = 1000;

/** Workflow definition summaries, every page (latest of each name, or every version with allVersions; one name's when given). */
export const listWorkflowDefs = (req: { name?: string; allVersions?: boolean }) =>
  everyPage(async (pageToken) => {
    const page = await metadata.listWorkflowDefs({ ...req, pageSize: PAGE_SIZE, pageToken });
    return { items: page.definitions, nextPageToken: page.nextPageToken };
  });

/** Every task definition's JSON, every page. */
export const listTaskDefs = () =>
  everyPage(async (pageToken) => {
    const page = await metadata.listTaskDefs({ pageSize: PAGE_SIZE, pageToken });
    return { items: page.taskDefJson, nextPageToken: page.nextPageToken };
  });

/** Every event handler's JSON, every page. */
export const listEventHandlers = () =>
  everyPage(async (pageToken) => {
    const page = await events.listEventHandlers({ pageSize: PAGE_SIZE, pageToken });
    return { items: page.handlerJson, nextPageToken: page.nextPageToken };
  });

/** Queue depths of every task type (or only `taskTypes`), every page. */
export const listQueues = (taskTypes: string[] = []) =>
  everyPageOfNames(taskTypes, PAGE_SIZE, async (some, pageToken) => {
    const page = await tasks.listQueues({ taskTypes: some, pageSize: PAGE_SIZE, pageToken });
    return { items: page.queues, nextPageToken: page.nextPageToken };
  });

/** The workers connected to every replica, every page. */
export const listWorkers = () =>
  everyPage(async (pageToken) => {
    const page = await tasks.listWorkers({ pageSize: PAGE_SIZE, pageToken });
    return { items: page.workers, nextPageToken: page.nextPageToken };
  });

/** The server's words for a refused call (what the CLI would print). */
export function errorText(error: unknown): string {
  if (error instanceof ConnectError) return error.rawMessage || Code[error.code];
  return error instanceof Error ? error.message : String(error);
}

export function errorCode(error: unknown): Code | undefined {
  return error instanceof ConnectError ? error.code : undefined;
}

export { Code };
