// Two replicas: two servers on one fresh database, each with its own client.
import { BatonClient } from "@baton/client";
import { createLogger, startServer, type BatonServer, type Clock } from "@baton/server";
import { freshDatabase, stopCluster } from "./database.js";

export interface TwoReplicas {
  a: BatonServer;
  b: BatonServer;
  /** A client of replica a. */
  ca: BatonClient;
  /** A client of replica b. */
  cb: BatonClient;
  databaseUrl: string;
  close(): Promise<void>;
}

/** Starts both replicas; with `clock`, both tell time by it. */
export async function startTwoReplicas(options: { clock?: Clock } = {}): Promise<TwoReplicas> {
  const databaseUrl = await freshDatabase();
  const logger = createLogger(process.env["BATON_LOG_LEVEL"] ?? "silent");
  const clock = options.clock ? { clock: options.clock } : {};
  const a = await startServer({ databaseUrl, port: 0, ...clock, logger });
  const b = await startServer({ databaseUrl, port: 0, ...clock, logger });
  const ca = new BatonClient({ address: a.address });
  const cb = new BatonClient({ address: b.address });
  return {
    a,
    b,
    ca,
    cb,
    databaseUrl,
    async close() {
      ca.close();
      cb.close();
      await a.close();
      await b.close();
      await stopCluster();
    },
  };
}
