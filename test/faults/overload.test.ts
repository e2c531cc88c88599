// Overload: starts at ten times the rate the server sustains, with thousands
// of idle worker streams open. What should happen: early refusals
// (RESOURCE_EXHAUSTED with a retry hint), memory flat, and recovery on its
// own. What does happen is measured and printed; missing behaviour is a todo.
// Whether that rate overloads the server depends on how busy the machine was
// while the rate was measured: the refusals are asserted on a burst of more
// starts at once than the server keeps in progress.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { BatonClient } from "@baton/client";
import { createClient, grpc, WorkflowService } from "@baton/protocol";
import { freshDatabase, stopCluster } from "../support/database.js";
import { percentile, scale, sleep } from "./lib/config.js";
import { registerFlows } from "./lib/flows.js";
import { figures, report } from "./lib/report.js";
import { startServerProcess, stopServer } from "./lib/server.js";

after(() => stopCluster());

interface Outcome {
  codes: Map<string, number>;
  /** What the answers other than OK and RESOURCE_EXHAUSTED said, by message. */
  details: Map<string, number>;
  latencies: number[];
  /** RESOURCE_EXHAUSTED answers that say when to retry. */
  retryHints: number;
}

let measured:
  | {
      overloadMs: number;
      exhausted: number;
      retryHints: number;
      rssBaseKb: number;
      rssPeakKb: number;
      rssFirstHalfKb: number;
      rssSecondHalfKb: number;
      rssAfterKb: number;
    }
  | undefined;

/** Closed loop: as fast as `concurrency` callers go, for `ms`; returns acknowledged starts per second. */
async function sustainable(client: BatonClient, ms: number, concurrency: number): Promise<number> {
  let ok = 0;
  const end = Date.now() + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        try {
          await client.workflows.startWorkflow({ name: "fault_child", inputJson: '{"x":1}' }, { deadline: 10_000 });
          ok++;
        } catch {
          // counted as not acknowledged
        }
      }
    }),
  );
  return ok / (ms / 1000);
}

/** Counts one start's answer into `out`. */
function record(out: Outcome, start: Promise<unknown>): Promise<void> {
  const t0 = Date.now();
  return start.then(
    () => {
      out.codes.set("OK", (out.codes.get("OK") ?? 0) + 1);
      out.latencies.push(Date.now() - t0);
    },
    (error: grpc.ServiceError) => {
      const name = grpc.status[error.code] ?? String(error.code);
      out.codes.set(name, (out.codes.get(name) ?? 0) + 1);
      if (error.code !== grpc.status.RESOURCE_EXHAUSTED) {
        const said = `${name}: ${(error.details ?? "").replace(/\d+/g, "N").slice(0, 120)}`;
        if (out.details.size < 20 || out.details.has(said)) out.details.set(said, (out.details.get(said) ?? 0) + 1);
        return;
      }
      const hint = error.metadata?.get("grpc-retry-pushback-ms")?.length || /retry/i.test(error.details ?? "");
      if (hint) out.retryHints++;
    },
  );
}

type Starter = Pick<BatonClient, "workflows">;

const start = (client: Starter, deadline: number) => client.workflows.startWorkflow({ name: "fault_child", inputJson: '{"x":1}' }, { deadline });

/**
 * A client on a connection of its own. grpc-js shares one connection among
 * all channels to the same address with the same options (its global
 * subchannel pool), so a new BatonClient would reuse the overloaded one.
 */
function ownConnection(address: string): Starter & { close(): void } {
  const channel = new grpc.Client(address, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
  return { workflows: createClient(WorkflowService, channel), close: () => channel.close() };
}

/** Open loop: fires starts at `rate` per second for `ms`, not waiting for answers. */
async function openLoop(clients: BatonClient[], rate: number, ms: number, maxInFlight: number): Promise<Outcome & { skipped: number }> {
  const out: Outcome & { skipped: number } = { codes: new Map(), details: new Map(), latencies: [], retryHints: 0, skipped: 0 };
  const pending = new Set<Promise<void>>();
  const began = Date.now();
  let sent = 0;
  while (Date.now() - began < ms) {
    const due = Math.floor(((Date.now() - began) / 1000) * rate);
    for (; sent < due; sent++) {
      if (pending.size >= maxInFlight) {
        out.skipped++;
        continue;
      }
      const p = record(out, start(clients[sent % clients.length]!, 5000));
      const tracked: Promise<void> = p.finally(() => pending.delete(tracked));
      pending.add(tracked);
    }
    await sleep(10);
  }
  await Promise.allSettled([...pending]);
  return out;
}

/**
 * More starts sent at once than the server keeps in progress (256 by default,
 * ServerOptions.maxConcurrentStarts): the ones past its limit must be
 * refused, however fast or busy the machine. (Whether the open loop's rate
 * overloads the server depends on how busy the machine is while it is measured.)
 */
const BURST = 2_000;

async function burst(clients: Starter[]): Promise<Outcome> {
  const out: Outcome = { codes: new Map(), details: new Map(), latencies: [], retryHints: 0 };
  await Promise.all(Array.from({ length: BURST }, (_, i) => record(out, start(clients[i % clients.length]!, 60_000))));
  return out;
}

describe("overload: ten times the sustainable start rate, thousands of idle streams", () => {
  it("the server stays up and recovers by itself (figures printed)", async () => {
    const streams = scale(1000, 5000);
    const overloadMs = scale(5000, 60_000);
    const databaseUrl = await freshDatabase();
    const server = await startServerProcess({ databaseUrl });
    const clients = Array.from({ length: 8 }, () => new BatonClient({ address: server.address }));
    const ownClients: { close(): void }[] = [];
    const open: grpc.ClientDuplexStream<unknown, unknown>[] = [];
    const rss: { at: number; kb: number }[] = [];
    const sampler = setInterval(() => rss.push({ at: Date.now(), kb: server.rssKb() }), 250);
    try {
      await registerFlows(clients[0]!);
      // Thousands of idle worker streams, each waiting with one credit for a type nobody starts.
      for (let i = 0; i < streams; i++) {
        const s = clients[i % clients.length]!.tasks.dispatch() as unknown as grpc.ClientDuplexStream<unknown, unknown>;
        s.on("error", () => {});
        s.on("data", () => {});
        s.write({ kind: { case: "subscribe", value: { taskTypes: ["idle_type"], workerId: `idle-${i}`, domain: "" } } });
        s.write({ kind: { case: "credits", value: 1 } });
        open.push(s);
      }
      await sleep(1000);
      const rssBase = server.rssKb();
      const rate = await sustainable(clients[0]!, 3000, 8);
      const target = Math.max(50, Math.round(rate * 10));
      const overloadStart = Date.now();
      const overload = await openLoop(clients, target, overloadMs, 20_000);
      // The burst goes over connections of its own: the open loop's thousands of calls cancelled at their
      // deadline are as many stream resets, past which the server's HTTP/2 layer (most likely its rapid-reset guard)
      // ends those connections, and every start of a burst sent over them failed INTERNAL, not refused
      // (seen in a clean-clone CI run on a loaded machine: 20,000 deadlines, then 2,000 INTERNAL).
      const burstClients = Array.from({ length: 8 }, () => ownConnection(server.address));
      ownClients.push(...burstClients);
      const beyond = await burst(burstClients);
      const during = (from: number, to: number) =>
        Math.max(0, ...rss.filter((r) => r.at >= overloadStart + from && r.at < overloadStart + to).map((r) => r.kb));
      const rssFirstHalf = during(0, overloadMs / 2);
      const rssSecondHalf = during(overloadMs / 2, overloadMs);
      const rssPeak = Math.max(...rss.map((r) => r.kb));
      // Recovery: no manual repair, just time.
      let recoveredAfterS = -1;
      const t0 = Date.now();
      for (let i = 0; i < 60; i++) {
        try {
          await clients[0]!.workflows.startWorkflow({ name: "fault_child", inputJson: '{"x":2}' }, { deadline: 5000 });
          recoveredAfterS = (Date.now() - t0) / 1000;
          break;
        } catch {
          await sleep(1000);
        }
      }
      // Memory once the flood has stopped, before the rate is measured again
      // (that measurement starts runs of its own, and they take memory too).
      await sleep(1000);
      const rssAfter = server.rssKb();
      const rateAfter = await sustainable(clients[0]!, 3000, 8);
      measured = {
        overloadMs,
        exhausted: beyond.codes.get("RESOURCE_EXHAUSTED") ?? 0,
        retryHints: beyond.retryHints,
        rssBaseKb: rssBase,
        rssPeakKb: rssPeak,
        rssFirstHalfKb: rssFirstHalf,
        rssSecondHalfKb: rssSecondHalf,
        rssAfterKb: rssAfter,
      };
      report(
        figures(
          "overload 10x start rate",
          `${streams} idle streams; ${target}/s starts for ${overloadMs / 1000} s (sustainable ${Math.round(rate)}/s)`,
          "overload",
          undefined,
          {
            outcomes: Object.fromEntries(overload.codes),
            refusals: Object.fromEntries(overload.details),
            clientSkipped: overload.skipped,
            okLatencyP50ms: percentile(overload.latencies, 50),
            okLatencyP99ms: percentile(overload.latencies, 99),
            retryHints: overload.retryHints,
            burstOutcomes: Object.fromEntries(beyond.codes),
            burstRefusals: Object.fromEntries(beyond.details),
            rssBaseMB: rssBase / 1024,
            rssPeakMB: rssPeak / 1024,
            rssFirstHalfMB: rssFirstHalf / 1024,
            rssSecondHalfMB: rssSecondHalf / 1024,
            rssAfterMB: rssAfter / 1024,
            recoveredAfterS,
            rateAfter: Math.round(rateAfter),
          },
        ),
      );
      assert.equal(server.child.exitCode, null, "the server process died under overload");
      assert.ok(recoveredAfterS >= 0, "the server did not take a start again within 60 s");
      assert.ok(rateAfter > 0, "no start went through after the overload");
    } finally {
      clearInterval(sampler);
      for (const s of open) s.cancel();
      [...clients, ...ownClients].forEach((c) => c.close());
      await stopServer(server, "SIGKILL");
    }
  });

  it("sheds load early with RESOURCE_EXHAUSTED and a retry hint, with memory bounded", {}, () => {
    assert.ok(measured, "runs after the test above");
    assert.ok(measured.exhausted > 0, `no RESOURCE_EXHAUSTED answers to ${BURST} starts at once`);
    assert.equal(measured.retryHints, measured.exhausted, "every refusal carries a retry hint");
    // Bounded, and given back to no one but kept for reuse: calls the
    // server has not answered yet sit in its HTTP/2 session (grpc-js lifts
    // Node's session memory cap on purpose), so a flood costs a step of
    // memory proportional to the calls the clients keep open, then no more.
    assert.ok(measured.rssPeakKb < measured.rssBaseKb * 4, `memory grew from ${measured.rssBaseKb} kB to ${measured.rssPeakKb} kB`);
    assert.ok(
      measured.rssAfterKb <= measured.rssPeakKb * 1.1,
      `memory kept growing after the overload: ${measured.rssPeakKb} kB at peak, ${measured.rssAfterKb} kB after`,
    );
    // A long overload (the full run) has left its ramp-up behind by the second half: flat there.
    if (measured.overloadMs >= 30_000) {
      const { rssFirstHalfKb: first, rssSecondHalfKb: second } = measured;
      assert.ok(second <= first * 1.2 + 16 * 1024, `memory kept growing while overloaded: ${first} kB in the first half, ${second} kB in the second`);
    }
  });
});
