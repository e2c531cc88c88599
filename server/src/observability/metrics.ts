// Prometheus metrics of one server process, in a registry of its own (several
// servers in one process, as in tests, do not share series). Counters and
// histograms are fed where events happen; the gauges that describe the
// database (runs in flight, queue depth) come from cheap queries made when
// scraped, at most once per `sampleMs`, so an idle server queries nothing.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface DatabaseSample {
  /** Runs not yet ended, by status (RUNNING, PAUSED). */
  runs: { status: string; count: number }[];
  queues: { taskType: string; ready: number; delayed: number; inProgress: number }[];
}

/** Seconds: from a few ms (in-process hand-off) to a day (long tasks, long backlogs). */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14_400, 86_400];
const RPC_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class Metrics {
  readonly registry = new Registry();
  readonly runsStarted: Counter;
  readonly runsEnded: Counter<"status">;
  readonly runs: Gauge<"status">;
  readonly queueWait: Histogram<"task_type">;
  readonly execution: Histogram<"task_type" | "status">;
  readonly queueDepth: Gauge<"task_type" | "state">;
  readonly leaseExpiries: Counter<"task_type">;
  readonly dbErrors: Counter<"code">;
  readonly grpcRequests: Counter<"method" | "code">;
  readonly grpcDuration: Histogram<"method">;

  private sample: DatabaseSample | undefined;
  private sampledAt = -Infinity;
  private sampling: Promise<void> | undefined;

  constructor(
    private readonly readDatabase: () => Promise<DatabaseSample>,
    private readonly sampleMs = 1000,
    options: { processMetrics?: boolean } = {},
  ) {
    const registers = [this.registry];
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.runsStarted = new Counter({ name: "baton_runs_started_total", help: "Runs started by this process", registers });
    this.runsEnded = new Counter({ name: "baton_runs_ended_total", help: "Runs ended by this process, by final status", labelNames: ["status"], registers });
    // prom-client calls collect() with the gauge as `this`.
    const fresh = () => this.fresh();
    this.runs = new Gauge({
      name: "baton_runs",
      help: "Runs not yet ended, by status (RUNNING, PAUSED), in the whole database",
      labelNames: ["status"],
      registers,
      async collect() {
        const sample = await fresh();
        this.reset();
        for (const status of ["RUNNING", "PAUSED"]) this.set({ status }, 0);
        for (const r of sample?.runs ?? []) this.set({ status: r.status }, r.count);
      },
    });
    this.queueDepth = new Gauge({
      name: "baton_task_queue_depth",
      help: "Worker tasks per task type: ready (waiting for a worker), delayed (retry or callback not due), in_progress (leased)",
      labelNames: ["task_type", "state"],
      registers,
      async collect() {
        const sample = await fresh();
        if (!sample) return;
        this.reset();
        for (const q of sample.queues) {
          this.set({ task_type: q.taskType, state: "ready" }, q.ready);
          this.set({ task_type: q.taskType, state: "delayed" }, q.delayed);
          this.set({ task_type: q.taskType, state: "in_progress" }, q.inProgress);
        }
      },
    });
    this.queueWait = new Histogram({
      name: "baton_task_queue_wait_seconds",
      help: "Time a worker task waited from ready to claimed by a worker",
      labelNames: ["task_type"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.execution = new Histogram({
      name: "baton_task_execution_seconds",
      help: "Time from a worker task's start to its end, by final status",
      labelNames: ["task_type", "status"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.leaseExpiries = new Counter({
      name: "baton_task_lease_expiries_total",
      help: "Running tasks timed out because their worker went silent past the lease (responseTimeoutSeconds)",
      labelNames: ["task_type"],
      registers,
    });
    this.dbErrors = new Counter({
      name: "baton_db_errors_total",
      help: "Failed database operations, by SQLSTATE (or 'connection')",
      labelNames: ["code"],
      registers,
    });
    this.grpcRequests = new Counter({
      name: "baton_grpc_requests_total",
      help: "gRPC calls by full method name and final status code",
      labelNames: ["method", "code"],
      registers,
    });
    this.grpcDuration = new Histogram({
      name: "baton_grpc_request_duration_seconds",
      help: "gRPC call duration (streams: their whole life)",
      labelNames: ["method"],
      buckets: RPC_BUCKETS,
      registers,
    });
  }

  observeRpc(method: string, code: string, seconds: number): void {
    this.grpcRequests.inc({ method, code });
    this.grpcDuration.observe({ method }, seconds);
  }

  dbError(error: unknown): void {
    const code = (error as { code?: unknown }).code;
    this.dbErrors.inc({ code: typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : "connection" });
  }

  /** The database sample, refreshed when older than `sampleMs`; the last good one when the database fails. */
  private async fresh(): Promise<DatabaseSample | undefined> {
    if (performance.now() - this.sampledAt >= this.sampleMs) {
      this.sampling ??= this.readDatabase()
        .then(
          (sample) => {
            this.sample = sample;
            this.sampledAt = performance.now();
          },
          // Counted where it failed (the pool); keep serving the last sample.
          () => {},
        )
        .finally(() => {
          this.sampling = undefined;
        });
      await this.sampling;
    }
    return this.sample;
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
