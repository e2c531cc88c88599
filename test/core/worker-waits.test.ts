// A TypeScript worker process started before its server (or whose server went
// away) stays up and retries until the server is there, then takes its tasks:
// nothing else need keep the process alive.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, test } from "node:test";
import { BatonClient } from "@baton/client";
import { createLogger, startServer, type BatonServer } from "@baton/server";
import { freePort } from "../faults/lib/server.js";
import { freshDatabase, stopCluster } from "../support/database.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

after(() => stopCluster());

test("a worker started before its server waits for it, then takes its tasks", async () => {
  const port = await freePort();
  // Only the worker: no timer or handle of the script's own keeps this process alive.
  const script = `
    import { Worker } from "@baton/client";
    const worker = new Worker({ address: "127.0.0.1:${port}", minBackoffMs: 10, maxBackoffMs: 50 });
    worker.handle("early_worker", async ({ name }) => ({ greeting: "hello " + name })).start();
    process.on("SIGTERM", () => void worker.stop());
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { cwd: REPO, stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  let stderr = "";
  const refused = new Promise<void>((resolve) =>
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes("cannot reach")) resolve();
    }),
  );
  let server: BatonServer | undefined;
  let client: BatonClient | undefined;
  try {
    const first = await Promise.race([refused.then(() => "refused"), exited.then((code) => `exited ${code}`)]);
    assert.equal(first, "refused", stderr);
    server = await startServer({ databaseUrl: await freshDatabase(), port, logger: createLogger("silent") });
    client = new BatonClient({ address: server.address });
    await client.registerWorkflowDef({
      name: "early_worker_flow",
      version: 1,
      tasks: [{ name: "early_worker", taskReferenceName: "greet", type: "SIMPLE", inputParameters: { name: "${workflow.input.name}" } }],
    });
    const run = client.executeWorkflow("early_worker_flow", { name: "you" }, { waitMs: 60_000 });
    const outcome = await Promise.race([run.then((r) => r.status), exited.then((code) => `the worker exited (code ${code}) before its server came`)]);
    assert.equal(outcome, "COMPLETED", stderr);
    assert.deepEqual((await run).output, { greeting: "hello you" });
  } finally {
    child.kill("SIGTERM");
    await exited;
    client?.close();
    await server?.close();
  }
});
