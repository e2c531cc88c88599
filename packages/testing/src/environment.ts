// A test environment for flows: a real Baton server on loopback over a real
// PostgreSQL, steps done by mocks (per task type, through the real TS Worker
// runtime, so the wire is exercised), and a ManualClock that `drive` moves to
// the next due timer whenever nothing else can progress. A 3-day WAIT or a
// 1-hour retry delay passes in milliseconds.
import { BatonClient, Worker, type ConductorTask, type ConductorWorkflow, type Handler, type StartOptions, type TaskContext } from "@baton/client";
import { Flow, TaskStub, formatDiagnostic, isWorkerTaskType } from "@baton/sdk";
import { ManualClock, createLogger, startServer, type BatonServer } from "@baton/server";
import { acquireDatabase, type DatabaseOptions, type TestDatabase } from "./database.js";
import { toMillis, type Duration } from "./duration.js";
import type { Snapshot } from "./inspect.js";

export interface TestEnvironmentOptions extends DatabaseOptions {
  /**
   * Where the test clock starts (default 2020-01-01T00:00:00Z: fixed, so runs
   * are reproducible, and behind the machine's clock; see the README).
   */
  startTime?: Date | number;
  /** Server log level (default BATON_LOG_LEVEL, else "silent"). */
  logLevel?: string;
  /** Hosts HTTP tasks may call (default: loopback only). */
  httpAllowedHosts?: string[];
  /** How long `drive` waits (real time) for a busy run to change before it gives up (default 60 s). */
  stallTimeoutMs?: number;
}

export interface MockOptions {
  /** Tasks of this type run at most this many at a time (default 16). Fixed by the first mock of a type. */
  concurrency?: number;
}

/** One call of a mock: what it was given and what it gave back. */
export interface MockCall<I = Record<string, unknown>, O = unknown> {
  input: I;
  taskId: string;
  workflowId: string;
  ref: string;
  retryCount: number;
  /** What the handler returned; absent while it runs, when it threw, or when it answered inProgress(). */
  output?: O;
  /** What the handler threw. */
  error?: unknown;
}

export interface DriveOptions {
  /** Move the clock to the next due timer when nothing else can progress (default true). */
  skipTime?: boolean;
  /** Gives up after this many clock moves (default 10 000): a flow that waits in a loop forever. */
  maxTimeSkips?: number;
}

export type ExecuteOptions = StartOptions & DriveOptions;

/** A run as Conductor shows it, with its typed output and two helpers. */
export interface TestRun<O = Record<string, unknown>> extends Omit<ConductorWorkflow, "output"> {
  /** The flow's output (complete when the run COMPLETED). */
  output: O;
  /** While the run is not over: references of the tasks it waits on from outside (HUMAN, WAIT for a signal, async EVENT). */
  waitingOn: string[];
  /** The latest task with this reference name. */
  task(ref: string): ConductorTask | undefined;
}

interface Mock {
  handler: Handler<never, unknown>;
  calls: MockCall<unknown, unknown>[];
}

const TERMINAL = new Set(["COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED"]);
const DEFAULT_START = Date.UTC(2020, 0, 1);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** `inProgress(...)` results carry this symbol (see @baton/client worker.ts). */
const isInProgress = (value: unknown): value is { callbackAfterSeconds: number } =>
  typeof value === "object" && value !== null && Object.getOwnPropertySymbols(value).some((s) => s.description === "baton.inProgress");

export class TestEnvironment {
  /** The server (its `engine`, `settle()`), on a loopback port. */
  readonly server: BatonServer;
  /** An admin client connected to the server. */
  readonly client: BatonClient;
  /** The server's clock: only this environment moves it. */
  readonly clock: ManualClock;
  /** The database the server uses. */
  readonly databaseUrl: string;
  /** The worker that runs the mocks. */
  readonly worker: Worker;

  readonly #database: TestDatabase;
  readonly #mocks = new Map<string, Mock>();
  readonly #registered = new WeakSet<object>();
  /** Tasks whose mock answered "in progress" with no callback: they wait for their lease to run out. */
  readonly #parked = new Set<string>();
  readonly #stallTimeoutMs: number;
  #running = 0;
  #closed = false;

  private constructor(server: BatonServer, clock: ManualClock, database: TestDatabase, stallTimeoutMs: number) {
    this.server = server;
    this.clock = clock;
    this.#database = database;
    this.databaseUrl = database.url;
    this.#stallTimeoutMs = stallTimeoutMs;
    this.client = new BatonClient({ address: server.address });
    this.worker = new Worker({ client: this.client, workerId: "baton-testing" }).start();
  }

  /** Starts PostgreSQL (or takes a fresh database on BATON_TEST_DATABASE_URL / `databaseUrl`) and a server on it. */
  static async create(options: TestEnvironmentOptions = {}): Promise<TestEnvironment> {
    const database = await acquireDatabase(options);
    const start = options.startTime ?? DEFAULT_START;
    const clock = new ManualClock(typeof start === "number" ? start : start.getTime());
    let server: BatonServer;
    try {
      server = await startServer({
        databaseUrl: database.url,
        port: 0,
        host: "127.0.0.1",
        clock,
        logger: createLogger(options.logLevel ?? (process.env["BATON_LOG_LEVEL"] || "silent")),
        ...(options.httpAllowedHosts ? { httpAllowedHosts: options.httpAllowedHosts } : {}),
      });
    } catch (error) {
      await database.release();
      throw error;
    }
    return new TestEnvironment(server, clock, database, options.stallTimeoutMs ?? 60_000);
  }

  /** host:port of the server, for your own clients and workers. */
  get address(): string {
    return this.server.address;
  }

  /** The test clock's time, epoch milliseconds. */
  now(): number {
    return this.clock.now();
  }

  // ---- mocks ------------------------------------------------------------------

  /**
   * Does every task of this type with `handler`, typed by the task type's
   * declaration. Return the output; throw to fail the task (retried per its
   * TaskDef; a TerminalError is not); return inProgress(seconds) to come back
   * later. Mocking a type again replaces its handler.
   */
  mock<I extends object, O>(task: TaskStub<I, O>, handler: Handler<NoInfer<I>, NoInfer<O>>, options?: MockOptions): this;
  mock<I = Record<string, unknown>, O = unknown>(taskType: string, handler: Handler<I, O>, options?: MockOptions): this;
  mock(task: TaskStub<object, unknown> | string, handler: Handler<never, unknown>, options: MockOptions = {}): this {
    const type = typeof task === "string" ? task : task.name;
    const existing = this.#mocks.get(type);
    if (existing) {
      existing.handler = handler;
      return this;
    }
    const mock: Mock = { handler, calls: [] };
    this.#mocks.set(type, mock);
    this.worker.handle<never, unknown>(type, (input, context) => this.#call(mock, input, context), { concurrency: options.concurrency ?? 16 });
    return this;
  }

  async #call(mock: Mock, input: never, context: TaskContext): Promise<unknown> {
    const call: MockCall<unknown, unknown> = {
      input,
      taskId: context.taskId,
      workflowId: context.workflowId,
      ref: context.referenceTaskName,
      retryCount: context.retryCount,
    };
    mock.calls.push(call);
    this.#parked.delete(context.taskId);
    this.#running++;
    try {
      const output = await mock.handler(input, context);
      if (!isInProgress(output)) call.output = output;
      else if (!(output.callbackAfterSeconds > 0)) this.#parked.add(context.taskId);
      return output;
    } catch (error) {
      call.error = error;
      throw error;
    } finally {
      this.#running--;
    }
  }

  /** Every call of the mock of this task type so far, in the order they started. */
  calls<I extends object, O>(task: TaskStub<I, O>): MockCall<I, O>[];
  calls(taskType: string): MockCall[];
  calls(task: TaskStub<object, unknown> | string): MockCall<unknown, unknown>[] {
    return [...(this.#mocks.get(typeof task === "string" ? task : task.name)?.calls ?? [])];
  }

  // ---- flows and runs -----------------------------------------------------------

  /**
   * Registers flows and the task definitions they declare. Flows a flow names
   * as sub-workflows (not inline) must be registered too. Builder errors are
   * thrown with their source locations.
   */
  async register(...flows: Flow<any, any>[]): Promise<void> {
    for (const flow of flows) {
      const errors = flow.validate({ hasTaskDef: () => true }).filter((d) => d.severity === "error");
      if (errors.length > 0) throw new Error(`flow ${flow.name} v${flow.version} is invalid:\n${errors.map(formatDiagnostic).join("\n")}`);
      const taskDefs = flow.taskDefs();
      if (taskDefs.length > 0) await this.client.registerTaskDefs(taskDefs);
      await this.client.registerWorkflowDef(flow.toJSON());
      this.#registered.add(flow);
    }
  }

  /** Registers the flow (once per environment) and starts a run; returns its id. Nothing is driven. */
  async start<I, O>(flow: Flow<I, O>, input: I, options?: StartOptions): Promise<string>;
  async start(name: string, input?: object, options?: StartOptions): Promise<string>;
  async start(flow: Flow<unknown, unknown> | string, input: unknown = {}, options: StartOptions = {}): Promise<string> {
    if (typeof flow === "string") return this.client.startWorkflow(flow, (input ?? {}) as object, options);
    if (!this.#registered.has(flow)) await this.register(flow);
    return this.client.startWorkflow(flow.name, (input ?? {}) as object, { version: flow.version, ...options });
  }

  /** Starts a run and drives it until it ends or waits on the outside (see `drive`). */
  async execute<I, O>(flow: Flow<I, O>, input: I, options?: ExecuteOptions): Promise<TestRun<O>>;
  async execute(name: string, input?: object, options?: ExecuteOptions): Promise<TestRun>;
  async execute(flow: Flow<unknown, unknown> | string, input: unknown = {}, options: ExecuteOptions = {}): Promise<TestRun<unknown>> {
    const { skipTime, maxTimeSkips, ...start } = options;
    const runId = typeof flow === "string" ? await this.start(flow, input as object, start) : await this.start(flow, input, start);
    return this.drive(runId, { ...(skipTime !== undefined ? { skipTime } : {}), ...(maxTimeSkips !== undefined ? { maxTimeSkips } : {}) });
  }

  /**
   * Lets the mocks do the run's tasks (and its sub-workflows'), and whenever
   * nothing can progress at the current instant, moves the clock to the
   * earliest due time (a WAIT, a retry delay, a callback, a lease or a
   * timeout). Returns when the run ends, is paused, or waits only on the
   * outside (a HUMAN task, a WAIT for a signal: `signal()` it and drive again);
   * a workflow timeout is not skipped to while the run waits on the outside.
   * Throws when a ready task has no mock.
   */
  async drive<O = Record<string, unknown>>(runId: string, options: DriveOptions = {}): Promise<TestRun<O>> {
    const skipTime = options.skipTime ?? true;
    const maxSkips = options.maxTimeSkips ?? 10_000;
    const store = this.server.store;
    let skips = 0;
    let fingerprint = "";
    let changedAt = Date.now();
    // The server fires timers and carries out cross-run effects by itself; a
    // sweep is awaited only when something is due or pending (each costs queries).
    let sweep = true;
    for (;;) {
      if (sweep) await this.server.settle();
      sweep = false;
      const s = await store.runTreeSnapshot(runId);
      const root = s.runs.find((r) => r.id === runId);
      if (!root) throw new Error(`no run ${runId}`);
      if (TERMINAL.has(root.status) || root.status === "PAUSED") return this.getRun<O>(runId);

      const now = this.clock.now();
      const ready = s.queue.filter((q) => q.visibleAt <= now);
      const unmocked = ready.filter((q) => !this.#mocks.has(q.taskType));
      if (unmocked.length > 0) {
        const types = [...new Set(unmocked.map((q) => q.taskType))];
        throw new Error(
          `run ${runId} waits for a worker for task type ${types.map((t) => JSON.stringify(t)).join(", ")}, which has no mock: ` +
            `env.mock(${JSON.stringify(types[0])}, async (input) => ({ ... }))`,
        );
      }
      const busy = [
        ...ready.map((q) => `task ${q.taskId} (${q.taskType}) ready`),
        ...s.running
          .filter((t) => t.type === "HTTP" || (isWorkerTaskType(t.type) && !this.#parked.has(t.id)))
          .map((t) => `task ${t.ref} (${t.defName}) running`),
        // A system task holding a lease waits for its script or jq to be evaluated off the serving thread: its answer is on its way.
        ...s.running.filter((t) => t.type !== "HTTP" && !isWorkerTaskType(t.type) && t.leaseExpiresAt > 0).map((t) => `task ${t.ref} (${t.type}) evaluating`),
        ...(s.outbox > 0 ? [`${s.outbox} cross-run effects pending`] : []),
        ...(this.#running > 0 ? [`${this.#running} mock handlers running`] : []),
      ];
      if (s.outbox > 0 || s.runs.some((r) => r.wakeAt > 0 && r.wakeAt <= now) || s.running.some((t) => t.leaseExpiresAt > 0 && t.leaseExpiresAt <= now))
        sweep = true;
      if (busy.length > 0) {
        const next = JSON.stringify(s);
        if (next !== fingerprint) {
          fingerprint = next;
          changedAt = Date.now();
        } else if (Date.now() - changedAt > this.#stallTimeoutMs) {
          throw new Error(`run ${runId} made no progress in ${this.#stallTimeoutMs} ms (real time): ${busy.join("; ")}`);
        }
        await sleep(2);
        continue;
      }
      if (!skipTime) return this.getRun<O>(runId);

      const due = nextDue(s, now);
      if (due === undefined) return this.getRun<O>(runId);
      const outside = s.running.some((t) => waitsOnOutside(t.type, t.waitUntil));
      if (due.timeoutOnly && outside) return this.getRun<O>(runId);
      if (due.at <= now) {
        // Due already, but not fired yet (or the sweep skipped the run while it was busy with another event).
        sweep = true;
        await sleep(1);
        continue;
      }
      if (++skips > maxSkips) throw new Error(`run ${runId} still running after ${maxSkips} clock moves (maxTimeSkips)`);
      this.clock.advance(due.at - now);
      sweep = true;
    }
  }

  /** The run now, with its tasks. */
  async getRun<O = Record<string, unknown>>(runId: string): Promise<TestRun<O>> {
    const run = await this.client.getWorkflow(runId, { includeTasks: true });
    const waitingOn = TERMINAL.has(run.status)
      ? []
      : run.tasks.filter((t) => t.status === "IN_PROGRESS" && waitsOnOutside(t.taskType, isTimedWait(t) ? 1 : null)).map((t) => t.referenceTaskName);
    return {
      ...run,
      output: run.output as O,
      waitingOn,
      task: (ref: string) => run.tasks.findLast((t) => t.referenceTaskName === ref),
    };
  }

  /** Completes (or fails) a task that waits on the outside: a HUMAN task, a WAIT for a signal. */
  async signal(
    runId: string,
    ref: string,
    output: object = {},
    options: { status?: "COMPLETED" | "FAILED" | "FAILED_WITH_TERMINAL_ERROR"; reason?: string } = {},
  ): Promise<void> {
    await this.client.signalTask(runId, { taskReferenceName: ref }, { output, ...options });
    await this.server.settle();
  }

  /**
   * Moves the clock forward and fires whatever became due (in one jump: work
   * the jump makes ready is not done until you `drive` the run).
   */
  async advance(duration: Duration): Promise<void> {
    this.clock.advance(toMillis(duration));
    await this.server.settle();
    await this.server.settle();
  }

  /** Stops the mocks, the server, and the database this environment made. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.worker.stop();
    } finally {
      try {
        this.client.close();
        await this.server.close();
      } finally {
        await this.#database.release();
      }
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function waitsOnOutside(type: string, waitUntil: number | null): boolean {
  return type === "HUMAN" || type === "EVENT" || (type === "WAIT" && waitUntil === null);
}

function isTimedWait(task: ConductorTask): boolean {
  const input = task.inputData as Record<string, unknown> | undefined;
  const set = (v: unknown) => typeof v === "string" && v !== "";
  return set(input?.["duration"]) || set(input?.["until"]);
}

/** The earliest due time in the run tree, and whether it is only a workflow timeout. */
function nextDue(s: Snapshot, now: number): { at: number; timeoutOnly: boolean } | undefined {
  const candidates: { at: number; timeout: boolean }[] = [];
  for (const r of s.runs) if (r.wakeAt > 0) candidates.push({ at: r.wakeAt, timeout: r.wakeAt === r.deadline });
  for (const q of s.queue) if (q.visibleAt > now) candidates.push({ at: q.visibleAt, timeout: false });
  for (const t of s.running) if (t.leaseExpiresAt > now) candidates.push({ at: t.leaseExpiresAt, timeout: false });
  if (candidates.length === 0) return undefined;
  const at = Math.min(...candidates.map((c) => c.at));
  return { at, timeoutOnly: candidates.every((c) => c.at !== at || c.timeout) };
}
