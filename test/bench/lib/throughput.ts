// The figures the throughput scenario reports, worked out the same way for
// Baton and for each peer, so the side-by-side compares like with like.
import { round, type cpuMeter } from "./util.js";

/** What a `cpuMeter` measured. */
export type CpuUse = ReturnType<ReturnType<typeof cpuMeter>>;

/** The headline rates: tasks and runs per second over the whole measurement, starts per second while starting. */
export function throughputRates(p: { tasks: number; completedRuns: number; started: number; seconds: number; startSeconds: number }) {
  return {
    tasksPerSecond: round(p.tasks / p.seconds, 0),
    runsPerSecond: round(p.completedRuns / p.seconds, 0),
    seconds: round(p.seconds, 2),
    startsPerSecond: round(p.started / p.startSeconds, 0),
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
