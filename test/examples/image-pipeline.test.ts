// The image pipeline (ingest, one encode per format in parallel, join,
// publish to the CDN, a 3-day embargo WAIT, notify), run two ways:
//  (a) with @baton/testing: mocked steps, the 3-day WAIT skipped by the test
//      clock, in a fraction of a second of real time;
//  (b) compiled and published with the `baton` CLI to a real server, and run
//      by real TypeScript workers (the clock still moved by the test: a real
//      3-day wait is not a test).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { BatonClient, Worker } from "@baton/client";
import { TaskStatus } from "@baton/protocol";
import { TestEnvironment } from "@baton/testing";
import { encode, imagePipeline, ingest, notify, publishCdn, type Rendition } from "./flows/image-pipeline.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "../..");
const FLOW_FILE = path.join(HERE, "flows/image-pipeline.ts");
const CLI = path.join(REPO, "packages/cli/dist/main.js");
const DAY = 24 * 3600 * 1000;

const input = { src: "s3://in/cat.png", formats: ["webp", "avif"], channel: "#media", embargo: "3 days" };

// Encodes run in parallel: the fork's join must see both branch results.
const ENCODE_CONCURRENCY = 4;

/** "s3://in/cat.png" -> "cat" */
const stem = (src: string) => path.basename(src).replace(/\.[^.]*$/, "");

describe("image pipeline with @baton/testing (mocked steps, test clock)", () => {
  let env: TestEnvironment;
  const told: string[] = [];

  before(async () => {
    env = await TestEnvironment.create();
    env.mock(ingest, async ({ src }) => ({ url: `store://${stem(src)}`, width: 1920, height: 1080 }));
    env.mock(encode, async ({ src, format }) => ({ url: `cdn://${stem(src)}.${format}`, format, bytes: 1000 + format.length }), {
      concurrency: ENCODE_CONCURRENCY,
    });
    env.mock(publishCdn, async ({ renditions }) => ({
      urls: Object.values(renditions)
        .map((r) => r.url)
        .sort(),
    }));
    env.mock(notify, async ({ channel, message }) => {
      told.push(`${channel}: ${message}`);
      return { delivered: true };
    });
  });
  after(async () => {
    await env?.close();
  });

  test("runs to the end, the 3-day embargo passing on the test clock", async (t) => {
    const warm = await env.execute(imagePipeline, input); // first run: connections, caches
    assert.equal(warm.status, "COMPLETED", warm.reasonForIncompletion);

    // Steady state: five runs, each timed on the machine's clock (printed, not asserted).
    const times: number[] = [];
    let run = warm;
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      run = await env.execute(imagePipeline, input);
      times.push(performance.now() - started);
      assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    }
    const median = [...times].sort((a, b) => a - b)[2]!;
    t.diagnostic(
      `image pipeline with a 3-day WAIT on @baton/testing: median ${median.toFixed(1)} ms real time per run ` +
        `(${times.map((ms) => ms.toFixed(0)).join(", ")} ms), ${((run.endTime - run.createTime) / DAY).toFixed(2)} days on the test clock`,
    );

    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    assert.deepEqual(run.output, { urls: ["cdn://cat.avif", "cdn://cat.webp"], width: 1920, notified: true });

    // One encode per format, with the ingested copy as the source.
    const encodes = env.calls(encode).filter((c) => c.workflowId === run.workflowId);
    assert.deepEqual(
      encodes.map((c) => c.input).sort((a, b) => a.format.localeCompare(b.format)),
      [
        { src: "store://cat", format: "avif" },
        { src: "store://cat", format: "webp" },
      ],
    );
    // The join hands publish_cdn every rendition, keyed by task.
    const published = env.calls(publishCdn).find((c) => c.workflowId === run.workflowId)!;
    assert.deepEqual(
      Object.values(published.input.renditions)
        .map((r: Rendition) => r.format)
        .sort(),
      ["avif", "webp"],
    );

    // The embargo held the notification back exactly 3 days.
    const embargo = run.task("embargo")!;
    const published_ = run.task("publish_cdn")!;
    const notified = run.task("notify")!;
    assert.equal(embargo.endTime - embargo.startTime, 3 * DAY);
    assert.ok(notified.startTime >= published_.endTime + 3 * DAY);
    assert.deepEqual(told.slice(-1), ["#media: renditions of s3://in/cat.png are live"]);
  });

  test("the embargo comes from the input: stopped before it ends, nobody is told", async () => {
    const runId = await env.start(imagePipeline, { ...input, embargo: "12h" });
    const before = told.length;
    const held = await env.drive(runId, { skipTime: false });
    assert.equal(held.task("embargo")?.status, "IN_PROGRESS");
    assert.equal(told.length, before);
    await env.advance("11h 59m");
    assert.equal((await env.drive(runId, { skipTime: false })).task("embargo")?.status, "IN_PROGRESS");
    const done = await env.drive(runId);
    assert.equal(done.status, "COMPLETED", done.reasonForIncompletion);
    const embargo = done.task("embargo")!;
    assert.equal(embargo.endTime - embargo.startTime, 12 * 3600 * 1000);
    assert.equal(told.length, before + 1);
  });

  test("an encode that fails once is retried after its backoff, on the test clock", async () => {
    let failures = 0;
    env.mock(encode, async ({ src, format }) => {
      if (format === "avif" && failures++ === 0) throw new Error("encoder crashed");
      return { url: `cdn://${stem(src)}.${format}`, format, bytes: 1 };
    });
    const run = await env.execute(imagePipeline, input);
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    const avif = run.tasks.filter((t) => t.taskDefName === "encode" && (t.inputData as { format: string }).format === "avif");
    assert.deepEqual(
      avif.map((t) => t.status),
      ["FAILED", "COMPLETED"],
    );
    assert.ok(avif[1]!.startTime - avif[0]!.endTime >= 5000, "retryDelaySeconds 5 passed on the test clock");
  });
});

describe("image pipeline: parallel encodes", () => {
  test("two encode results committed at the same instant complete the join", async () => {
    const env = await TestEnvironment.create();
    try {
      env.mock(ingest, async ({ src }) => ({ url: src, width: 1, height: 1 }));
      env.mock(publishCdn, async ({ renditions }) => ({
        urls: Object.values(renditions)
          .map((r) => r.url)
          .sort(),
      }));
      env.mock(notify, async () => ({ delivered: true }));
      for (let attempt = 0; attempt < 5; attempt++) {
        // The encodes by hand: take both, then answer both at once.
        const runId = await env.start(imagePipeline, { ...input, embargo: "1s" });
        const { tasks } = await eventually(
          async () => await env.client.tasks.poll({ taskType: "encode", workerId: "by-hand", count: 2, waitMs: 1000n }),
          (r) => r.tasks.length > 0,
          "the encodes",
        );
        const both =
          tasks.length === 2 ? tasks : [...tasks, ...(await env.client.tasks.poll({ taskType: "encode", workerId: "by-hand", count: 1, waitMs: 5000n })).tasks];
        assert.equal(both.length, 2);
        await Promise.all(
          both.map((task) =>
            env.client.tasks.updateTask({
              result: { taskId: task.taskId, leaseToken: task.leaseToken, status: TaskStatus.COMPLETED, outputJson: JSON.stringify({ url: task.taskId }) },
            }),
          ),
        );
        const run = await env.drive(runId);
        assert.equal(run.status, "COMPLETED", `attempt ${attempt}: ${run.reasonForIncompletion ?? ""} join ${run.task("encode_all_join")?.status}`);
      }
    } finally {
      await env.close();
    }
  });
});

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function baton(args: string[], address: string): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: REPO, env: { ...process.env, BATON_ADDRESS: address, BATON_DEBUG: "" }, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

async function eventually<T>(fn: () => Promise<T>, check: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await fn();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("image pipeline: baton compile + publish, real TypeScript workers", () => {
  // A server on a fresh database with a clock the test moves; no mocks: the
  // steps are done by a Worker below, as in production.
  let env: TestEnvironment;
  let client: BatonClient;
  let worker: Worker;
  let out: string;
  const told: string[] = [];

  before(async () => {
    env = await TestEnvironment.create();
    client = new BatonClient({ address: env.address });
    out = mkdtempSync(path.join(tmpdir(), "baton-example-"));
    worker = new Worker({ address: env.address, workerId: "example-worker" });
    worker
      .handle<{ src: string }, { url: string; width: number; height: number }>("ingest", async ({ src }) => {
        if (!src.startsWith("s3://")) throw new Error(`cannot fetch ${src}`);
        return { url: `store://originals/${stem(src)}.png`, width: 4032, height: 3024 };
      })
      .handle<{ src: string; format: string }, Rendition>(
        "encode",
        async ({ src, format }) => ({ url: `https://cdn.example/${stem(src)}.${format}`, format, bytes: format === "avif" ? 41_000 : 57_000 }),
        { concurrency: ENCODE_CONCURRENCY },
      )
      .handle<{ renditions: Record<string, Rendition> }, { urls: string[] }>("publish_cdn", async ({ renditions }) => ({
        urls: Object.values(renditions)
          .map((r) => r.url)
          .sort(),
      }))
      .handle<{ channel: string; message: string; urls: string[] }, { delivered: boolean }>("notify", async ({ channel, message, urls }) => {
        told.push(`${channel}: ${message} (${urls.join(", ")})`);
        return { delivered: true };
      })
      .start();
  });
  after(async () => {
    await worker?.stop();
    client?.close();
    await env?.close();
    if (out) rmSync(out, { recursive: true, force: true });
  });

  test("baton compile writes the flow's JSON, the same as the builder's", { skip: !existsSync(CLI) && "packages/cli is not built" }, async () => {
    const compiled = await baton(["compile", FLOW_FILE, "--out-dir", out], env.address);
    assert.equal(compiled.code, 0, compiled.stderr + compiled.stdout);
    const def = JSON.parse(readFileSync(path.join(out, "image_pipeline_embargo.v1.json"), "utf8"));
    assert.deepEqual(def, imagePipeline.toJSON());
    const { taskDefs } = JSON.parse(readFileSync(path.join(out, "taskdefs.json"), "utf8"));
    assert.deepEqual(taskDefs, imagePipeline.taskDefs());
  });

  test(
    "baton publish registers it; the workers run it; the embargo holds until the clock passes 3 days",
    { skip: !existsSync(CLI) && "packages/cli is not built" },
    async () => {
      const published = await baton(["publish", FLOW_FILE], env.address);
      assert.equal(published.code, 0, published.stderr + published.stdout);
      assert.match(published.stdout, /^image_pipeline_embargo: registered version 1$/m);
      assert.deepEqual(await client.getWorkflowDef("image_pipeline_embargo", 1), imagePipeline.toJSON());
      const again = await baton(["publish", FLOW_FILE], env.address);
      assert.match(again.stdout, /^image_pipeline_embargo: unchanged \(version 1\)$/m);

      const runId = await client.startWorkflow("image_pipeline_embargo", { src: "s3://in/cat.png", formats: ["webp", "avif"], channel: "#media" });
      // The workers do everything up to the embargo (3 days by the flow's inputTemplate).
      const waiting = await eventually(
        () => client.getWorkflow(runId),
        (run) => run.tasks.some((t) => t.referenceTaskName === "embargo" && t.status === "IN_PROGRESS"),
        "the run to reach the embargo",
      );
      assert.equal(waiting.tasks.find((t) => t.referenceTaskName === "publish_cdn")?.status, "COMPLETED");
      assert.deepEqual(told, []);

      await env.advance("2 days 23 hours");
      assert.equal((await client.getWorkflow(runId)).status, "RUNNING");
      await env.advance("1 hour");

      const run = await client.waitWorkflow(runId, 60_000);
      assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
      assert.deepEqual(run.output, {
        urls: ["https://cdn.example/cat.avif", "https://cdn.example/cat.webp"],
        width: 4032,
        notified: true,
      });
      assert.deepEqual(told, ["#media: renditions of s3://in/cat.png are live (https://cdn.example/cat.avif, https://cdn.example/cat.webp)"]);
      assert.deepEqual(
        run.tasks.map((t) => [t.referenceTaskName, t.status]),
        [
          ["ingest", "COMPLETED"],
          ["encode_jobs", "COMPLETED"],
          ["encode_all", "COMPLETED"],
          ["encode_0", "COMPLETED"],
          ["encode_1", "COMPLETED"],
          ["encode_all_join", "COMPLETED"],
          ["publish_cdn", "COMPLETED"],
          ["embargo", "COMPLETED"],
          ["notify", "COMPLETED"],
        ],
      );
    },
  );
});
