// JSON_JQ_TRANSFORM over a large input: the server's own jq (jq 1.7 in
// WebAssembly, in a worker thread, server/src/sandbox/jq.ts) given about 1 MB
// and 4 MB of items (less with --scale), in this process, with no server or
// database. A filter that keeps a count and one that echoes every item; the
// time of 4 MB against 1 MB shows how far from linear the copying in and out is.
import { createJq } from "../../../server/src/sandbox/index.js";
import type { BenchOptions, ScenarioResult } from "../lib/types.js";
import { distribution, nowMs, round } from "../lib/util.js";

const items = (n: number) => ({ items: Array.from({ length: n }, (_, i) => ({ id: i, name: `item-${i}` })) });

export async function jqScenario(options: BenchOptions): Promise<ScenarioResult> {
  const t0 = nowMs();
  // A long limit: the figure is the time, not whether it fits the server's default.
  const jq = await createJq({ timeoutMs: 120_000 });
  try {
    const repeats = options.quick ? 3 : 10;
    const time = async (input: object, filter: string) => {
      await jq.transform(filter, input as never); // warm-up
      const ms: number[] = [];
      for (let i = 0; i < repeats; i++) {
        const start = nowMs();
        await jq.transform(filter, input as never);
        ms.push(nowMs() - start);
      }
      return distribution(ms).p50;
    };
    const small = items(options.counts.jqItems); // 30,000: about 1 MB of JSON
    const large = items(options.counts.jqItems * 4);
    const countMs = await time(small, "[.items[] | select(.id % 2 == 0) | .name] | length");
    const echoMs = await time(small, ".items");
    const echoLargeMs = await time(large, ".items");
    const mb = JSON.stringify(small).length / 1e6;
    options.log(
      `  jq: ${round(mb, 2)} MB echoed in ${round(echoMs, 1)} ms, 4 times as much in ${round(echoLargeMs, 1)} ms (${round(echoLargeMs / echoMs, 2)}x)`,
    );
    return {
      scenario: "jq",
      system: "baton",
      status: "ok",
      metrics: {
        echoMs: round(echoMs, 1),
        countMs: round(countMs, 1),
        echoLargeMs: round(echoLargeMs, 1),
        sizeRatio: round(echoLargeMs / echoMs, 2),
        echoMbPerSecond: round(mb / (echoMs / 1000), 1),
      },
      details: { inputBytes: JSON.stringify(small).length, largeInputBytes: JSON.stringify(large).length, repeats, statistic: "p50" },
      seconds: round((nowMs() - t0) / 1000, 1),
    };
  } finally {
    await jq.close();
  }
}
