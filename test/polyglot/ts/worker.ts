// The TypeScript worker program of the polyglot benchmark, run as its own
// process like the Go and Java ones (node --import tsx test/polyglot/ts/worker.ts).
// Serves bench_noop_ts, whose output says when the handler got the task on
// the machine's wall clock, with sub-millisecond resolution.
//
// Environment: BATON_ADDRESS (required), POLY_WORKER_ID (default ts-<pid>),
// POLY_CONCURRENCY (default 32), POLY_EXIT_WITH_PARENT=1 (exit when stdin
// closes: the parent is gone). Prints {"event":"ready"} once started.
import { Worker } from "@baton/client";

if (process.env["POLY_EXIT_WITH_PARENT"] === "1") {
  process.stdin.on("end", () => process.exit(3));
  process.stdin.on("error", () => process.exit(3));
  process.stdin.resume();
}

const address = process.env["BATON_ADDRESS"];
if (!address) {
  console.error("BATON_ADDRESS is not set");
  process.exit(2);
}
const workerId = process.env["POLY_WORKER_ID"] || `ts-${process.pid}`;
const concurrency = Number(process.env["POLY_CONCURRENCY"] || 32);

// performance.now() anchored to the instant Date.now() ticks over: wall-clock
// time to a few microseconds. Re-anchored now and then, so a slewed wall
// clock cannot drift it.
let offset = 0;
function anchor(): void {
  const start = Date.now();
  let t = Date.now();
  while (t === start) t = Date.now();
  offset = t - performance.now();
}
anchor();
setInterval(anchor, 5000).unref();

const worker = new Worker({ address, workerId, minBackoffMs: 50, maxBackoffMs: 1000 });
worker.handle("bench_noop_ts", () => ({ receivedAtMs: performance.now() + offset }), { concurrency });
worker.start();
console.log(JSON.stringify({ event: "ready", workerId }));

const stop = () => {
  void worker.stop().then(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// Keeps the process alive while the worker's streams reconnect.
setInterval(() => {}, 1 << 30);
