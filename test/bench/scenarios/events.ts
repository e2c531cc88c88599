// The events scenario: the event bus. PublishEvent's rate from 32 callers at
// once (its events have no handler), then how fast the consumer works off a
// backlog: events written to the bus in one statement (as after a burst, or
// while every replica was down), four publishers, first with no handler, then
// with a handler that starts a run for each. Events handled per second from
// the wake-up until the bus is empty; every run checked to be there once.
// Baton alone: the peers' harness has no event bus.
import pg from "pg";
import type { BatonClient } from "@baton/client";
import type { BenchOptions } from "../lib/types.js";
import { nowMs, pool, round, until } from "../lib/util.js";

const STARTED = {
  name: "bench_event_started",
  version: 1,
  schemaVersion: 2,
  tasks: [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }],
};
const STARTER = {
  name: "bench_event_starter",
  event: "bench:start",
  active: true,
  actions: [{ action: "start_workflow" as const, start_workflow: { name: STARTED.name, input: { n: "${n}" } } }],
};
/** PublishEvent calls in flight at once. */
const PUBLISHERS = 32;

interface EventsEnv {
  deadline: number;
  databaseUrl: string;
  clients: BatonClient[];
}

export function eventsBody(options: BenchOptions) {
  return async (env: EventsEnv) => {
    const { counts, log } = options;
    const client = env.clients[0]!;
    const left = () => Math.round(Math.max(1000, env.deadline - nowMs()));
    const db = new pg.Client({ connectionString: env.databaseUrl, application_name: "bench-events" });
    await db.connect();
    const onBus = async () => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM baton.events")).rows[0]!.n;
    try {
      await client.registerWorkflowDef(STARTED);
      await client.registerEventHandler(STARTER);

      const t0 = nowMs();
      await pool(counts.eventsPublished, PUBLISHERS, (i) => client.publishEvent("bench:none", { n: i }));
      const publishPerSecond = counts.eventsPublished / ((nowMs() - t0) / 1000);
      if (!(await until(async () => (await onBus()) === 0, left()))) throw new Error("the published events were not all handled in time");
      log(`  ${counts.eventsPublished} events published by ${PUBLISHERS} callers at once: ${round(publishPerSecond, 0)}/s`);

      /** Writes `n` events named `name` in one statement, wakes the consumer, and times it until the bus is empty. */
      const backlog = async (name: string, n: number) => {
        await db.query(
          `INSERT INTO baton.events (name, sink, payload, created_at, publisher)
           SELECT $1, $1, jsonb_build_object('n', g), 0, 'bench-' || (g % 4) FROM generate_series(1, $2) g`,
          [name, n],
        );
        const start = nowMs();
        await client.publishEvent("bench:wake", {});
        if (!(await until(async () => (await onBus()) === 0, left(), 20))) throw new Error(`the backlog of ${name} was not handled in time`);
        const perSecond = (n + 1) / ((nowMs() - start) / 1000);
        log(`  a backlog of ${n} ${name} events: ${round(perSecond, 0)} handled/s`);
        return perSecond;
      };
      const noHandlerPerSecond = await backlog("bench:none", counts.eventsBacklog);
      const startPerSecond = await backlog("bench:start", counts.eventsStarts);
      const { rows } = await db.query<{ runs: number; distinct: number }>(
        "SELECT count(*)::int AS runs, count(DISTINCT input->>'n')::int AS distinct FROM baton.runs WHERE name = $1",
        [STARTED.name],
      );
      const runs = rows[0]!;
      const exact = runs.runs === counts.eventsStarts && runs.distinct === counts.eventsStarts;
      return {
        metrics: {
          publishPerSecond: round(publishPerSecond, 0),
          noHandlerPerSecond: round(noHandlerPerSecond, 0),
          startPerSecond: round(startPerSecond, 0),
        },
        details: { published: counts.eventsPublished, publishers: PUBLISHERS, backlog: counts.eventsBacklog, starts: counts.eventsStarts, runs },
        ...(exact
          ? {}
          : { status: "failed" as const, reason: `${counts.eventsStarts} events with a start made ${runs.runs} runs (${runs.distinct} distinct)` }),
      };
    } finally {
      await db.end();
    }
  };
}
