// The TypeScript worker runtime. One dispatch stream per task type: the
// worker grants one credit per free slot, so it never holds more tasks than
// its concurrency; the server pushes a task the moment it is ready.
import { hostname } from "node:os";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { grpc, parseJson, stringifyJson, TaskStatus, type DispatchRequestSchema, type DispatchResponse, type LeasedTask } from "@baton/protocol";
import { BatonClient } from "./client.js";
import type { ClientOptions } from "./connection.js";
import { ResultRefused, ResultSender } from "./results.js";
import { stderrReporter } from "./worker-errors.js";

/** Thrown by a handler: the task fails for good, with no retry. */
export class TerminalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TerminalError";
  }
}

const IN_PROGRESS = Symbol("baton.inProgress");

/** Returned by a handler: the task stays running and comes back after `callbackAfterSeconds`. */
export interface InProgress {
  [IN_PROGRESS]: true;
  callbackAfterSeconds: number;
  output: object;
}

export function inProgress(callbackAfterSeconds: number, output: object = {}): InProgress {
  return { [IN_PROGRESS]: true, callbackAfterSeconds, output };
}

export interface TaskContext {
  taskId: string;
  workflowId: string;
  referenceTaskName: string;
  retryCount: number;
  pollCount: number;
  /** Aborted when the worker stops or the lease is lost. */
  signal: AbortSignal;
  /** Appends a line to the task's log on the server. */
  log(message: string): Promise<void>;
}

export type Handler<I = Record<string, unknown>, O = Record<string, unknown>> = (input: I, context: TaskContext) => Promise<O | InProgress> | O | InProgress;

/** A task type declared with @baton/sdk's taskType(): its name, and its input and output types. */
export interface DeclaredTaskType<I, O> {
  readonly name: string;
  readonly types?: { input: I; output: O };
}

export interface HandlerOptions {
  /** Tasks of this type run at most this many at a time (default 1). */
  concurrency?: number;
}

export interface WorkerOptions extends ClientOptions {
  workerId?: string;
  client?: BatonClient;
  /**
   * Called on problems the worker recovers from (the server unreachable, a
   * refused result). Default: one line on stderr per distinct problem, at most
   * once a minute, naming the server; pass `() => {}` to silence it.
   */
  onError?: (error: unknown) => void;
  /** Reconnect backoff, milliseconds. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

interface Result {
  status: TaskStatus;
  output: unknown;
  reason: string;
  callbackAfterSeconds: number;
}

interface Lane {
  taskType: string;
  handler: Handler<never, unknown>;
  concurrency: number;
  running: number;
  stream: grpc.ClientDuplexStream<MessageInitShape<typeof DispatchRequestSchema>, DispatchResponse> | undefined;
  backoffMs: number;
  /** The next connect while the server is away: it keeps the process alive, as an open stream does. */
  retry: NodeJS.Timeout | undefined;
  /** Slots freed since credits were last sent. */
  owed: number;
  /** Results being delivered, and credits held back until fewer are. */
  reporting: number;
  withheld: number;
}

export class Worker {
  readonly client: BatonClient;
  readonly workerId: string;
  private readonly lanes = new Map<string, Lane>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly ownsClient: boolean;
  private readonly abort = new AbortController();
  private running = false;
  private draining = false;
  private readonly results: ResultSender;
  private readonly onError: (error: unknown) => void;

  constructor(private readonly options: WorkerOptions = {}) {
    this.client = options.client ?? new BatonClient(options);
    this.onError = options.onError ?? stderrReporter(this.client.address);
    this.ownsClient = !options.client;
    this.workerId = options.workerId ?? `${hostname()}-${process.pid}`;
    this.results = new ResultSender((results) => this.client.tasks.updateTasks({ results }));
  }

  /**
   * Registers the handler for one task type: a declaration from @baton/sdk's
   * taskType() (the handler is typed by it), or a task type's name.
   */
  handle<I, O>(taskType: DeclaredTaskType<I, O>, handler: Handler<I, O>, options?: HandlerOptions): this;
  handle<I = Record<string, unknown>, O = Record<string, unknown>>(taskType: string, handler: Handler<I, O>, options?: HandlerOptions): this;
  handle(declared: string | DeclaredTaskType<unknown, unknown>, handler: Handler<never, unknown>, options: HandlerOptions = {}): this {
    const taskType = typeof declared === "string" ? declared : declared.name;
    if (this.lanes.has(taskType)) throw new Error(`a handler for ${taskType} is registered already`);
    this.lanes.set(taskType, {
      taskType,
      handler,
      concurrency: Math.max(1, options.concurrency ?? 1),
      running: 0,
      stream: undefined,
      backoffMs: this.options.minBackoffMs ?? 100,
      retry: undefined,
      owed: 0,
      reporting: 0,
      withheld: 0,
    });
    if (this.running) this.connect(this.lanes.get(taskType)!);
    return this;
  }

  /** Opens the streams; returns at once. */
  start(): this {
    if (this.running) return this;
    this.running = true;
    for (const lane of this.lanes.values()) this.connect(lane);
    return this;
  }

  /** Stops taking tasks, lets running ones finish and report, then closes. */
  async stop(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.running = false;
    for (const lane of this.lanes.values()) clearTimeout(lane.retry);
    // Half-close each stream; the server ends its side once it has stopped
    // pushing, so a task already on the wire still arrives and is run.
    await Promise.all(
      [...this.lanes.values()].map((lane) => {
        const stream = lane.stream;
        if (!stream) return Promise.resolve();
        return new Promise<void>((resolve) => {
          const done = () => resolve();
          stream.once("end", done);
          stream.once("error", done);
          stream.once("close", done);
          setTimeout(done, 5000).unref();
          stream.end();
        });
      }),
    );
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    for (const lane of this.lanes.values()) {
      lane.stream?.cancel();
      lane.stream = undefined;
    }
    this.abort.abort();
    if (this.ownsClient) this.client.close();
  }

  private connect(lane: Lane): void {
    if (!this.running || this.draining) return;
    const stream = this.client.tasks.dispatch();
    lane.stream = stream;
    let healthy = false;
    stream.on("data", (message: DispatchResponse) => {
      if (!healthy) {
        healthy = true;
        lane.backoffMs = this.options.minBackoffMs ?? 100;
      }
      if (message.task) this.run(lane, message.task);
    });
    const reconnect = (error?: unknown) => {
      if (lane.stream !== stream) return;
      lane.stream = undefined;
      if (error && !this.draining) this.onError(error);
      if (!this.running || this.draining) return;
      const delay = lane.backoffMs * (0.5 + Math.random());
      lane.backoffMs = Math.min(lane.backoffMs * 2, this.options.maxBackoffMs ?? 5000);
      lane.retry = setTimeout(() => {
        lane.retry = undefined;
        this.connect(lane);
      }, delay);
    };
    stream.on("error", (error) => reconnect(error));
    stream.on("end", () => reconnect());
    stream.write({ kind: { case: "subscribe", value: { taskTypes: [lane.taskType], workerId: this.workerId, domain: "" } } });
    const free = lane.concurrency - lane.running;
    if (free > 0) stream.write({ kind: { case: "credits", value: free } });
  }

  private run(lane: Lane, task: LeasedTask): void {
    lane.running++;
    const done = (async () => {
      let result: Awaited<ReturnType<Worker["execute"]>>;
      try {
        result = await this.execute(lane, task);
      } finally {
        // The slot is free once the handler has returned: the next task runs
        // while this result is delivered (in a batch with others).
        lane.running--;
        lane.reporting++;
        this.credit(lane);
      }
      try {
        if (result) await this.report(task, result);
      } finally {
        lane.reporting--;
        if (lane.withheld > 0) {
          lane.withheld--;
          this.credit(lane);
        }
      }
    })().finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
  }

  /** Grants credits for freed slots, one message for all the slots freed in the same turn. */
  private credit(lane: Lane): void {
    // Results the server has not taken yet hold their slots back beyond a point.
    if (lane.reporting > lane.concurrency * 4) {
      lane.withheld++;
      return;
    }
    lane.owed++;
    if (lane.owed > 1) return;
    setImmediate(() => {
      const owed = lane.owed;
      lane.owed = 0;
      if (lane.stream && !this.draining) lane.stream.write({ kind: { case: "credits", value: owed } });
    });
  }

  /** Runs the handler; the result to report, or undefined when the lease was lost meanwhile. */
  private async execute(lane: Lane, task: LeasedTask): Promise<Result | undefined> {
    // The signal is made only for a handler that reads it: AbortSignal.any
    // costs more than a short handler, and most never look.
    const lease = { lost: false, controller: undefined as AbortController | undefined };
    const stopLease = this.keepLease(task, (reason) => {
      lease.lost = true;
      lease.controller?.abort(reason);
    });
    let signal: AbortSignal | undefined;
    const stopping = this.abort.signal;
    const context: TaskContext = {
      taskId: task.taskId,
      workflowId: task.workflowId,
      referenceTaskName: task.referenceTaskName,
      retryCount: task.retryCount,
      pollCount: task.pollCount,
      get signal() {
        if (!signal) {
          lease.controller = new AbortController();
          if (lease.lost) lease.controller.abort();
          signal = AbortSignal.any([lease.controller.signal, stopping]);
        }
        return signal;
      },
      log: async (message) => {
        await this.client.tasks.addTaskLog({ taskId: task.taskId, message, leaseToken: task.leaseToken });
      },
    };
    let result: Result;
    try {
      const input = task.inputJson ? (parseJson(task.inputJson) as never) : ({} as never);
      const value = await lane.handler(input, context);
      if (value && typeof value === "object" && IN_PROGRESS in value) {
        const ip = value as InProgress;
        result = { status: TaskStatus.IN_PROGRESS, output: ip.output, reason: "", callbackAfterSeconds: ip.callbackAfterSeconds };
      } else {
        result = { status: TaskStatus.COMPLETED, output: value ?? {}, reason: "", callbackAfterSeconds: 0 };
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const terminal = error instanceof TerminalError || (error instanceof Error && error.name === "TerminalError");
      result = {
        status: terminal ? TaskStatus.FAILED_WITH_TERMINAL_ERROR : TaskStatus.FAILED,
        output: { error: message },
        reason: message,
        callbackAfterSeconds: 0,
      };
    } finally {
      stopLease();
    }
    if (lease.lost) return undefined; // the lease is gone: another worker owns the task now
    return result;
  }

  /**
   * Extends the lease before it runs out, for as long as the handler runs.
   * Paced by the lease's length, not its end time: the server's clock need not
   * agree with ours (a test clock may be days ahead).
   */
  private keepLease(task: LeasedTask, lost: (reason: unknown) => void): () => void {
    const every = Math.max(100, (Number(task.responseTimeoutSeconds) * 1000) / 2);
    const timer = setInterval(() => {
      this.client.tasks.extendLease({ taskId: task.taskId, leaseToken: task.leaseToken, extendSeconds: 0n }).catch((error: unknown) => {
        if ((error as grpc.ServiceError).code === grpc.status.FAILED_PRECONDITION) lost(error);
        else this.onError(error);
      });
    }, every);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Delivers a result (batched with others finishing meanwhile), retrying while the server is unreachable. */
  private async report(task: LeasedTask, result: Result): Promise<void> {
    const message = {
      taskId: task.taskId,
      leaseToken: task.leaseToken,
      status: result.status,
      outputJson: stringifyJson(result.output),
      reasonForIncompletion: result.reason,
      callbackAfterSeconds: BigInt(result.callbackAfterSeconds),
      workerId: this.workerId,
    };
    let delay = 100;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.results.report(message);
        return;
      } catch (error) {
        const code = error instanceof ResultRefused ? error.code : (error as grpc.ServiceError).code;
        const transient = code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED || code === grpc.status.RESOURCE_EXHAUSTED;
        this.onError(error);
        if (!transient || attempt >= 50) return;
        await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random())));
        delay = Math.min(delay * 2, 5000);
      }
    }
  }
}
