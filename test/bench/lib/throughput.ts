// The figures the throughput scenario reports, worked out the same way for
// Baton and for each peer, so the side-by-side compares like with like.
import { nowMs, pool, round, sleep, type cpuMeter } from "./util.js";

/** What a `cpuMeter` measured. */
export type CpuUse = ReturnType<ReturnType<typeof cpuMeter>>;

/** Tasks in one run of the throughput flow (seq3: three worker tasks in a row, on Baton and on every peer). */
const TASKS_PER_RUN = 3;

/**
 * Starts `runs` runs, `concurrency` calls at a time, in a closed loop: at most
 * `window` runs started and not yet finished (`finished` counts those since
 * the measurement began), so the figure is the steady state, not a queue
 * growing as fast as starts go in. Starting stops a minute before `deadline`,
 * so a slow machine still yields figures (marked partial). Returns how many
 * runs it started.
 */
export async function startInClosedLoop(p: {
  runs: number;
  concurrency: number;
  window: number;
  deadline: number;
  finished: () => number | Promise<number>;
  start: (i: number) => Promise<unknown>;
}): Promise<number> {
  let started = 0;
  await pool(p.runs, p.concurrency, async (i) => {
    while (nowMs() <= p.deadline - 60_000 && started - (await p.finished()) >= p.window) await sleep(2);
    if (nowMs() > p.deadline - 60_000) return;
    await p.start(i);
    started++;
  });
  return started;
}

/**
 * The headline rates (tasks and runs per second over the whole measurement,
 * starts per second while starting) and the counts they come from.
 */
export function throughputFigures(p: { runs: number; started: number; completedRuns: number; seconds: number; startSeconds: number }) {
  const tasks = TASKS_PER_RUN * p.completedRuns;
  return {
    tasks,
    metrics: {
      tasksPerSecond: round(tasks / p.seconds, 0),
      runsPerSecond: round(p.completedRuns / p.seconds, 0),
      seconds: round(p.seconds, 2),
      startsPerSecond: round(p.started / p.startSeconds, 0),
    },
    counts: { runs: p.runs, started: p.started, completedRuns: p.completedRuns, tasks },
  };
}

/** CPU milliseconds per task of each part the meter saw (the report's CPU line reads these names). */
export function cpuMsPerTask(cpuUse: CpuUse, tasks: number) {
  return {
    serverCpuMsPerTask: round((1000 * cpuUse.serverCpuSeconds) / tasks, 3),
    postgresCpuMsPerTask: round((1000 * cpuUse.postgresCpuSeconds) / tasks, 3),
    benchProcessCpuMsPerTask: round((1000 * cpuUse.benchProcessCpuSeconds) / tasks, 3),
    ...(cpuUse.workerCpuSeconds !== undefined ? { workerCpuMsPerTask: round((1000 * cpuUse.workerCpuSeconds) / tasks, 3) } : {}),
  };
}
