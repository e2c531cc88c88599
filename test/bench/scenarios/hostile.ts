// Health under a hostile tenant (issue 14, point 2): /healthz p99 while a
// tenant's runs spin scripts, run endless jq, loop over thousands of NOOP
// iterations, try a catastrophic regex and send quadratic JSON, with a
// well-behaved flow alongside; goal < 100 ms. The probes are the fault test's
// (test/faults/lib/hostile.ts). Beside the probe's figure, the server's own
// event-loop lag, which depends far less on the machine's other load.
import { loadavg } from "node:os";
import type { BatonClient } from "@baton/client";
import {
  HEALTH_GOAL_MS,
  attack,
  checkHostileRuns,
  gcPausesBetween,
  healthVerdict,
  politeLoad,
  pollHealth,
  registerHostileFlows,
  serverAnswerWaits,
  serverGcPauses,
  serverLoopLag,
} from "../../faults/lib/hostile.js";
import type { BenchOptions } from "../lib/types.js";
import { distribution, nowMs, round, sleep } from "../lib/util.js";

interface HostileEnv {
  deadline: number;
  clients: BatonClient[];
  /** http://host:port of each server's metrics port (/healthz, /metrics). */
  metricsBases: string[];
}

export function hostileBody(options: BenchOptions) {
  return async (env: HostileEnv) => {
    const { counts, log } = options;
    const client = env.clients[0]!;
    const base = env.metricsBases[0]!;
    const scale = { iterations: counts.hostileIterations, repeats: counts.hostileRepeats, regexAs: 30, jsonQuotes: counts.hostileJsonQuotes };
    await registerHostileFlows(client);

    // The well-behaved flow alone, then with the hostile runs.
    let health = pollHealth(`${base}/healthz`);
    let polite = politeLoad(client, 4);
    const quietMs = options.quick ? 2_000 : 10_000;
    await sleep(quietMs);
    const quietRuns = await polite.stop();
    const quiet = distribution(await health.stop());

    health = pollHealth(`${base}/healthz`);
    polite = politeLoad(client, 4);
    await serverLoopLag(`${base}/metrics`);
    const gcBefore = await serverGcPauses(`${base}/metrics`);
    const loadBefore = loadavg()[0]!;
    const t0 = nowMs();
    const { ids, jsonMs } = await attack(client, scale, Math.max(10_000, env.deadline - nowMs()));
    const hostileMs = nowMs() - t0;
    const loudRuns = await polite.stop();
    const loud = distribution(await health.stop());
    const lag = await serverLoopLag(`${base}/metrics`);
    const gc = gcPausesBetween(gcBefore, await serverGcPauses(`${base}/metrics`));
    const answers = await serverAnswerWaits(`${base}/metrics`);
    const gcTotal = Object.values(gc).reduce((sum, kind) => ({ count: sum.count + kind.count, ms: sum.ms + kind.ms }), { count: 0, ms: 0 });
    await checkHostileRuns(client, ids, scale);
    const load = `load average ${round(loadBefore, 1)} → ${round(loadavg()[0]!, 1)}`;
    log(
      `  hostile: ${healthVerdict(loud.p99)}; server event-loop lag p99 ${round(lag.p99, 1)} ms, max ${round(lag.max, 1)} ms; ` +
        `server GC ${gcTotal.count} pauses, ${gcTotal.ms} ms; answers that waited for room ${answers.waited}, refused ${answers.refused}; ${load}`,
    );
    return {
      metrics: {
        healthP99Ms: loud.p99,
        healthP50Ms: loud.p50,
        healthMaxMs: loud.max,
        healthP99QuietMs: quiet.p99,
        serverLoopLagP99Ms: round(lag.p99, 1),
        serverLoopLagMaxMs: round(lag.max, 1),
        politeRunsPerSecondQuiet: round(quietRuns / (quietMs / 1000), 1),
        politeRunsPerSecondHostile: round(loudRuns / (hostileMs / 1000), 1),
        hostileSeconds: round(hostileMs / 1000, 1),
        jsonUpdateMaxMs: round(Math.max(...jsonMs), 0),
        serverGcPauses: gcTotal.count,
        serverGcPauseMs: gcTotal.ms,
        answersWaited: answers.waited,
        answersRefused: answers.refused,
      },
      details: {
        goalMs: HEALTH_GOAL_MS,
        goalMet: loud.p99 < HEALTH_GOAL_MS,
        healthAnswers: loud.n,
        gcPausesByKind: gc,
        loadAverage1m: [round(loadBefore, 1), round(loadavg()[0]!, 1)],
        load: `${scale.repeats}x (3 spinning scripts, endless jq, ${scale.iterations} NOOP iterations, regex on ${scale.regexAs} a's, ${scale.jsonQuotes} \\" JSON) + 4 polite callers`,
      },
    };
  };
}
