// A real server on loopback over a real PostgreSQL, a client, and a clock the
// test moves. `advance` moves time and fires everything that became due.
import { BatonClient, type ConductorWorkflow } from "@baton/client";
import { ManualClock, startServer, createLogger, type BatonServer, type ServerOptions } from "@baton/server";
import { freshDatabase, stopCluster } from "./database.js";

export interface Harness {
  server: BatonServer;
  client: BatonClient;
  clock: ManualClock;
  databaseUrl: string;
  /** Moves time forward and waits until timers and cross-run effects have fired. */
  advance(ms: number): Promise<void>;
  /** Fires whatever is due now. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(options: { manualClock?: boolean; databaseUrl?: string; server?: Partial<ServerOptions> } = {}): Promise<Harness> {
  const databaseUrl = options.databaseUrl ?? (await freshDatabase());
  const clock = new ManualClock();
  const server = await startServer({
    databaseUrl,
    port: 0,
    ...(options.manualClock === false ? {} : { clock }),
    logger: createLogger(process.env["BATON_LOG_LEVEL"] ?? "silent"),
    ...options.server,
  });
  const client = new BatonClient({ address: server.address });
  return {
    server,
    client,
    clock,
    databaseUrl,
    async advance(ms) {
      clock.advance(ms);
      await server.settle();
      await server.settle();
    },
    settle: () => server.settle(),
    async close() {
      client.close();
      await server.close();
      await stopCluster();
    },
  };
}

/** A harness on the real clock whose server serves Conductor's REST API too, at `rest` (a base URL). */
export async function startRestHarness(): Promise<Harness & { rest: string }> {
  const h = await startHarness({ manualClock: false, server: { conductor: { port: 0 } } });
  return Object.assign(h, { rest: `http://${h.server.conductorAddress}` });
}

/** A metric's value on `server`'s registry: the sample whose labels include `labels` (0 when there is none). */
export async function metricValue(server: BatonServer, name: string, labels: Record<string, string> = {}): Promise<number> {
  const values = (await server.metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  return values.find((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value))?.value ?? 0;
}

/** Polls `fn` until it returns a value that satisfies `check` (for effects that land asynchronously). */
export async function eventually<T>(fn: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T;
  for (;;) {
    last = await fn();
    if (check(last)) return last;
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms; last value: ${JSON.stringify(last)?.slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Task statuses of a run, as [ref, status] pairs in order. */
export function taskList(run: ConductorWorkflow): [string, string][] {
  return run.tasks.map((t) => [t.referenceTaskName, t.status]);
}

/** Starts a run of `name` and reads it (`read`: as getWorkflow) until it is no longer RUNNING, for up to a minute: for runs that end without a worker. */
export async function startToEnd(
  h: Harness,
  name: string,
  input: Record<string, unknown> = {},
  read: { includeTasks?: boolean } = {},
): Promise<ConductorWorkflow> {
  const id = await h.client.startWorkflow(name, input);
  return eventually(
    () => h.client.getWorkflow(id, read),
    (run) => run.status !== "RUNNING",
    60_000,
  );
}
