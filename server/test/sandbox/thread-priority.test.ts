// Threads that run user code give way to the serving thread
// (src/sandbox/thread-priority.ts): on Linux each pool thread, and the fresh
// one started when an endless jq filter's thread was ended, runs at a lower
// priority than the process, and the serving thread keeps its own.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { createJq, createScriptEngine, JqError, ScriptError } from "../../src/sandbox/index.js";
import { USER_CODE_NICENESS } from "../../src/sandbox/thread-priority.js";

/** Each thread of this process's niceness, by thread id. */
function niceness(): Map<number, number> {
  const threads = new Map<number, number>();
  for (const tid of readdirSync("/proc/self/task")) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, "latin1");
    } catch {
      continue; // the thread ended meanwhile
    }
    // After the command name in parentheses come the fields from the 3rd on; the niceness is the 19th.
    threads.set(Number(tid), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]));
  }
  return threads;
}

const own = niceness().get(process.pid)!;
const lowered = Math.min(19, own + USER_CODE_NICENESS);
/** Threads started since `before` running at the lowered priority. */
const loweredSince = (before: Map<number, number>) => [...niceness()].filter(([tid, nice]) => !before.has(tid) && nice === lowered).length;

describe("user-code threads and the serving thread", { skip: process.platform !== "linux" && "thread priorities are per thread on Linux alone" }, () => {
  it("runs scripts on a thread of lower priority", async () => {
    const before = niceness();
    const engine = await createScriptEngine({ timeoutMs: 200 }, 1);
    try {
      assert.equal(await engine.evaluate("$.n + 1", { n: 1 }), 2);
      await assert.rejects(engine.evaluate("while (true) {}", {}), ScriptError);
      assert.equal(loweredSince(before), 1);
      assert.equal(niceness().get(process.pid), own, "the serving thread keeps its priority");
    } finally {
      await engine.close();
    }
  });

  it("runs jq on a thread of lower priority, and the fresh thread after an endless filter's was ended", async () => {
    const before = niceness();
    const jq = await createJq({ timeoutMs: 200 }, 1);
    try {
      assert.deepEqual((await jq.transform(".a", { a: [1] })).result, [1]);
      assert.equal(loweredSince(before), 1);
      const afterFirst = niceness();
      await assert.rejects(jq.transform("def f: f; f", null), JqError);
      assert.deepEqual((await jq.transform(".a", { a: [2] })).result, [2]);
      assert.equal(loweredSince(afterFirst), 1, "the thread started after the endless filter's was ended");
      assert.equal(niceness().get(process.pid), own);
    } finally {
      await jq.close();
    }
  });
});
