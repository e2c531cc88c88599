// /api/tasks: what Conductor's workers call (poll, batch poll, update,
// update-v2, logs) and the task lookups and queue sizes beside them.
import { quoted } from "@baton/json";
import { create } from "@bufbuild/protobuf";
import {
  AddTaskLogRequestSchema,
  ExtendLeaseRequestSchema,
  GetTaskLogsRequestSchema,
  GetTaskRequestSchema,
  GetWorkflowRequestSchema,
  ListQueuesRequestSchema,
  PollRequestSchema,
  SignalTaskRequestSchema,
  TaskResultSchema,
  TaskStatus,
  type LeasedTask,
  type QueueDepth,
  UpdateTaskRequestSchema,
  stringifyJson,
  everyPageOfNames,
  grpc,
  RpcError,
} from "@baton/protocol";
import { requireId } from "../service/errors.js";
import { LIST_PAGE_MAX } from "../service/list-pages.js";
import { badRequest, notFound } from "./errors.js";
import type { TaskResultView } from "./body-views.js";
import type { Reply, Request, Route } from "./http.js";
import { callOf, intParam, type Services } from "./services.js";
import { wholeList } from "./whole-lists.js";
import { leasedToTask, listJson, toTask, toTaskLog, workflowJson } from "./shapes.js";

/** How long a single (non-batch) poll waits for a task, as Conductor's does. */
const SINGLE_POLL_MS = 100;
/**
 * update-v2 hands the worker the next task only if one is ready now. Conductor
 * waits up to 100 ms for it; here that would hold one of the few connections
 * an SDK shares among all its workers (10 in the JavaScript SDK), while the
 * worker's batch long poll, which gets a task the moment it is ready, waits anyway.
 */
const NEXT_TASK_NOW = 0;

const TASK = "baton.v1.TaskService";

/** Who asks, and when they went away. */
type Caller = Pick<Request, "signal" | "principal">;

export function taskRoutes(s: Services): Route[] {
  /** Tasks handed out that will not reach their worker: back to the queue now (or, failing that, when their lease runs out). */
  const giveBack = async (tasks: LeasedTask[]) => {
    for (const task of tasks) {
      s.leases.forget(task.taskId);
      await s.store.requeue(task.taskId, task.leaseToken).catch(() => {});
    }
  };
  /**
   * Tasks of `type` leased to `workerId`, waiting at most `waitMs` for the
   * first. They go back to the queue if the request's client goes away before
   * its answer is sent (`signal`): e.g. an update-v2 whose next task was taken
   * while its result was being written, or a poll the client gave up on.
   */
  const take = async (type: string, workerId: string, count: number, waitMs: number, signal: AbortSignal) => {
    const { tasks } = await s.tasks.poll(create(PollRequestSchema, { taskType: type, workerId, count, waitMs: BigInt(waitMs) }), callOf(signal));
    for (const task of tasks) s.leases.remember(task.taskId, { token: task.leaseToken, workerId, taskType: task.taskType });
    if (tasks.length > 0) {
      if (signal.aborted) void giveBack(tasks);
      else signal.addEventListener("abort", () => void giveBack(tasks), { once: true });
    }
    return tasks;
  };
  /** The same, as Conductor's Task. */
  const poll = async (type: string, workerId: string, count: number, waitMs: number, signal: AbortSignal) =>
    (await take(type, workerId, count, waitMs, signal)).map((task) => leasedToTask(task, workerId));

  /** The lease an update names (by task id and worker), and the task's type. */
  const leaseOf = async (result: TaskResultView) => {
    requireId("task", result.taskId);
    const lease = await s.leases.resolve(result.taskId, result.workerId);
    if (!lease) throw notFound(`no task ${result.taskId}`);
    return lease;
  };

  /** Applies a worker's TaskResult under `lease`; its output goes on as the text the body was read into (body-views.ts). */
  const apply = async (result: TaskResultView, lease: { token: string; taskType: string }): Promise<void> => {
    if (result.extendLease) {
      // A heartbeat: the lease runs on, nothing else changes.
      await s.tasks.extendLease(
        create(ExtendLeaseRequestSchema, { taskId: result.taskId, leaseToken: lease.token, extendSeconds: 0n }),
        callOf(new AbortController().signal),
      );
      return;
    }
    const message = create(TaskResultSchema, {
      taskId: result.taskId,
      leaseToken: lease.token,
      status: TaskStatus[result.status],
      outputJson: result.outputJson,
      reasonForIncompletion: result.reasonForIncompletion,
      callbackAfterSeconds: BigInt(result.callbackAfterSeconds),
      logs: result.logs,
      workerId: result.workerId,
    });
    const { applied } = await s.tasks.updateTask(create(UpdateTaskRequestSchema, { result: message }), callOf(new AbortController().signal));
    if (applied && (result.status !== "IN_PROGRESS" || result.callbackAfterSeconds > 0)) s.leases.forget(result.taskId);
  };

  /** A task by its id alone (undefined: no such task). Read on its own, not with its run's other tasks: a run may hold thousands. */
  const findTask = async (taskId: string, signal: AbortSignal) => {
    requireId("task", taskId);
    const runId = (await s.store.taskLease(taskId))?.runId;
    if (!runId) return undefined;
    return (await s.workflows.getTask(create(GetTaskRequestSchema, { workflowId: runId, taskId }), callOf(signal))).task;
  };

  const bySignal = async (params: Record<string, string>, query: URLSearchParams, body: unknown, signal: AbortSignal) => {
    const { outputJson } = body as { outputJson: string };
    const status = params["status"] ?? "";
    if (!["IN_PROGRESS", "FAILED", "FAILED_WITH_TERMINAL_ERROR", "COMPLETED"].includes(status)) {
      throw badRequest(`status must be IN_PROGRESS, FAILED, FAILED_WITH_TERMINAL_ERROR or COMPLETED, not ${quoted(status)}`);
    }
    const { taskId } = await s.workflows.signalTask(
      create(SignalTaskRequestSchema, {
        workflowId: params["workflowId"] ?? "",
        taskReferenceName: params["taskRefName"] ?? "",
        status: TaskStatus[status as "COMPLETED"],
        outputJson,
        reason: query.get("reason") ?? "",
      }),
      callOf(signal),
    );
    return taskId;
  };

  // As its key: queue sizes are counted in the search lane, where a key holds its share (search-lane.ts).
  const queuePage = (by: Caller, taskTypes: string[], pageToken: string) =>
    s.tasks
      .listQueues(create(ListQueuesRequestSchema, { taskTypes, pageSize: LIST_PAGE_MAX, pageToken }), callOf(by.signal, by.principal))
      .then((page) => ({ items: page.queues, nextPageToken: page.nextPageToken }));
  // Conductor answers every queue at once: read page by page, bounded as its other whole lists are. Types
  // named in the URL are asked for a page's worth a call.
  const queues = (by: Caller, taskTypes: string[] = []): Promise<QueueDepth[]> =>
    taskTypes.length === 0
      ? wholeList(
          "task queues",
          (token) => queuePage(by, [], token),
          (q) => q.taskType.length + 64,
          "gRPC ListQueues with page_token, or `baton tasks`",
        )
      : everyPageOfNames(taskTypes, LIST_PAGE_MAX, (some, token) => queuePage(by, some, token));
  const queueSizes = async (by: Caller, taskTypes?: string[]): Promise<Map<string, number>> =>
    new Map((await queues(by, taskTypes)).map((q) => [q.taskType, Number(q.ready)]));

  return [
    {
      method: "GET",
      path: "/api/tasks/poll/batch/:tasktype",
      rights: `${TASK}/Poll`,
      touches: (r) => ({ taskTypes: [r.params["tasktype"] ?? ""] }),
      handle: async (r) => {
        const count = intParam(r.query, "count", 1);
        const timeout = intParam(r.query, "timeout", 100);
        if (count < 1) throw badRequest("count must be at least 1");
        if (timeout < 0) throw badRequest("timeout must not be negative");
        const tasks = await poll(
          r.params["tasktype"] ?? "",
          r.query.get("workerid") ?? "",
          Math.min(count, 1000),
          Math.min(timeout, s.limits.maxWaitMs),
          r.signal,
        );
        // Up to 1,000 tasks with their inputs: written in slices.
        return { jsonPieces: await listJson(tasks, (task) => [stringifyJson(task)]) };
      },
    },
    {
      method: "GET",
      path: "/api/tasks/poll/:tasktype",
      rights: `${TASK}/Poll`,
      touches: (r) => ({ taskTypes: [r.params["tasktype"] ?? ""] }),
      handle: async (r): Promise<Reply> => {
        const [task] = await poll(r.params["tasktype"] ?? "", r.query.get("workerid") ?? "", 1, SINGLE_POLL_MS, r.signal);
        return task ? { json: task } : { status: 204 };
      },
    },
    {
      method: "POST",
      path: "/api/tasks",
      rights: `${TASK}/UpdateTask`,
      view: "taskResult",
      touches: (r) => ({ taskIds: [(r.body as TaskResultView).taskId] }),
      handle: async (r) => {
        const result = r.body as TaskResultView;
        await apply(result, await leaseOf(result));
        return { text: result.taskId };
      },
    },
    {
      method: "POST",
      path: "/api/tasks/update-v2",
      rights: `${TASK}/UpdateTask`,
      view: "taskResult",
      touches: (r) => ({ taskIds: [(r.body as TaskResultView).taskId] }),
      handle: async (r): Promise<Reply> => {
        const result = r.body as TaskResultView;
        const workerId = result.workerId;
        const lease = await leaseOf(result);
        // The next task of the same type for this worker, if one is ready now (a scoped key may take only its own types, as this one).
        // Conductor writes the result, then polls; here the poll runs while the result is written (two round trips
        // to the database at once, and the poll's claim is shared with the other workers' meanwhile).
        const next = take(lease.taskType, workerId, 1, NEXT_TASK_NOW, r.signal);
        try {
          await apply(result, lease);
        } catch (error) {
          // A refused result gets no next task: what the poll took goes back to the queue.
          await giveBack(await next.catch(() => []));
          throw error;
        }
        const [task] = await next;
        return task ? { json: leasedToTask(task, workerId) } : { status: 204 };
      },
    },
    {
      method: "POST",
      path: "/api/tasks/:workflowId/:taskRefName/:status",
      rights: "baton.v1.WorkflowService/SignalTask",
      view: "output",
      handle: async (r) => ({ text: await bySignal(r.params, r.query, r.body, r.signal) }),
    },
    {
      method: "POST",
      path: "/api/tasks/:workflowId/:taskRefName/:status/sync",
      rights: "baton.v1.WorkflowService/SignalTask",
      view: "output",
      handle: async (r) => {
        await bySignal(r.params, r.query, r.body, r.signal);
        const { workflow } = await s.workflows.getWorkflow(
          create(GetWorkflowRequestSchema, { workflowId: r.params["workflowId"] ?? "", includeTasks: true }),
          callOf(r.signal),
        );
        return { jsonPieces: await workflowJson(workflow!) };
      },
    },
    {
      method: "POST",
      path: "/api/tasks/:taskId/log",
      rights: `${TASK}/AddTaskLog`,
      body: "text",
      touches: (r) => ({ taskIds: [r.params["taskId"] ?? ""] }),
      handle: async (r) => {
        // Conductor's SDKs send the line as a JSON string; plain text is taken as it is.
        let message = r.text;
        try {
          const parsed: unknown = JSON.parse(r.text);
          if (typeof parsed === "string") message = parsed;
        } catch {
          // plain text
        }
        // Conductor's workers send no lease: the lease this door handed out for the task stands for it (leases.ts).
        const taskId = r.params["taskId"] ?? "";
        const leaseToken = (await s.leases.resolve(taskId, ""))?.token ?? "";
        await s.tasks.addTaskLog(create(AddTaskLogRequestSchema, { taskId, message, leaseToken }), callOf(r.signal, r.principal));
        return undefined;
      },
    },
    {
      method: "GET",
      path: "/api/tasks/:taskId/log",
      rights: `${TASK}/GetTaskLogs`,
      touches: (r) => ({ taskIds: [r.params["taskId"] ?? ""] }),
      handle: async (r) => {
        const taskId = r.params["taskId"] ?? "";
        // Conductor's answer is one list: the first page (1,000 lines, about 4 MiB at most; `baton logs` reads them all).
        const { logs } = await s.tasks.getTaskLogs(create(GetTaskLogsRequestSchema, { taskId }), callOf(r.signal));
        return { json: logs.map((l) => toTaskLog(taskId, l)) };
      },
    },
    {
      method: "GET",
      path: "/api/tasks/:taskId",
      rights: "baton.v1.WorkflowService/GetWorkflow",
      handle: async (r): Promise<Reply> => {
        const task = await findTask(r.params["taskId"] ?? "", r.signal).catch((error: unknown) => {
          if (error instanceof RpcError && error.code === grpc.status.NOT_FOUND) return undefined;
          throw error;
        });
        return task ? { json: toTask(task) } : { status: 204 };
      },
    },
    {
      method: "GET",
      path: "/api/tasks/queue/sizes",
      rights: `${TASK}/ListQueues`,
      handle: async (r) => {
        const types = [
          ...new Set(
            r.query
              .getAll("taskType")
              .flatMap((t) => t.split(","))
              .filter((t) => t !== ""),
          ),
        ];
        const sizes = await queueSizes(r, types);
        return { json: Object.fromEntries((types.length > 0 ? types : [...sizes.keys()]).map((t) => [t, sizes.get(t) ?? 0])) };
      },
    },
    {
      method: "GET",
      path: "/api/tasks/queue/size",
      rights: `${TASK}/ListQueues`,
      handle: async (r) => {
        const type = r.query.get("taskType");
        if (!type) throw badRequest("query parameter taskType is required");
        return { json: (await queueSizes(r, [type])).get(type) ?? 0 };
      },
    },
    {
      method: "GET",
      path: "/api/tasks/queue/all",
      rights: `${TASK}/ListQueues`,
      handle: async (r) => ({ json: Object.fromEntries(await queueSizes(r)) }),
    },
    {
      method: "GET",
      path: "/api/tasks/queue/all/verbose",
      rights: `${TASK}/ListQueues`,
      handle: async (r) => {
        return { json: Object.fromEntries((await queues(r)).map((q) => [q.taskType, { a: { size: Number(q.ready), uacked: Number(q.inProgress) } }])) };
      },
    },
  ];
}
