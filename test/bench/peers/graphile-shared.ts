// What graphile-worker's driver and its worker process share: its settings and the shapes of its API the bench uses.

export interface Helpers {
  job: { run_at: Date; id: string };
  addJob(identifier: string, payload: unknown): Promise<unknown>;
  query(sql: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}
interface Runner {
  stop(): Promise<void>;
}
export interface GraphileWorker {
  Logger: new (factory: (scope: unknown) => (level: string, message: string) => void) => unknown;
  run(options: Record<string, unknown>): Promise<Runner>;
  makeWorkerUtils(
    options: Record<string, unknown>,
  ): Promise<{ addJob(id: string, payload: unknown): Promise<unknown>; migrate(): Promise<void>; release(): Promise<void> }>;
}

export type Payload = { n: number; id?: string; notify?: boolean; fanout?: string; count?: number };

/**
 * graphile-worker's settings: its own performance page's batching (a local
 * queue of 500 fetched jobs, job completions batched), 64 jobs at once (the
 * slots Baton's workers have per type; its page's 24 per process was with
 * four processes: here each step waits on a durable commit, so jobs in
 * flight are what throughput needs), and a pool of 64 + 8 because each
 * step's handler adds the next step's job through the pool.
 */
export const GRAPHILE_SETTINGS = {
  concurrentJobs: 64,
  maxPoolSize: 64 + 8,
  localQueue: { size: 500 },
  completeJobBatchDelay: 0,
  failJobBatchDelay: 0,
};
