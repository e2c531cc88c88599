// Health under a hostile tenant (issue 14, point 2): /healthz p99 while a
// tenant's runs spin scripts, run endless jq, loop over thousands of NOOP
// iterations, try a catastrophic regex and send quadratic JSON, with a
// well-behaved flow alongside; goal < 100 ms. The probes are the fault test's
// (test/faults/lib/hostile.ts). Beside the probe's figure, the server's own
// event-loop lag, which depends far less on the machine's other load. Then a
// leg of its own: large publishes, several definitions near the 4 MiB limit
// at once, which the serving thread once parsed, checked and hashed itself;
// then the same over Conductor's REST API, whose bodies it once parsed too;
// and one of wide runs: dynamic forks of thousands of branches started, and
// read whole by several callers at once.
import { loadavg } from "node:os";
import { VersionPolicy } from "@baton/protocol";
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
  withOmittedSamples,
} from "../../faults/lib/hostile.js";
import { FANOUT, fanoutInput } from "../lib/baton.js";
import type { BenchOptions } from "../lib/types.js";
import { distribution, nowMs, round, sleep } from "../lib/util.js";

/** Large publishes sent at once in the large-publishes leg, a round at a time. */
const LARGE_PUBLISHES = 4;
/** Their definitions' size: the server's limit (4 MiB) less room for the name and description. */
const LARGE_DEFINITION_BYTES = 4 * 1024 * 1024 - 64 * 1024;

/** A definition of about `bytes` of JSON: one WAIT task holding a constant of many small objects (each parsed, walked and hashed when it is published). */
function largeDefinition(name: string, bytes: number): { name: string; version: number; schemaVersion: number; description: string; tasks: object[] } {
  const items: object[] = [];
  for (let i = 0, size = 0; size < bytes; i++) {
    const item = { id: i, label: `item number ${i}`, on: i % 2 === 0, tags: ["a", "b"] };
    items.push(item);
    size += JSON.stringify(item).length + 1;
  }
  return {
    name,
    version: 1,
    schemaVersion: 2,
    description: "",
    tasks: [{ name: "hold", taskReferenceName: "hold", type: "WAIT", inputParameters: { items } }],
  };
}

/** How a leg publishes a definition's text. */
interface Publisher {
  publish(definitionJson: string): Promise<unknown>;
  /** Whether each round's definitions give their version (its number), else all give 1. */
  versioned: boolean;
}

/**
 * `rounds` rounds of LARGE_PUBLISHES publishes at once (each round a new
 * version: a changed description) through `publisher` while /healthz is
 * polled: its answers' latencies, and the rounds' time.
 */
async function largePublishes(publisher: Publisher, prefix: string, healthUrl: string, rounds: number): Promise<{ latencies: number[]; ms: number }> {
  const def = largeDefinition(prefix, LARGE_DEFINITION_BYTES);
  const texts = Array.from({ length: rounds }, (_, round) =>
    Array.from({ length: LARGE_PUBLISHES }, (_, i) =>
      JSON.stringify({ ...def, name: `${prefix}_${i}`, version: publisher.versioned ? round + 1 : 1, description: `round ${round}` }),
    ),
  );
  const health = pollHealth(healthUrl);
  const t0 = nowMs();
  for (const round of texts) await Promise.all(round.map((text) => publisher.publish(text)));
  const ms = nowMs() - t0;
  return { latencies: await health.stop(), ms };
}

/** Branches of each dynamic fork in the wide-runs leg, and readers of each at once. */
const WIDE_BRANCHES = 5_000;
const WIDE_READERS = 4;

/**
 * `rounds` runs of a dynamic fork of WIDE_BRANCHES worker tasks (no worker
 * takes them: the run stays wide), each started and then read with its tasks
 * by WIDE_READERS callers at once, while /healthz is polled.
 */
async function wideRuns(client: BatonClient, healthUrl: string, rounds: number): Promise<{ latencies: number[]; ms: number }> {
  // The bench's fan-out flow; its branches' type (bench_item) has no worker here.
  await client.registerWorkflowDef(FANOUT);
  const input = fanoutInput(WIDE_BRANCHES);
  const health = pollHealth(healthUrl);
  const t0 = nowMs();
  for (let round = 0; round < rounds; round++) {
    const id = await client.startWorkflow(FANOUT.name, input);
    await Promise.all(Array.from({ length: WIDE_READERS }, () => client.getWorkflow(id)));
    await client.terminateWorkflow(id, "bench: wide run read");
  }
  const ms = nowMs() - t0;
  return { latencies: await health.stop(), ms };
}

/** Publishes over gRPC, NEXT_IF_CHANGED: each round is the next version. */
const grpcPublisher = (client: BatonClient): Publisher => ({
  publish: (definitionJson) => client.metadata.registerWorkflowDef({ definitionJson, versionPolicy: VersionPolicy.NEXT_IF_CHANGED }),
  versioned: false,
});

/** Publishes over Conductor's REST API (POST /api/metadata/workflow), each round as the version it gives. */
const restPublisher = (conductorBase: string): Publisher => ({
  publish: async (definitionJson) => {
    const answer = await fetch(`${conductorBase}/api/metadata/workflow`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: definitionJson,
    });
    if (answer.status !== 200) throw new Error(`REST publish answered ${answer.status}: ${(await answer.text()).slice(0, 500)}`);
  },
  versioned: true,
});

interface HostileEnv {
  deadline: number;
  clients: BatonClient[];
  /** http://host:port of each server's metrics port (/healthz, /metrics). */
  metricsBases: string[];
  /** http://host:port of each server's Conductor REST port. */
  conductorBases: string[];
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
    const loudLatencies = await health.stop();
    const loud = distribution(loudLatencies);
    const loudCorrected = distribution(withOmittedSamples(loudLatencies));
    const lag = await serverLoopLag(`${base}/metrics`);
    const gc = gcPausesBetween(gcBefore, await serverGcPauses(`${base}/metrics`));
    const answers = await serverAnswerWaits(`${base}/metrics`);
    const gcTotal = Object.values(gc).reduce((sum, kind) => ({ count: sum.count + kind.count, ms: sum.ms + kind.ms }), { count: 0, ms: 0 });
    await checkHostileRuns(client, ids, scale);
    const load = `load average ${round(loadBefore, 1)} → ${round(loadavg()[0]!, 1)}`;
    log(
      `  hostile: ${healthVerdict(loud.p99)} (corrected for the samples stalls swallowed: p99 ${loudCorrected.p99} ms); ` +
        `server event-loop lag p99 ${round(lag.p99, 1)} ms, max ${round(lag.max, 1)} ms; ` +
        `server GC ${gcTotal.count} pauses, ${gcTotal.ms} ms; answers that waited for room ${answers.waited}, refused ${answers.refused}; ${load}`,
    );

    // Large publishes, a leg of their own: the figures above stay comparable with runs before it.
    const largeRounds = scale.repeats;
    const largeLeg = async (over: string, publisher: Publisher, prefix: string) => {
      await serverLoopLag(`${base}/metrics`); // the lag is measured from here
      const large = await largePublishes(publisher, prefix, `${base}/healthz`, largeRounds);
      const lag = await serverLoopLag(`${base}/metrics`);
      const health = distribution(large.latencies);
      const corrected = distribution(withOmittedSamples(large.latencies));
      log(
        `  large publishes ${over} (${largeRounds}x ${LARGE_PUBLISHES} at once of ${round(LARGE_DEFINITION_BYTES / 1024 / 1024, 2)} MiB): ` +
          `/healthz p99 ${health.p99} ms, corrected ${corrected.p99} ms, max ${health.max} ms; ` +
          `server event-loop lag p99 ${round(lag.p99, 1)} ms, max ${round(lag.max, 1)} ms; ${round(large.ms / largeRounds, 0)} ms a round`,
      );
      return { health, corrected, lag, roundMs: round(large.ms / largeRounds, 0) };
    };
    const large = await largeLeg("over gRPC", grpcPublisher(client), "large_publish");
    const largeRest = await largeLeg("over REST", restPublisher(env.conductorBases[0]!), "large_rest_publish");

    // Wide runs, a leg of their own too.
    const wide = await wideRuns(client, `${base}/healthz`, largeRounds);
    const wideLag = await serverLoopLag(`${base}/metrics`);
    const wideHealth = distribution(wide.latencies);
    const wideCorrected = distribution(withOmittedSamples(wide.latencies));
    log(
      `  wide runs (${largeRounds}x a dynamic fork of ${WIDE_BRANCHES} started, read whole by ${WIDE_READERS} at once): ` +
        `/healthz p99 ${wideHealth.p99} ms, corrected ${wideCorrected.p99} ms, max ${wideHealth.max} ms; ` +
        `server event-loop lag p99 ${round(wideLag.p99, 1)} ms, max ${round(wideLag.max, 1)} ms; ${round(wide.ms / largeRounds, 0)} ms a round`,
    );
    return {
      metrics: {
        healthP99Ms: loud.p99,
        healthP50Ms: loud.p50,
        healthMaxMs: loud.max,
        healthP99CorrectedMs: loudCorrected.p99,
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
        largePublishHealthP99Ms: large.health.p99,
        largePublishHealthP99CorrectedMs: large.corrected.p99,
        largePublishHealthMaxMs: large.health.max,
        largePublishLoopLagMaxMs: round(large.lag.max, 1),
        largePublishRoundMs: large.roundMs,
        largeRestPublishHealthP99Ms: largeRest.health.p99,
        largeRestPublishHealthP99CorrectedMs: largeRest.corrected.p99,
        largeRestPublishHealthMaxMs: largeRest.health.max,
        largeRestPublishLoopLagMaxMs: round(largeRest.lag.max, 1),
        largeRestPublishRoundMs: largeRest.roundMs,
        wideRunHealthP99Ms: wideHealth.p99,
        wideRunHealthP99CorrectedMs: wideCorrected.p99,
        wideRunHealthMaxMs: wideHealth.max,
        wideRunLoopLagMaxMs: round(wideLag.max, 1),
        wideRunRoundMs: round(wide.ms / largeRounds, 0),
      },
      details: {
        goalMs: HEALTH_GOAL_MS,
        goalMet: loud.p99 < HEALTH_GOAL_MS,
        healthAnswers: loud.n,
        gcPausesByKind: gc,
        loadAverage1m: [round(loadBefore, 1), round(loadavg()[0]!, 1)],
        largePublishes: `${largeRounds}x ${LARGE_PUBLISHES} at once over gRPC (NEXT_IF_CHANGED) and over REST, ${LARGE_DEFINITION_BYTES} bytes each`,
        load: `${scale.repeats}x (3 spinning scripts, endless jq, ${scale.iterations} NOOP iterations, regex on ${scale.regexAs} a's, ${scale.jsonQuotes} \\" JSON) + 4 polite callers`,
      },
    };
  };
}
