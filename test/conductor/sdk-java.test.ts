// Conductor's Java client (org.conductoross:conductor-client, unchanged, from
// Maven Central) against Baton's REST API: its TaskRunnerConfigurer runs the
// workers of a Conductor fixture flow (a retry after a failure, a task that
// comes back later, a terminal error) and its workflow client starts, reads,
// searches, reruns, pauses, resumes, terminates and retries runs. The server
// is open on loopback (the OSS client sends no key).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { assertHandedAsConductor, LONG_RUN_TASKS, runSdkCheck, storedBeside, startRestServer, type RestServer } from "./support.js";

const project = path.join(path.dirname(fileURLToPath(import.meta.url)), "java");
let s: RestServer;
let classpath: string;

before(async () => {
  execFileSync("mvn", ["-B", "-q", "-f", path.join(project, "pom.xml"), "compile", "dependency:build-classpath", "-Dmdep.outputFile=target/cp.txt"], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  classpath = `${path.join(project, "target/classes")}:${readFileSync(path.join(project, "target/cp.txt"), "utf8").trim()}`;
  s = await startRestServer();
  // Baton's optional fields on a definition the Java client reads back (issue 19: stored as fields Conductor's readers ignore).
  await s.grpc.registerWorkflowDef({
    name: "java_baton_fields",
    version: 1,
    schemaVersion: 2,
    tasks: [{ name: "java_baton_wait", taskReferenceName: "wait", type: "WAIT" }],
    fairnessKey: "${workflow.input.customerId}",
    fairnessWeights: { gold: 3 },
    retentionSeconds: 86_400,
    rateLimitConfig: { rateLimitKey: "${workflow.input.customerId}", concurrentExecLimit: 2, strategy: "CANCEL_OLDEST" },
  });
});
after(() => s.close());

test("the Java client's workers and workflow client run a Conductor fixture flow on Baton", async () => {
  const seen = await runSdkCheck("Java", "java", ["-cp", classpath, "SdkCheck", `${s.base}/api/`]);
  assert.equal(seen.long.status, "COMPLETED", JSON.stringify(seen.long));
  assert.deepEqual(seen.long.tasks, LONG_RUN_TASKS);
  assert.equal(seen.terminal.status, "FAILED");
  assert.deepEqual(seen.terminal.tasks, [["t1", "FAILED_WITH_TERMINAL_ERROR", 0]]);
  // The polled Task carried the run's facts, as Conductor's does (t1's retry, t2 after its callback, t3).
  assert.equal(seen.handed.length, 4, JSON.stringify(seen.handed));
  for (const h of seen.handed) {
    assertHandedAsConductor(h, storedBeside(h), { workflowId: h.workflowId, correlationId: "java-long" });
    assert.ok(h.taskDefName && h.referenceTaskName);
  }
  assert.deepEqual(seen.search.ids, [seen.search.expected]);
  assert.equal(seen.rerun, "COMPLETED");
  assert.equal(seen.removed.latest, 1);
  assert.equal(seen.removed.run, "RUNNING");
  assert.match(seen.removed.refused, /404|no task definition/i);
  assert.deepEqual(seen.batonFields, { name: "java_baton_fields", rateLimitKey: "${workflow.input.customerId}", concurrentExecLimit: 2, tasks: 1 });
  assert.deepEqual(seen.operate, { paused: "PAUSED", resumed: "RUNNING", ended: "TERMINATED", reason: "stopped by the java client", retried: "RUNNING" });
});
