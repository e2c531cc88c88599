// graphile-worker's runner in a process of its own, as it is deployed (its
// CLI or `run()` in a worker service), apart from the driver's load
// generator. The task list is the bench's flows as jobs; it reports
// completions and dispatch stamps to the driver over stdio
// (peers/worker-process.ts has the protocol).
//
//   node --import tsx graphile-worker-process.ts '{"modulesDir": "...", "databaseUrl": "..."}'
import { createInterface } from "node:readline";
import { anchorWallClock, wallMs } from "../lib/util.js";
import { importFrom } from "./driver.js";
import { GRAPHILE_SETTINGS, type GraphileWorker, type Helpers, type Payload } from "./graphile-shared.js";

const { modulesDir, databaseUrl } = JSON.parse(process.argv[2] ?? "{}") as { modulesDir: string; databaseUrl: string };
const gw = await importFrom<GraphileWorker>(modulesDir, "graphile-worker");

const TYPES = ["bench_a", "bench_b", "bench_c", "bench_item"] as const;
const counts = [0, 0, 0, 0];
let stamping = false;
const out: string[] = [];
const stamp = (helpers: Helpers) => {
  if (stamping) out.push(`S ${(wallMs() - (helpers.job.run_at.getTime() + 0.5)).toFixed(3)}`);
};
const count = (type: (typeof TYPES)[number]) => counts[TYPES.indexOf(type)]!++;

const taskList = {
  bench_a: async (p: Payload, helpers: Helpers) => {
    stamp(helpers);
    count("bench_a");
    await helpers.addJob("bench_b", { ...p, n: p.n + 1 });
  },
  bench_b: async (p: Payload, helpers: Helpers) => {
    stamp(helpers);
    count("bench_b");
    await helpers.addJob("bench_c", { ...p, n: p.n + 1 });
  },
  bench_c: async (p: Payload, helpers: Helpers) => {
    stamp(helpers);
    count("bench_c");
    if (p.notify && p.id) await helpers.query("SELECT pg_notify('bench_done', $1)", [p.id]);
  },
  bench_fork: async (p: Payload, helpers: Helpers) => {
    await helpers.query(`SELECT graphile_worker.add_job('bench_item', json_build_object('fanout', $1::text)) FROM generate_series(1, $2::int)`, [
      p.fanout,
      p.count,
    ]);
  },
  bench_item: async (p: Payload, helpers: Helpers) => {
    count("bench_item");
    const { rows } = await helpers.query("UPDATE bench_fanout SET remaining = remaining - 1 WHERE id = $1 RETURNING remaining", [p.fanout]);
    if (rows[0]?.["remaining"] === 0) await helpers.addJob("bench_join", { fanout: p.fanout });
  },
  bench_join: async (p: Payload, helpers: Helpers) => {
    await helpers.query("SELECT pg_notify('bench_done', $1)", [p.fanout]);
  },
};

const runner = await gw.run({
  connectionString: databaseUrl,
  noHandleSignals: true,
  taskList,
  logger: new gw.Logger(() => (level, message) => {
    if (level === "error") console.error(`graphile-worker: ${message}`);
  }),
  preset: { worker: GRAPHILE_SETTINGS },
});

// Output is written in batches every 5 ms (completion counts when they changed), not per job.
let last = "";
const write = () => {
  const c = `C ${counts.join(" ")}`;
  if (c !== last) out.push(c);
  last = c;
  if (out.length) process.stdout.write(out.splice(0).join("\n") + "\n");
};
const ticker = setInterval(write, 5);
process.stdout.write("READY\n");

createInterface({ input: process.stdin })
  .on("line", (line) => {
    const command = line.trim();
    if (command === "stamps on") {
      anchorWallClock();
      stamping = true;
    } else if (command === "stamps off") stamping = false;
    else if (command === "flush") {
      write();
      process.stdout.write("F\n");
    }
  })
  // stdin closed: the driver is done (or gone).
  .on("close", () => {
    clearInterval(ticker);
    void runner.stop().finally(() => process.exit(0));
  });
