// Feeds the metrics from the engine without the engine knowing: the engine's
// and store's entry points are wrapped on their instances (the engine calls
// them through `this`, so its internal calls — child runs, outbox effects,
// timer ticks — are seen too), and the engine's decided hook reports every
// committed decision. Everything recorded here happens after commit.
import type pg from "pg";
import type { Decision, RunEvent } from "../engine/decider.js";
import { TERMINAL_TASK, type TaskState } from "../engine/model.js";
import { isWorkerTask } from "../engine/system-tasks.js";
import type { Engine, Reservation } from "../runtime/engine.js";
import type { Metrics } from "./metrics.js";

/** What the decider writes when a running task's worker went silent past its lease. */
const LEASE_EXPIRED = "responseTimeout";

export interface EngineObserver {
  /** To call from the engine's decided hook: counts ended runs and tasks. */
  decided(decision: Decision, events: RunEvent[]): void;
  /** Wraps a worker reservation (engine hook reserveWorker) so direct hand-offs count as claims. */
  reserved(reservation: Reservation | undefined): Reservation | undefined;
}

/**
 * `handedOut` sees every task given to a worker on this replica (claimed from
 * the queue or handed over at commit), e.g. to remember its type for the
 * scope check of the worker's next update.
 */
export function instrumentEngine(engine: Engine, metrics: Metrics, handedOut: (task: TaskState) => void = () => {}): EngineObserver {
  const store = engine.store;
  const start = engine.start.bind(engine);
  engine.start = async (options) => {
    const result = await start(options);
    if (result.created) metrics.runsStarted.inc();
    return result;
  };

  const decided = (decision: Decision, events: RunEvent[]) => {
    if (decision.effects.some((e) => e.kind === "runEnded")) metrics.runsEnded.inc({ status: decision.run.status });
    const ended = (task: TaskState) => {
      if (!isWorkerTask(task.type) || !TERMINAL_TASK.has(task.status) || task.startedAt <= 0) return;
      const end = task.endedAt > 0 ? task.endedAt : task.updatedAt;
      metrics.execution.observe({ task_type: task.defName, status: task.status }, Math.max(0, end - task.startedAt) / 1000);
    };
    const reported = new Set(events.flatMap((e) => (e.kind === "taskResult" ? [e.taskId] : [])));
    const ticked = events.some((e) => e.kind === "tick");
    for (const task of decision.changed) {
      if (reported.has(task.id)) ended(task);
      else if (ticked && task.status === "TIMED_OUT" && isWorkerTask(task.type)) {
        if (task.reason.startsWith(LEASE_EXPIRED)) metrics.leaseExpiries.inc({ task_type: task.defName });
        ended(task);
      }
    }
  };

  const queueWait = (task: TaskState, claimedAt: number) => {
    handedOut(task);
    const ready = Math.max(task.scheduledAt, task.visibleAt);
    metrics.queueWait.observe({ task_type: task.defName }, Math.max(0, claimedAt - ready) / 1000);
  };
  const claim = store.claim.bind(store);
  store.claim = async (...args: Parameters<typeof claim>) => {
    const tasks = await claim(...args);
    for (const task of tasks) queueWait(task, args[3]);
    return tasks;
  };

  instrumentPool(store.pool, metrics);

  return {
    reserved(reservation) {
      if (!reservation) return undefined;
      return {
        ...reservation,
        deliver(task) {
          const delivered = reservation.deliver(task);
          // Handed over at commit, without the queue: the wait is from ready to that commit.
          if (delivered) queueWait(task, task.updatedAt);
          return delivered;
        },
      };
    },
    decided,
  };
}

type Callback = (error: Error | null | undefined, ...rest: unknown[]) => void;

/** Counts every failed connect and query of `pool` (by SQLSTATE, or "connection"). */
export function instrumentPool(pool: pg.Pool, metrics: Pick<Metrics, "dbError">): void {
  const seen = new WeakSet<object>();
  const instrumentClient = (client: pg.PoolClient) => {
    if (seen.has(client)) return;
    seen.add(client);
    const query = client.query as unknown as (...args: unknown[]) => unknown;
    (client as unknown as { query: unknown }).query = function (this: unknown, ...args: unknown[]) {
      const last = args[args.length - 1];
      if (typeof last === "function") {
        args[args.length - 1] = (error: Error | null | undefined, ...rest: unknown[]) => {
          if (error) metrics.dbError(error);
          (last as Callback)(error, ...rest);
        };
        return query.apply(this, args);
      }
      const result = query.apply(this, args);
      if (result && typeof (result as Promise<unknown>).then === "function") {
        (result as Promise<unknown>).then(undefined, (error: unknown) => metrics.dbError(error));
      }
      return result;
    };
  };
  const connect = pool.connect.bind(pool) as (cb?: Callback) => unknown;
  (pool as unknown as { connect: unknown }).connect = (cb?: Callback) => {
    if (typeof cb === "function") {
      return connect((error, client, ...rest) => {
        if (error) metrics.dbError(error);
        else instrumentClient(client as pg.PoolClient);
        cb(error, client, ...rest);
      });
    }
    return (connect() as Promise<pg.PoolClient>).then(
      (client) => {
        instrumentClient(client);
        return client;
      },
      (error: unknown) => {
        metrics.dbError(error);
        throw error;
      },
    );
  };
  pool.on("error", (error) => metrics.dbError(error));
}
