// TaskService: what workers use. Streams and long polls register as waiters
// with the dispatcher; results become task-result events on their run.
import { TaskService, failStream, grpc, RpcError, type ServiceImpl, type LeasedTask, type TaskResult } from "@baton/protocol";
import { charsOverNameLimit, MAX_NAME_CHARS } from "@baton/sdk";
import { keyIdOfCall, principalOfCall } from "../auth/guard.js";
import type { SearchLane } from "./search-lane.js";
import { CoalescedReads } from "../store/coalesced-read.js";
import type { Clock } from "../clock.js";
import type { JsonObject } from "../decider/model.js";
import type { Engine } from "../runtime/engine.js";
import { notePayloadText } from "../payload-text.js";
import type { Dispatcher, Waiter } from "../dispatch/dispatcher.js";
import { StreamSender } from "../dispatch/stream-sender.js";
import { ConnectedWorkers, type ConnectedWorker } from "../dispatch/workers.js";
import { KeySubscriptions } from "../dispatch/key-subscriptions.js";
import type { ReplicaView } from "../console/replica-view.js";
import { MAX_RESULTS_PER_UPDATE, tooManyResults, type Limits } from "../limits.js";
import type { Store } from "../store/store.js";
import { taskStatusName, toLeasedTask } from "./convert.js";
import { invalid, parseLargePayload, requireId, rpc, toRpcError } from "./errors.js";
import { listPage, LIST_PAGE_MAX } from "./list-pages.js";
import { writePageToken } from "./page-tokens.js";
import { workerPage, WORKERS_LIST } from "./worker-pages.js";
import { checkLogWriter, LOG_PAGE_BYTES, logFull, pageOf, pageToken, TASK_LOG_CAP } from "./task-logs.js";

/** The longest one ExtendLease may extend a lease by. */
const MAX_EXTEND_SECONDS = 24 * 60 * 60;

/**
 * Task types one Dispatch stream may wait on. Each credits message wakes a
 * claim per type: 20,000 types made one message cost 20,000 queries, and a
 * few such messages held the server for seconds. Baton's workers open a
 * stream per type.
 */
export const MAX_STREAM_TASK_TYPES = 100;

/** A worker id goes on every task it is handed and in the replicas' heartbeats: a name, not a payload. */
function workerIdProblem(workerId: string): string | undefined {
  const over = charsOverNameLimit(workerId);
  return over > 0 ? `worker_id is ${MAX_NAME_CHARS + over} characters long, over the ${MAX_NAME_CHARS} allowed` : undefined;
}

function subscribeProblem(sub: { taskTypes: string[]; workerId: string }): string | undefined {
  if (sub.taskTypes.length === 0) return "subscribe needs task_types";
  const types = new Set(sub.taskTypes);
  if (types.size > MAX_STREAM_TASK_TYPES) {
    return `subscribe names ${types.size} task types, over the ${MAX_STREAM_TASK_TYPES} a stream may wait on: open a stream per task type (as Baton's workers do), or several`;
  }
  for (const type of types) {
    if (charsOverNameLimit(type) > 0) return `a task type in subscribe is longer than the ${MAX_NAME_CHARS} characters a task name may have`;
  }
  return workerIdProblem(sub.workerId);
}

/** The list name page tokens of ListQueues carry. */
const QUEUES_LIST = "queues";

/** ListQueues' task_types: names, at most a page's worth. */
function taskTypesProblem(taskTypes: string[]): string | undefined {
  if (taskTypes.length > LIST_PAGE_MAX) {
    return `task_types names ${taskTypes.length} task types, over the ${LIST_PAGE_MAX} one call may ask for: ask in several calls, or for every type in pages`;
  }
  if (taskTypes.some((type) => type === "" || charsOverNameLimit(type) > 0)) {
    return `task_types holds an empty name or one longer than the ${MAX_NAME_CHARS} characters a task name may have`;
  }
  return undefined;
}

/** What the task service needs: results go to the engine as events; leases, logs and queue depths are store operations. */
export interface TaskServiceDeps {
  engine: Pick<Engine, "handle">;
  store: Pick<Store, "extendLease" | "addTaskLogs" | "taskLogPage" | "taskLease" | "queueDepthPage">;
  dispatcher: Pick<Dispatcher, "add" | "remove" | "credit" | "release" | "fair">;
  clock: Clock;
  limits: Limits;
  /** Where queue sizes are counted: in turn by key, stopped past the search limit. */
  searches: SearchLane;
  /** The workers connected here (tracked as they come and go). */
  workers?: ConnectedWorkers;
  /** The workers connected to every replica (ListWorkers); this replica's alone without it. */
  everyReplica?: Pick<ReplicaView, "workersEverywhere">;
}

/** A Dispatch stream stops being handed tasks while this much it was sent waits to go out… */
const UNSENT_PAUSE_BYTES = 4 * 1024 * 1024;
/** …and is handed tasks again once it is down to this. */
const UNSENT_RESUME_BYTES = 1024 * 1024;
/**
 * While keyed tasks of its types are queued, a Dispatch stream has at most
 * this many tasks written and not gone out (as many again for keys holding
 * nothing unwritten); the rest of what it was handed waits in its sender,
 * which takes turns across keys (dispatch/stream-sender.ts).
 */
const UNSENT_WHILE_FAIR = 16;
/** A poll that does not wait is answered by the dispatcher's claim; this is in case no claim comes (the server stopping). */
const NO_WAIT_LIMIT_MS = 5_000;
/** An output this long is parsed, checked and decided on in a turn of the event loop each. */
const LARGE_OUTPUT_CHARS = 256 * 1024;
/** A leased task's fields besides its input, roughly. */
const LEASED_TASK_OVERHEAD_BYTES = 256;

export function taskService({
  engine,
  store,
  dispatcher,
  clock,
  limits,
  searches,
  workers = new ConnectedWorkers(),
  everyReplica,
}: TaskServiceDeps): ServiceImpl<typeof TaskService> {
  const subscriptions = new KeySubscriptions(limits.dispatchSubscriptionsPerKey);
  const depthPages = new CoalescedReads<Awaited<ReturnType<Store["queueDepthPage"]>>>();
  const update = async (result: TaskResult | undefined): Promise<boolean> => {
    if (!result?.taskId) throw invalid("result.task_id is required");
    requireId("task", result.taskId);
    const status = taskStatusName(result.status);
    if (!status) throw invalid("result.status is required");
    const problem = workerIdProblem(result.workerId);
    if (problem) throw invalid(`result.${problem}`);
    const output = (await parseLargePayload("output_json", result.outputJson, limits.payloadBytes, LARGE_OUTPUT_CHARS)) as JsonObject;
    // Measured and written as its text, not written out again.
    notePayloadText(output, result.outputJson);
    // Checking a large output and deciding on it are two turns of the event loop, not one: each takes tens of ms at 2 MiB.
    if (result.outputJson.length >= LARGE_OUTPUT_CHARS) await new Promise((resolve) => setImmediate(resolve));
    const decision = await engine.handle(
      { taskId: result.taskId },
      {
        kind: "taskResult",
        taskId: result.taskId,
        leaseToken: result.leaseToken,
        status,
        output,
        reason: result.reasonForIncompletion,
        callbackAfterSeconds: Number(result.callbackAfterSeconds),
        workerId: result.workerId,
      },
    );
    // Logs only with a result the lease let through (a stale or unknown task's refusal has thrown).
    // Lines past the task's cap are not stored: the result stands (refusing it for its logs would strand the task).
    if (decision?.applied) await store.addTaskLogs(result.taskId, result.logs, clock.now(), TASK_LOG_CAP);
    return decision?.applied ?? false;
  };

  return {
    dispatch(call) {
      let waiter: Waiter | undefined;
      let connected: ConnectedWorker | undefined;
      const key = keyIdOfCall(call);
      /** Bytes written to the stream that have not gone out yet. */
      let unsent = 0;
      /** The worker is not reading what it was sent: the waiter is out of the dispatcher until it does. */
      let paused = false;
      const sentBytes = (bytes: number) => {
        unsent -= bytes;
        if (paused && unsent <= UNSENT_RESUME_BYTES) {
          paused = false;
          if (waiter) dispatcher.add(waiter);
        }
      };
      const sender = new StreamSender(
        (task, sent) => {
          const leased = toLeasedTask(task);
          const bytes = leased.inputJson.length + LEASED_TASK_OVERHEAD_BYTES;
          unsent += bytes;
          // A write the call's end stopped is called back with an error, or not at all (grpc-js on a cancelled call).
          call.write({ task: leased }, (error: Error | null | undefined) => {
            sentBytes(bytes);
            if (!error) sent();
          });
          // A worker that does not read what it was sent gets nothing more until most of it has
          // gone out: credits alone would have the server lease and buffer every task they allow.
          // Counted in bytes, not by the stream's 16-message mark, which a busy worker passes with
          // every batch (pausing there halved throughput: the waiter missed each hand-off).
          if (unsent > UNSENT_PAUSE_BYTES && waiter && !paused) {
            paused = true;
            dispatcher.remove(waiter);
          }
        },
        () => (waiter?.taskTypes.some((type) => dispatcher.fair(type)) ? UNSENT_WHILE_FAIR : Infinity),
        () => clock.now(),
        // Held too long: back to the queue, and the slot to the worker (it never got the task).
        (task) => {
          void dispatcher.release([task]);
          if (waiter) dispatcher.credit(waiter, 1);
        },
      );
      const close = () => {
        if (waiter) {
          dispatcher.remove(waiter);
          subscriptions.give(key, waiter.taskTypes.length);
        }
        if (connected) workers.closed(connected);
        waiter = undefined;
        connected = undefined;
        // What it held never went out: back to the queue now, for another worker.
        const left = sender.close();
        if (left.length > 0) void dispatcher.release(left);
      };
      /** The call is over: what was written to it and never went out goes back to the queue too (its worker never got it). */
      const over = () => {
        close();
        const lost = sender.lost();
        if (lost.length > 0) void dispatcher.release(lost);
      };
      call.on("data", (message: { kind: { case: string | undefined; value?: unknown } }) => {
        const { kind } = message;
        if (kind.case === "subscribe") {
          const sub = kind.value as { taskTypes: string[]; workerId: string };
          const problem = waiter ? "subscribe only once per stream" : subscribeProblem(sub);
          if (problem) {
            failStream(call, new RpcError(grpc.status.INVALID_ARGUMENT, problem));
            return;
          }
          const taskTypes = [...new Set(sub.taskTypes)];
          const refusal = subscriptions.take(key, taskTypes.length);
          if (refusal) {
            failStream(call, new RpcError(grpc.status.RESOURCE_EXHAUSTED, refusal));
            return;
          }
          waiter = {
            taskTypes,
            workerId: sub.workerId,
            credits: 0,
            stream: true,
            deliver: (tasks) => {
              if (connected && waiter) workers.streamed(connected, waiter.credits, tasks.length);
              if (!sender.push(tasks)) void dispatcher.release(tasks);
            },
            yields: (key) => sender.yields(key),
            spare: () => sender.spare(),
            swap: (task) => {
              const out = sender.swap(task);
              if (!out) return false;
              if (connected && waiter) workers.streamed(connected, waiter.credits, 1);
              void dispatcher.release([out]);
              return true;
            },
          };
          connected = workers.stream(sub.workerId, waiter.taskTypes);
          dispatcher.add(waiter);
        } else if (kind.case === "credits") {
          if (!waiter) {
            failStream(call, new RpcError(grpc.status.FAILED_PRECONDITION, "send subscribe before credits"));
            return;
          }
          const n = Number(kind.value);
          if (n > 0) dispatcher.credit(waiter, n);
          if (connected) workers.streamed(connected, waiter.credits);
        }
      });
      call.on("end", () => {
        close();
        call.end();
      });
      call.on("cancelled", over);
      call.on("error", close);
      call.on("close", over);
    },

    poll: rpc(async (req, call) => {
      if (!req.taskType) throw invalid("task_type is required");
      // Kept with the worker id in the list of connected workers, and in the replica's heartbeat.
      if (charsOverNameLimit(req.taskType) > 0) throw invalid(`task_type is longer than the ${MAX_NAME_CHARS} characters a task name may have`);
      const problem = workerIdProblem(req.workerId);
      if (problem) throw invalid(problem);
      const count = Math.min(Math.max(req.count || 1, 1), 1000);
      const waitMs = Math.min(Number(req.waitMs), limits.maxWaitMs);
      // wait_ms 0: what is ready now, answered once a claim has looked (a
      // timer of 0 would answer before the claim's query came back).
      const noWait = waitMs <= 0;
      return new Promise((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        /** What it was handed so far; answered at the end of the turn. */
        let taken: LeasedTask[] | undefined;
        let done = false;
        const waiter: Waiter = {
          taskTypes: [req.taskType],
          workerId: req.workerId,
          credits: count,
          ...(noWait ? { noWait } : {}),
          deliver: (tasks) => {
            // The tasks one commit hands over come one by one: they go out
            // together (answering with the first sent the rest back to the queue).
            if (taken) {
              taken.push(...tasks.map(toLeasedTask));
              return;
            }
            taken = tasks.map(toLeasedTask);
            waiter.credits = 0;
            queueMicrotask(() => finish(taken ?? []));
          },
        };
        workers.polled(req.workerId, req.taskType, count);
        const finish = (tasks: LeasedTask[]) => {
          if (done) return;
          done = true;
          if (timer) clearTimeout(timer);
          workers.polled(req.workerId, req.taskType, 0, tasks.length);
          dispatcher.remove(waiter);
          waiter.credits = 0;
          resolve({ tasks });
        };
        timer = setTimeout(() => finish([]), noWait ? NO_WAIT_LIMIT_MS : waitMs);
        call.on("cancelled", () => finish([]));
        dispatcher.add(waiter);
      });
    }),

    updateTask: rpc(async (req) => ({ applied: await update(req.result) })),

    // All at once: results that arrive together are decided and written together.
    updateTasks: rpc(async (req) => {
      if (req.results.length > MAX_RESULTS_PER_UPDATE) throw invalid(tooManyResults(req.results.length));
      return {
        outcomes: await Promise.all(
          req.results.map(async (result) => {
            try {
              return { taskId: result.taskId, applied: await update(result), code: 0, message: "" };
            } catch (error) {
              const rpcError = toRpcError(error);
              const code = rpcError instanceof RpcError ? rpcError.code : grpc.status.INTERNAL;
              return { taskId: result.taskId, applied: false, code, message: (rpcError as Error).message };
            }
          }),
        ),
      };
    }),

    extendLease: rpc(async (req) => {
      requireId("task", req.taskId);
      // A lease is a heartbeat, not a claim: a worker asking for years would hold a task past every timeout.
      if (req.extendSeconds < 0n || req.extendSeconds > BigInt(MAX_EXTEND_SECONDS)) {
        throw invalid(`extend_seconds must be between 0 and ${MAX_EXTEND_SECONDS} (a day); extend again before the lease runs out instead`);
      }
      const expires = await store.extendLease(req.taskId, req.leaseToken, Number(req.extendSeconds), clock.now());
      if (expires === undefined) {
        throw new RpcError(grpc.status.FAILED_PRECONDITION, `stale lease for task ${req.taskId}: it ended or was handed to another worker`);
      }
      return { leaseExpiresMs: BigInt(expires) };
    }),

    addTaskLog: rpc(async (req, call) => {
      requireId("task", req.taskId);
      if (Buffer.byteLength(req.message) > limits.payloadBytes) throw invalid(`message is over the ${limits.payloadBytes}-byte limit`);
      await checkLogWriter(store, req.taskId, req.leaseToken, principalOfCall(call as object));
      if ((await store.addTaskLogs(req.taskId, [req.message], clock.now(), TASK_LOG_CAP)) === 0) throw logFull(req.taskId);
      return {};
    }),

    getTaskLogs: rpc(async (req) => {
      requireId("task", req.taskId);
      const { limit, after } = pageOf(req.pageSize, req.pageToken);
      const page = await store.taskLogPage(req.taskId, after, limit, LOG_PAGE_BYTES);
      return {
        logs: page.lines.map((l) => ({ message: l.message, createdTimeMs: BigInt(l.createdAt) })),
        nextPageToken: pageToken(page.after),
      };
    }),

    listQueues: rpc(async (req, call) => {
      const page = listPage(QUEUES_LIST, 1, req.pageSize, req.pageToken);
      const problem = taskTypesProblem(req.taskTypes);
      if (problem) throw invalid(problem);
      const asked = {
        limit: page.limit,
        after: (page.after?.[0] as string | undefined) ?? "",
        ...(req.taskTypes.length > 0 ? { taskTypes: req.taskTypes } : {}),
      };
      // Callers asking for the same page while its count runs share the next one, which waits the first caller's turn.
      const { depths, next } = await depthPages.get(JSON.stringify([asked.after, asked.limit, asked.taskTypes ?? null]), () =>
        searches.run(keyIdOfCall(call), () => store.queueDepthPage(clock.now(), asked), undefined, "fewer task types (task_types), a smaller page"),
      );
      return {
        queues: depths.map((q) => ({
          taskType: q.taskType,
          ready: BigInt(q.ready),
          delayed: BigInt(q.delayed),
          inProgress: BigInt(q.inProgress),
        })),
        nextPageToken: next === undefined ? "" : writePageToken({ l: QUEUES_LIST, k: [next] }),
      };
    }),

    listWorkers: rpc(async (req) => {
      const page = listPage(WORKERS_LIST, 2, req.pageSize, req.pageToken);
      const taskType = req.taskType || undefined;
      const connected = everyReplica?.workersEverywhere(taskType) ?? workers.list(taskType).map((w) => ({ ...w, replica: "" }));
      const { workers: shown, nextPageToken } = workerPage(connected, page);
      return {
        workers: shown.map((w) => ({
          workerId: w.workerId,
          taskTypes: w.taskTypes,
          kind: w.kind,
          freeSlots: BigInt(w.freeSlots),
          connectedAtMs: BigInt(w.connectedAt),
          lastSeenMs: BigInt(w.lastSeenAt),
          tasksDelivered: BigInt(w.delivered),
          replica: w.replica,
        })),
        nextPageToken,
      };
    }),
  };
}
