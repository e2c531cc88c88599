// WorkflowService: start, observe and operate runs. Each operation is one event.
import { shortened } from "@baton/json";
import { create } from "@bufbuild/protobuf";
import {
  GetWorkflowResponseSchema,
  mapInSlices,
  sharedReply,
  WorkflowService,
  WorkflowStatus,
  type GetWorkflowResponse,
  type ServiceImpl,
  type StartWorkflowRequest,
} from "@baton/protocol";
import type { WorkflowDef } from "@baton/sdk";
import { notePayloadText } from "../payload-text.js";
import type { RunEvent } from "../decider/decider.js";
import { TERMINAL_TASK, TERMINAL_WORKFLOW, type JsonObject, type TaskState } from "../decider/model.js";
import type { Engine } from "../runtime/engine.js";
import type { RunWaiters } from "../dispatch/run-waiters.js";
import type { Limits } from "../limits.js";
import { CoalescedReads } from "../store/coalesced-read.js";
import type { Store } from "../store/store.js";
import { toTask, toWorkflow, toWorkflowWithTasks, workflowStatusName } from "./convert.js";
import { invalid, LARGE_STEP_BYTES, notFound, parseLargePayload, requireId, rpc } from "./errors.js";
import { RunChanges } from "../console/run-changes.js";
import { keyIdOfCall } from "../auth/guard.js";
import type { SearchLane } from "./search-lane.js";
import { checkRunFilter, runState, STATUS_NAMES, storeFilter, WATCH_RECHECK_MS } from "./run-filters.js";
import { checkRunInput } from "./run-input.js";
import { LIST_PAGE_BYTES } from "./list-pages.js";
import { pageCursor, pageToken, runSort } from "./run-pages.js";
import { RunReplies } from "./run-replies.js";

/** What the workflow service needs: operations are events on the engine; reads come from the store. */
export interface WorkflowServiceDeps {
  engine: Pick<Engine, "start" | "handle" | "definition" | "queries">;
  store: Pick<Store, "getRun" | "runToView" | "runStamp" | "search" | "countRunsByStatus" | "runTask">;
  waiters: Pick<RunWaiters, "wait">;
  limits: Limits;
  /** Where searches and counts of runs wait their key's turn for a connection. */
  searches: SearchLane;
  /** Runs this replica moved (the console's watch calls wait on it). */
  changes?: RunChanges;
}

export function workflowService({
  engine,
  store,
  waiters,
  limits,
  searches,
  changes = new RunChanges(),
}: WorkflowServiceDeps): ServiceImpl<typeof WorkflowService> {
  /** `call`: the caller's, whose key takes its share of the starts in flight. */
  const start = async (req: StartWorkflowRequest, call: object) => {
    if (!req.name && !req.definitionJson) throw invalid("name is required");
    const input = (await parseLargePayload("input_json", req.inputJson, limits.payloadBytes, LARGE_STEP_BYTES)) as JsonObject;
    // Measured and written as its text, not written out again.
    notePayloadText(input, req.inputJson);
    const definition = req.definitionJson
      ? ((await parseLargePayload("definition_json", req.definitionJson, limits.definitionBytes, LARGE_STEP_BYTES)) as unknown as WorkflowDef)
      : undefined;
    // Hashed from this text in the queries pool (definitions.ts forStart).
    if (definition) notePayloadText(definition, req.definitionJson);
    return engine.start({
      name: req.name || definition?.name || "",
      ...(req.version !== undefined ? { version: req.version } : {}),
      ...(definition ? { definition } : {}),
      input,
      correlationId: req.correlationId,
      ...(req.idempotencyKey ? { idempotencyKey: req.idempotencyKey } : {}),
      priority: req.priority,
      admit: (def) => checkRunInput(def, input, engine.queries),
      caller: keyIdOfCall(call),
    });
  };

  /** GetWorkflow's replies with tasks, by run. */
  const wholeRuns = new RunReplies<GetWorkflowResponse>();

  const sharedReads = new CoalescedReads<Awaited<ReturnType<Store["getRun"]>>>();

  /** A run; `shared`: read once for all callers reading it at once, for an answer that does not change what it read. */
  const load = async (id: string, withTasks: boolean, shared = false) => {
    requireId("run", id);
    const read = () => store.getRun(id, withTasks);
    const found = await (shared ? sharedReads.get(`${withTasks}:${id}`, read) : read());
    if (!found) throw notFound(`no run ${id}`);
    return found;
  };

  /** Waits for a run to end (or the wait to run out) and returns it. */
  const waitFor = async (id: string, waitMs: bigint, withTasks: boolean, signal?: AbortSignal) => {
    const ms = Math.min(Number(waitMs), limits.maxWaitMs);
    const deadline = Date.now() + ms;
    for (;;) {
      // Register before reading, so an end between the read and the wait is not missed.
      const wait = waiters.wait(id, deadline - Date.now(), signal);
      const found = await load(id, withTasks);
      if (TERMINAL_WORKFLOW.has(found.run.status) || Date.now() >= deadline || signal?.aborted) {
        wait.cancel();
        return { workflow: await toWorkflowWithTasks(found.run, found.tasks), finished: TERMINAL_WORKFLOW.has(found.run.status) };
      }
      await wait.promise;
    }
  };

  const operate = (event: (req: { workflowId: string }) => RunEvent) =>
    rpc(async (req: { workflowId: string } & Record<string, unknown>) => {
      requireId("run", req.workflowId);
      await engine.handle(req.workflowId, event(req));
      return {};
    });

  /** The task a request names, by id or by reference name (latest instance). */
  const findTask = async (workflowId: string, ref: string, taskId: string): Promise<TaskState> => {
    const { tasks } = await load(workflowId, true);
    const task = taskId ? tasks.find((t) => t.id === taskId) : [...tasks].reverse().find((t) => t.ref === ref);
    if (!task) throw notFound(`no task ${shortened(taskId || ref)} in run ${workflowId}`);
    return task;
  };

  /** Like findTask, and also looks into the run's running sub-workflows (a signal may name a task of a child). */
  const findTaskDeep = async (workflowId: string, ref: string, taskId: string, depth = 0): Promise<TaskState | undefined> => {
    const { tasks } = await load(workflowId, true);
    const task = taskId ? tasks.find((t) => t.id === taskId) : [...tasks].reverse().find((t) => t.ref === ref);
    if (task || depth >= 32) return task;
    for (const t of tasks) {
      if (t.type !== "SUB_WORKFLOW" || !t.subWorkflowId || TERMINAL_TASK.has(t.status)) continue;
      const found = await findTaskDeep(t.subWorkflowId, ref, taskId, depth + 1).catch(() => undefined);
      if (found) return found;
    }
    return undefined;
  };

  return {
    startWorkflow: rpc(async (req, call) => {
      const { runId, created } = await start(req, call);
      return { workflowId: runId, created };
    }),

    executeWorkflow: rpc(async (req, call) => {
      if (!req.start) throw invalid("start is required");
      const { runId, created } = await start(req.start, call);
      const signal = abortOnCancel(call);
      const result = await waitFor(runId, req.waitMs, true, signal);
      return { ...result, created };
    }),

    waitWorkflow: rpc(async (req, call) => waitFor(req.workflowId, req.waitMs, req.includeTasks, abortOnCancel(call))),

    getWorkflow: rpc(async (req) => {
      // Readers of one run at once share its read (it may hold 10,000 tasks); its payloads go out as the text PostgreSQL
      // sends, never parsed and written again (for 10,000 tasks, most of the read's CPU).
      requireId("run", req.workflowId);
      if (!req.includeTasks) {
        const found = await load(req.workflowId, false, true);
        const def = await engine.definition(found.run.defHash);
        return { workflow: toWorkflow(found.run, def.def) };
      }
      const view = await store.runToView(req.workflowId);
      if (!view) throw notFound(`no run ${req.workflowId}`);
      // Those whose reads found the same run share one reply, converted and encoded once: it holds nothing of
      // the caller (whose rights were checked before), and the request's only other field is the run's id.
      return wholeRuns.get(req.workflowId, view, async () => {
        const def = await engine.definition(view.run.defHash);
        return sharedReply(create(GetWorkflowResponseSchema, { workflow: await toWorkflowWithTasks(view.run, view.tasks, def.def) }));
      });
    }),

    searchWorkflows: rpc(async (req, call) => {
      checkRunFilter(req);
      const limit = Math.min(Math.max(req.pageSize || 100, 1), 1000);
      const sort = runSort(req);
      const after = req.pageToken ? pageCursor(req.pageToken, sort) : undefined;
      const statuses = req.statuses.map((s) => workflowStatusName(s)).filter((s): s is NonNullable<typeof s> => s !== undefined);
      const { runs, more } = await searches.run(
        keyIdOfCall(call),
        () =>
          store.search({
            ...storeFilter(req),
            statuses,
            ...(req.workflowId ? { id: req.workflowId } : {}),
            limit,
            bytes: LIST_PAGE_BYTES,
            ...(req.withoutPayloads ? { payloads: false as const } : {}),
            sort,
            ...(after ? { after } : {}),
          }),
        abortOnCancel(call),
      );
      const last = runs[runs.length - 1];
      return {
        // A page of 1,000 runs: made in slices, as a run's tasks are.
        workflows: await mapInSlices(runs, (r) => toWorkflow(r)),
        nextPageToken: more && last ? pageToken(last, sort) : "",
      };
    }),

    countWorkflows: rpc(async (req, call) => {
      checkRunFilter(req);
      if (req.cap < 0n) throw invalid("cap must be 0 (the default) or more");
      const cap = Math.min(Number(req.cap) || 10_000, 10_000);
      const counts = await searches.run(keyIdOfCall(call), () => store.countRunsByStatus(STATUS_NAMES, storeFilter(req), cap), abortOnCancel(call));
      return {
        counts: STATUS_NAMES.map((name) => {
          const n = counts.get(name) ?? 0;
          return { status: WorkflowStatus[name as keyof typeof WorkflowStatus], count: BigInt(n), capped: n >= cap };
        }),
      };
    }),

    // Long poll: read, compare with what the caller has, else wait for this
    // replica to move the run (rechecking now and then for other replicas).
    // The run is read whole again only when its stamp moved: a run that did
    // not change costs a recheck the stamp's read, not the run's.
    watchWorkflow: rpc(async (req, call) => {
      requireId("run", req.workflowId);
      const signal = abortOnCancel(call);
      const deadline = Date.now() + Math.min(Math.max(Number(req.waitMs), 0), limits.maxWaitMs);
      const over = () => Date.now() >= deadline || signal.aborted;
      /** The run's stamp when it was last read whole (and its state was the caller's). */
      let readAt: string | undefined;
      for (;;) {
        const wait = changes.wait(req.workflowId, Math.min(WATCH_RECHECK_MS, deadline - Date.now()), signal);
        // Read before the run: a change between the two is in the run read, or moves the stamp for the next recheck.
        const stamp = await store.runStamp(req.workflowId);
        if (stamp === undefined) throw notFound(`no run ${req.workflowId}`);
        if (stamp === readAt) {
          if (over()) {
            wait.cancel();
            return { state: req.knownState, changed: false };
          }
          await wait.promise;
          continue;
        }
        const found = await store.runToView(req.workflowId);
        if (!found) throw notFound(`no run ${req.workflowId}`);
        const state = runState(found.run, found.tasks);
        readAt = stamp;
        if (state !== req.knownState || over()) {
          wait.cancel();
          if (state === req.knownState) return { state, changed: false };
          const def = await engine.definition(found.run.defHash);
          return {
            workflow: await toWorkflowWithTasks(found.run, found.tasks, def.def, { payloadLimit: Math.max(0, req.taskPayloadLimit) }),
            state,
            changed: true,
          };
        }
        await wait.promise;
      }
    }),

    getTask: rpc(async (req) => {
      requireId("run", req.workflowId);
      requireId("task", req.taskId);
      const found = await store.runTask(req.workflowId, req.taskId);
      if (!found) throw notFound(`run ${req.workflowId} has no task ${req.taskId}`);
      return { task: toTask(found.task, found.run) };
    }),

    watchWorkflows: rpc(async (req, call) => {
      const ms = Math.min(Math.max(Number(req.waitMs), 0), limits.maxWaitMs);
      const before = Date.now();
      await changes.wait(undefined, ms, abortOnCancel(call)).promise;
      return { changed: Date.now() - before < ms };
    }),

    pauseWorkflow: operate(() => ({ kind: "pause" })),
    resumeWorkflow: operate(() => ({ kind: "resume" })),
    terminateWorkflow: operate((req) => ({ kind: "terminate", reason: String((req as { reason?: string }).reason || "terminated by an operator") })),
    retryWorkflow: operate((req) => ({ kind: "retry", resumeSubworkflowTasks: Boolean((req as { resumeSubworkflowTasks?: boolean }).resumeSubworkflowTasks) })),
    restartWorkflow: operate((req) => ({ kind: "restart", useLatest: Boolean((req as { useLatestDefinition?: boolean }).useLatestDefinition) })),

    rerunWorkflow: rpc(async (req) => {
      if (!req.taskReferenceName && !req.taskId) throw invalid("task_reference_name or task_id is required");
      const task = await findTask(req.workflowId, req.taskReferenceName, req.taskId);
      const read = (field: string, text: string) => parseLargePayload(field, text, limits.payloadBytes, LARGE_STEP_BYTES) as Promise<JsonObject>;
      await engine.handle(req.workflowId, {
        kind: "rerun",
        taskId: task.id,
        ...(req.taskInputJson ? { taskInput: await read("task_input_json", req.taskInputJson) } : {}),
        ...(req.workflowInputJson ? { workflowInput: await read("workflow_input_json", req.workflowInputJson) } : {}),
      });
      return {};
    }),

    skipTask: rpc(async (req) => {
      if (!req.taskReferenceName) throw invalid("task_reference_name is required");
      const output = (await parseLargePayload("output_json", req.outputJson, limits.payloadBytes, LARGE_STEP_BYTES)) as JsonObject;
      // Measured and written as its text, not written out again.
      notePayloadText(output, req.outputJson);
      await engine.handle(req.workflowId, { kind: "skip", ref: req.taskReferenceName, output });
      return {};
    }),

    signalTask: rpc(async (req) => {
      if (!req.taskReferenceName && !req.taskId) throw invalid("task_reference_name or task_id is required");
      const task = await findTaskDeep(req.workflowId, req.taskReferenceName, req.taskId);
      if (!task) throw notFound(`no task ${shortened(req.taskId || req.taskReferenceName)} in run ${req.workflowId} or its sub-workflows`);
      const output = (await parseLargePayload("output_json", req.outputJson, limits.payloadBytes, LARGE_STEP_BYTES)) as JsonObject;
      notePayloadText(output, req.outputJson);
      const { taskStatusName } = await import("./convert.js");
      await engine.handle(task.runId, { kind: "signal", taskId: task.id, status: taskStatusName(req.status) ?? "COMPLETED", output, reason: req.reason });
      return { taskId: task.id };
    }),
  };
}

/**
 * Why a call's signal is aborted. grpc-js says "cancelled" after every call's
 * status is sent, not only when the caller went away: an abort with no reason
 * makes a DOMException with its stack each time (about 40 µs).
 */
const CALL_ENDED = { reason: "the call ended" };

function abortOnCancel(call: { on(event: "cancelled", listener: () => void): unknown }): AbortSignal {
  const controller = new AbortController();
  call.on("cancelled", () => controller.abort(CALL_ENDED));
  return controller.signal;
}
