// Many events at once on a server that has not cached the run's definition yet
// (just started or restarted): each event holds a pooled connection inside its
// transaction and asks the pool for a second one to load the definition. With
// as many events as the pool has connections, none can go on.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { BatonClient } from "@baton/client";
import { TaskStatus } from "@baton/protocol";
import { freshDatabase, stopCluster } from "../support/database.js";
import { figures, report } from "./lib/report.js";
import { startServerProcess, stopServer } from "./lib/server.js";
import { flowOf } from "../support/flows.js";

after(() => stopCluster());

describe("concurrent events on a fresh server", () => {
  it("30 task results for 30 runs, right after a restart, are all answered", {}, async () => {
    const databaseUrl = await freshDatabase();
    let server = await startServerProcess({ databaseUrl });
    let client = new BatonClient({ address: server.address });
    const port = server.port;
    try {
      await client.registerTaskDefs([{ name: "p_one", retryCount: 0, responseTimeoutSeconds: 600, timeoutSeconds: 0 }]);
      await client.registerWorkflowDef(flowOf("pool_one", [{ name: "p_one", taskReferenceName: "one", type: "SIMPLE" }]));
      const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => client.startWorkflow("pool_one", { i })));
      const { tasks } = await client.tasks.poll({ taskType: "p_one", workerId: "w", count: 30, waitMs: 5000n });
      assert.equal(tasks.length, 30);
      // A restart empties the definition cache.
      await stopServer(server, "SIGKILL");
      client.close();
      server = await startServerProcess({ databaseUrl, port });
      client = new BatonClient({ address: server.address });
      const t0 = Date.now();
      const answers = await Promise.allSettled(
        tasks.map((t) =>
          client.tasks.updateTask(
            { result: { taskId: t.taskId, leaseToken: t.leaseToken, status: TaskStatus.COMPLETED, outputJson: "{}", workerId: "w" } },
            { deadline: 30_000 },
          ),
        ),
      );
      const answered = answers.filter((a) => a.status === "fulfilled").length;
      report(
        figures("30 concurrent events, cold definition cache", "30 runs", "server restart", undefined, {
          answeredIn30s: answered,
          seconds: (Date.now() - t0) / 1000,
        }),
      );
      assert.equal(answered, 30, `${30 - answered} of 30 updates got no answer in 30 s`);
      const runs = await Promise.all(ids.map((id) => client.getWorkflow(id, { includeTasks: false })));
      assert.ok(runs.every((r) => r.status === "COMPLETED"));
    } finally {
      client.close();
      await stopServer(server, "SIGKILL");
    }
  });
});
