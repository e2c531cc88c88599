// User code's limits count the CPU time of the thread that runs it, not wall
// time (server/src/cpu-time.ts): on a busy machine a pool thread waits for a
// core, and a well-behaved script was stopped at 1 s of wall time it never
// had the CPU for (test/security/output-limit.test.ts failed so at load 30).
// Here the whole server is descheduled (SIGSTOP) nine tenths of the time
// while a script of a fraction of its CPU time runs, so that it runs longer
// than the limit by the wall clock: it completes. A
// spinning script is still stopped at its limit.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BatonClient } from "@baton/client";
import { freshDatabase } from "../support/database.js";
import { startServerProcess, stopServer, type ServerProc } from "../faults/lib/server.js";

/** The server's script limit: 1,000 ms of CPU time (server/src/runtime/services.ts). */
const LIMIT_MS = 1000;
/** The server is stopped this long, then let run RUNNING_MS, in turn: a tenth of the wall time. */
const STOPPED_MS = 450;
const RUNNING_MS = 50;

const inline = (name: string, expression: string) => ({
  name,
  version: 1,
  schemaVersion: 2,
  tasks: [{ name, taskReferenceName: name, type: "INLINE", inputParameters: { evaluatorType: "javascript", expression } }],
});

// About 85 ms of CPU time on this machine (225 ms in a thread that V8 has not yet optimized); it says how long it ran by the wall clock.
const counting = inline("counting", "const t0 = Date.now(); let s = 0; for (let i = 0; i < 1.5e6; i++) s += i % 7; ({ s, wallMs: Date.now() - t0 })");
const spinning = inline("spinning", "while (true) {}");

let proc: ServerProc;
let client: BatonClient;

before(async () => {
  proc = await startServerProcess({ databaseUrl: await freshDatabase() });
  client = new BatonClient({ address: proc.address });
  await client.registerWorkflowDef(counting);
  await client.registerWorkflowDef(spinning);
});

after(async () => {
  client?.close();
  if (proc) await stopServer(proc);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ended(id: string) {
  for (;;) {
    const run = await client.getWorkflow(id);
    if (run.status !== "RUNNING") return run;
    await sleep(20);
  }
}

describe("limits count CPU time", () => {
  it("a script whose server is descheduled past its limit completes: the wait is not its CPU time", async () => {
    // The server runs a tenth of the time while the start is answered (its caller waits for the run's first
    // evaluations): the script's wall time is then about ten times its CPU time, past the limit, well under the
    // 10 s backstop. One that ran before the stops began (or after they ended) proves nothing and is run again.
    for (let attempt = 1; ; attempt++) {
      let answered = false;
      const started = client.startWorkflow("counting").finally(() => (answered = true));
      while (!answered) {
        process.kill(proc.child.pid!, "SIGSTOP");
        await sleep(STOPPED_MS);
        process.kill(proc.child.pid!, "SIGCONT");
        await sleep(RUNNING_MS);
      }
      const run = await ended(await started);
      assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
      const wallMs = Number((run.tasks[0]!.outputData as { result: { wallMs: number } }).result.wallMs);
      if (wallMs > LIMIT_MS) break;
      assert.ok(attempt < 5, `in ${attempt} attempts the server was never stopped long enough while the script ran (it ran ${wallMs} ms)`);
    }
  });

  it("a spinning script is stopped at its CPU time", async () => {
    const run = await ended(await client.startWorkflow("spinning"));
    assert.equal(run.status, "FAILED");
    // At its CPU time; on a machine too busy to give the thread a tenth of a core, at the wall-clock backstop.
    assert.match(
      run.tasks[0]!.reasonForIncompletion ?? "",
      /^the script (used more than|was still running after 10000 ms by the wall clock, short of) its 1000 ms of CPU time/,
    );
  });
});
