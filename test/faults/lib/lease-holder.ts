// A worker process that takes one task of the type given in argv and holds it
// (its handler never returns; the Worker keeps extending the lease), printing
// the lease it got, so a test can SIGKILL it mid-task.
import { BatonClient, Worker } from "@baton/client";

const [address, taskType] = process.argv.slice(2) as [string, string];
const client = new BatonClient({ address });
const tasks = client.tasks as unknown as Record<string, (...args: unknown[]) => unknown>;
const dispatch = tasks["dispatch"]!.bind(client.tasks);
tasks["dispatch"] = (...args: unknown[]) => {
  const stream = dispatch(...args) as NodeJS.EventEmitter;
  stream.on("data", (message: { task?: { taskId: string; leaseToken: string; leaseExpiresMs: bigint } }) => {
    if (message.task) {
      const { taskId, leaseToken, leaseExpiresMs } = message.task;
      process.stdout.write(JSON.stringify({ taskId, leaseToken, leaseExpiresMs: Number(leaseExpiresMs), at: Date.now() }) + "\n");
    }
  });
  return stream;
};
const worker = new Worker({ client, workerId: `holder-${process.pid}` });
worker.handle(taskType, () => new Promise(() => {}), { concurrency: 1 });
worker.start();
