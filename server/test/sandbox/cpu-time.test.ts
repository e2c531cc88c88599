// Limits on user code count its thread's CPU time (src/cpu-time.ts): the
// deadline's logic on clocks the test moves (a thread that spins, one that
// waits for a core, one that never runs), and the CPU time Linux shows,
// read by a thread of itself and by another thread of it.
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { describe, it } from "node:test";
import { backstopMs, CpuDeadline, overrunText, startNow, taskCpuMs, threadCpuMs, threadId, wallMs, type Overrun } from "../../src/cpu-time.js";

/**
 * A thread on clocks the test moves: each millisecond of wall time it gets
 * `share` of a core, and the deadline is asked (as QuickJS's interrupt handler
 * asks) until it is over or `untilMs` have passed. Returns when and why it
 * was over, and how often the CPU clock was read.
 */
function runThread(limitMs: number, share: number, untilMs: number, cpuShown = true) {
  let wall = 1_000_000;
  let cpu = 5_000;
  let reads = 0;
  const deadline = new CpuDeadline(
    limitMs,
    { wallMs: wall, cpuMs: cpuShown ? cpu : undefined },
    () => {
      reads++;
      // Ticks of 10 ms, as /proc counts them.
      return Math.floor(cpu / 10) * 10;
    },
    { wall: () => wall },
  );
  const start = wall;
  let overrun: Overrun | undefined;
  while (wall - start < untilMs && !(overrun = deadline.overrun())) {
    wall += 1;
    cpu += share;
  }
  return { overrun, atMs: wall - start, reads };
}

describe("a CPU-time deadline", () => {
  it("stops a thread that spins at its CPU time, reading the CPU clock about once", () => {
    const { overrun, atMs, reads } = runThread(1000, 1, 60_000);
    assert.equal(overrun, "cpu");
    assert.ok(atMs > 1000 && atMs <= 1030, `over at ${atMs} ms`);
    assert.ok(reads <= 3, `${reads} reads`);
  });

  it("lets a thread that waits for a core run past its limit in wall time, up to its CPU time", () => {
    // A quarter of a core: its 1,000 ms of CPU time take 4 s.
    const { overrun, atMs, reads } = runThread(1000, 0.25, 60_000);
    assert.equal(overrun, "cpu");
    assert.ok(atMs > 4000 && atMs <= 4100, `over at ${atMs} ms`);
    // Each read waits for what was left of the limit to be used up at full speed: a few dozen reads, not one per interrupt.
    assert.ok(reads <= 40, `${reads} reads`);
  });

  it("stops a thread that hardly runs at the wall-clock backstop, ten times its limit", () => {
    const idle = runThread(1000, 0, 60_000);
    assert.equal(idle.overrun, "backstop");
    assert.ok(idle.atMs > 10_000 && idle.atMs <= 10_010, `over at ${idle.atMs} ms`);
    assert.ok(idle.reads <= 12, `${idle.reads} reads`);
    // Just under a tenth of a core: the backstop comes first; above, the CPU time.
    assert.equal(runThread(1000, 0.09, 60_000).overrun, "backstop");
    assert.equal(runThread(1000, 0.12, 60_000).overrun, "cpu");
  });

  it("is not over before its limit however the thread runs", () => {
    for (const share of [0, 0.5, 1]) assert.equal(runThread(1000, share, 999).overrun, undefined);
  });

  it("counts wall time, at the limit, where CPU time is not shown", () => {
    const { overrun, atMs, reads } = runThread(1000, 0.1, 60_000, false);
    assert.equal(overrun, "wall");
    assert.equal(atMs, 1001);
    assert.equal(reads, 0);
  });

  it("falls back to wall time at the limit when the thread's CPU time can no longer be read", () => {
    let wall = 0;
    const deadline = new CpuDeadline(100, { wallMs: 0, cpuMs: 0 }, () => undefined, { wall: () => wall });
    wall = 100;
    assert.equal(deadline.overrun(), undefined);
    wall = 101;
    assert.equal(deadline.overrun(), "wall");
  });

  it("has a backstop under an evaluation's 60 s lease", () => {
    assert.equal(backstopMs(1000), 10_000);
    assert.equal(backstopMs(2000), 20_000);
    assert.equal(backstopMs(10_000), 50_000);
    assert.equal(backstopMs(60_000), 60_000);
  });

  it("says which limit stopped the code", () => {
    assert.equal(overrunText("cpu", 1000), "used more than its 1000 ms of CPU time");
    assert.equal(
      overrunText("backstop", 1000),
      "was still running after 10000 ms by the wall clock, short of its 1000 ms of CPU time (the machine is too busy to run it)",
    );
    assert.equal(overrunText("wall", 1000), "ran longer than its 1000 ms limit");
  });
});

const linux = process.platform === "linux" ? false : "per-thread CPU time is read from Linux's /proc";

/** A worker thread that reports its kernel thread id, then spins or waits until told to stop. */
async function thread(kind: "spin" | "wait") {
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const code = `
    const { parentPort, workerData: stop } = require("node:worker_threads");
    const tid = Number(/task\\/(\\d+)$/.exec(require("node:fs").readlinkSync("/proc/thread-self"))[1]);
    parentPort.postMessage(tid);
    if (${JSON.stringify(kind)} === "wait") Atomics.wait(stop, 0, 0);
    else while (Atomics.load(stop, 0) === 0) {}
  `;
  const worker = new Worker(code, { eval: true, workerData: stop });
  const tid = await new Promise<number>((resolve) => worker.once("message", resolve));
  return {
    tid,
    async end() {
      Atomics.store(stop, 0, 1);
      Atomics.notify(stop, 0);
      await new Promise((resolve) => worker.once("exit", resolve));
    },
  };
}

describe("a thread's CPU time", { skip: linux }, () => {
  it("grows as the thread runs, read by the thread itself and by another", () => {
    const start = startNow();
    assert.ok(start.cpuMs !== undefined);
    let now = start.cpuMs;
    while (now - start.cpuMs < 100) now = threadCpuMs()!;
    assert.ok(taskCpuMs(threadId()!)! >= start.cpuMs + 100, "another thread's view of this one lags");
  });

  it("grows while a pool-like thread spins", async () => {
    const spinner = await thread("spin");
    try {
      const first = taskCpuMs(spinner.tid)!;
      let now = first;
      while (now - first < 100) {
        await new Promise((r) => setTimeout(r, 10));
        now = taskCpuMs(spinner.tid)!;
      }
    } finally {
      await spinner.end();
    }
  });

  it("stands still while the thread waits, so a deadline does not count the wait", async () => {
    const waiter = await thread("wait");
    try {
      const first = taskCpuMs(waiter.tid)!;
      // A backstop out of reach, however late this busy machine's timer fires.
      const deadline = new CpuDeadline(50, { wallMs: wallMs(), cpuMs: first }, () => taskCpuMs(waiter.tid), { backstopMs: 3_600_000 });
      await new Promise((r) => setTimeout(r, 300));
      // Six times its limit in wall time: it spent nothing, so it is not over.
      assert.equal(deadline.overrun(), undefined);
      assert.ok(taskCpuMs(waiter.tid)! - first <= 20, "a waiting thread spent CPU time");
    } finally {
      await waiter.end();
    }
  });
});
