// The bench's Baton server on a fast clock, for the retention scenario: the
// server main.ts starts, with the options main.ts reads from the environment,
// on a clock that runs BATON_BENCH_CLOCK_RATE times as fast as the machine's,
// so several retention periods (an hour at the least) pass in minutes. The
// clock runs, it does not jump: the server's loops keep their real-time
// cadence and see time go by faster. What the server times by its clock and
// the scenario does not test is stretched by the same factor so it lasts as
// long in real time as in production: a dispatch stream's age limit (an hour).
// BATON_BENCH_REAPER_INTERVAL_MS: the reaper's real time between passes
// (the server's default is 60 s). BATON_BENCH_SERVER_MAIN (the bench's A/B
// variable, lib/baton.ts) names another build's server/dist/main.js: its
// package (the index.js beside it) is the one started.
//
//   node --import tsx test/bench/lib/clock-server.ts   (env as for server/dist/main.js)
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { Clock } from "@baton/server";

const otherMain = process.env["BATON_BENCH_SERVER_MAIN"];
const { createLogger, serverOptionsFromEnv, startServer } = (
  otherMain ? await import(pathToFileURL(path.join(path.dirname(path.resolve(otherMain)), "index.js")).href) : await import("@baton/server")
) as typeof import("@baton/server");

const rate = Number(process.env["BATON_BENCH_CLOCK_RATE"] ?? "1");
const reaperIntervalMs = Number(process.env["BATON_BENCH_REAPER_INTERVAL_MS"] ?? "60000");
const url = process.env["BATON_DATABASE_URL"];
if (!url || !(rate >= 1) || !(reaperIntervalMs > 0)) {
  console.error("BATON_DATABASE_URL is required; BATON_BENCH_CLOCK_RATE must be at least 1, BATON_BENCH_REAPER_INTERVAL_MS positive");
  process.exit(2);
}
const machineNow = () => performance.timeOrigin + performance.now();
const origin = machineNow();
const clock: Clock = {
  now: () => Math.floor(origin + (machineNow() - origin) * rate),
  onAdvance: () => () => {},
};

const fromEnv = serverOptionsFromEnv(process.env);
const server = await startServer({
  host: "127.0.0.1",
  ...fromEnv,
  databaseUrl: url,
  logger: createLogger(),
  clock,
  limits: { ...fromEnv.limits, maxStreamAgeMs: 3_600_000 * rate },
  retention: { ...fromEnv.retention, intervalMs: reaperIntervalMs },
});
console.log(`listening ${server.address}`);
// The bench stops it with SIGTERM (stopChild), once.
process.once("SIGTERM", () => void server.close().then(() => process.exit(0)));
