// Real @baton/client workers with a worker-side ledger: every task a handler
// received, and every result (UpdateTask or UpdateTasks) the worker sent with what came back. The
// ledger is the client's view of what the server acknowledged.
import { BatonClient, TerminalError, Worker } from "@baton/client";
import { parseJson, TaskStatus } from "@baton/protocol";

export interface UpdateRecord {
  taskId: string;
  status: string;
  output: string;
  /** true: an OK reply; false: an error. */
  ok: boolean;
  applied: boolean;
  code?: number;
  at: number;
}

export class Ledger {
  /** taskId -> how many times a handler received it. */
  readonly received = new Map<string, number>();
  readonly updates: UpdateRecord[] = [];
  handlerRuns = 0;

  /** One ledger holding what several workers saw. */
  static merge(...ledgers: Ledger[]): Ledger {
    const out = new Ledger();
    for (const l of ledgers) {
      for (const [id, n] of l.received) out.received.set(id, (out.received.get(id) ?? 0) + n);
      out.updates.push(...l.updates);
      out.handlerRuns += l.handlerRuns;
    }
    return out;
  }

  /** Task ids a handler received more than once (the same task row handed out twice). */
  duplicateDeliveries(): string[] {
    return [...this.received].filter(([, n]) => n > 1).map(([id]) => id);
  }

  /** Acknowledged (OK and applied) updates per task id. */
  appliedByTask(): Map<string, UpdateRecord[]> {
    const out = new Map<string, UpdateRecord[]>();
    for (const u of this.updates) {
      if (!u.ok || !u.applied) continue;
      const list = out.get(u.taskId) ?? [];
      list.push(u);
      out.set(u.taskId, list);
    }
    return out;
  }
}

/** A BatonClient whose UpdateTask and UpdateTasks calls are written down in `ledger`, one record per result. */
export function ledgerClient(address: string, ledger: Ledger): BatonClient {
  const client = new BatonClient({ address });
  const tasks = client.tasks as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  type Result = { taskId: string; status: TaskStatus; outputJson: string };
  const record = (result: Result): UpdateRecord => ({
    taskId: result.taskId,
    status: TaskStatus[result.status] ?? String(result.status),
    output: result.outputJson,
    ok: false,
    applied: false,
    at: Date.now(),
  });
  const updateTask = tasks["updateTask"]!.bind(client.tasks);
  tasks["updateTask"] = async (...args: unknown[]) => {
    const entry = record((args[0] as { result: Result }).result);
    try {
      const response = (await updateTask(...args)) as { applied: boolean };
      entry.ok = true;
      entry.applied = response.applied;
      return response;
    } catch (error) {
      const code = (error as { code?: number }).code;
      if (code !== undefined) entry.code = code;
      throw error;
    } finally {
      ledger.updates.push(entry);
    }
  };
  const updateTasks = tasks["updateTasks"]!.bind(client.tasks);
  tasks["updateTasks"] = async (...args: unknown[]) => {
    const entries = (args[0] as { results: Result[] }).results.map(record);
    try {
      const response = (await updateTasks(...args)) as { outcomes: { applied: boolean; code: number }[] };
      response.outcomes.forEach((outcome, i) => {
        const entry = entries[i];
        if (!entry) return;
        // A result the server refused on its own is an error reply, as UpdateTask would have given.
        entry.ok = outcome.code === 0;
        entry.applied = outcome.applied;
        if (outcome.code !== 0) entry.code = outcome.code;
      });
      return response;
    } catch (error) {
      const code = (error as { code?: number }).code;
      if (code !== undefined) for (const entry of entries) entry.code = code;
      throw error;
    } finally {
      ledger.updates.push(...entries);
    }
  };
  return client;
}

export interface FaultWorkerOptions {
  address: string;
  workerId: string;
  ledger: Ledger;
  concurrency?: number;
  /** Upper bound of a random handler delay, ms. */
  maxDelayMs?: number;
  onError?: (error: unknown) => void;
}

/** Starts a worker for the mixed flows' task types. */
export function startFaultWorker(options: FaultWorkerOptions): Worker {
  const client = ledgerClient(options.address, options.ledger);
  const worker = new Worker({ client, workerId: options.workerId, minBackoffMs: 50, maxBackoffMs: 1000, onError: options.onError ?? (() => {}) });
  const concurrency = options.concurrency ?? 16;
  const delay = async () => {
    const max = options.maxDelayMs ?? 10;
    if (max > 0) await new Promise((r) => setTimeout(r, Math.random() * max));
  };
  const seen = (taskId: string) => {
    options.ledger.handlerRuns++;
    options.ledger.received.set(taskId, (options.ledger.received.get(taskId) ?? 0) + 1);
  };
  worker.handle<{ v: unknown; d: unknown }>(
    "f_add",
    async ({ v, d }, ctx) => {
      seen(ctx.taskId);
      await delay();
      return { v: Number(v) + Number(d) };
    },
    { concurrency },
  );
  worker.handle<{ v: unknown; fails: unknown }>(
    "f_flaky",
    async ({ v, fails }, ctx) => {
      seen(ctx.taskId);
      await delay();
      if (ctx.retryCount < Number(fails ?? 0)) throw new Error(`planned failure on attempt ${ctx.retryCount}`);
      return { v: Number(v) * 2 };
    },
    { concurrency },
  );
  worker.handle(
    "f_fatal",
    async (_input, ctx) => {
      seen(ctx.taskId);
      await delay();
      throw new TerminalError("planned terminal failure");
    },
    { concurrency },
  );
  return worker.start();
}

export function outputOf(record: UpdateRecord): unknown {
  return record.output ? parseJson(record.output) : {};
}
