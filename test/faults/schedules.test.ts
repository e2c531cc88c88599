// A schedule firing every second on two replicas, which are SIGKILLed again
// and again (sometimes both at once) and started again: every fire time
// between the first and the last gets exactly one run — none lost (missed
// ones are caught up), none doubled.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import pg from "pg";
import { BatonClient } from "@baton/client";
import { freshDatabase, stopCluster } from "../support/database.js";
import { rng, scale, sleep, waitUntil } from "./lib/config.js";
import { figures, report } from "./lib/report.js";
import { freePort, startServerProcess, stopServer, type ServerProc } from "./lib/server.js";
import { flowOf } from "../support/flows.js";

after(() => stopCluster());

describe("a schedule on two replicas, killed repeatedly", () => {
  it("starts exactly one run per fire time", async () => {
    const kills = scale(4, 30);
    const random = rng();
    const databaseUrl = await freshDatabase();
    const ports = [await freePort(), await freePort()];
    const procs: ServerProc[] = [await startServerProcess({ databaseUrl, port: ports[0]! }), await startServerProcess({ databaseUrl, port: ports[1]! })];
    const client = new BatonClient({ address: procs[1]!.address });
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    const began = Date.now();
    let bothDown = 0;
    try {
      await client.registerWorkflowDef(
        flowOf("fault_tick", [{ name: "set", taskReferenceName: "set", type: "SET_VARIABLE", inputParameters: { at: "${workflow.input._scheduledTime}" } }]),
      );
      const created = await client.createSchedule({
        name: "fault_every_second",
        cronExpression: "* * * * * *",
        runCatchupScheduleInstances: true,
        catchupWindowSeconds: 3600,
        startWorkflowRequest: { name: "fault_tick" },
      });
      const first = created.nextFireTime;
      for (let k = 0; k < kills; k++) {
        await sleep(random.int(300, 2000));
        // Mostly one replica; every third kill takes both down (fires are missed, then caught up).
        const victims = k % 3 === 2 ? [0, 1] : [random.int(0, 1)];
        if (victims.length === 2) bothDown++;
        await Promise.all(victims.map((i) => stopServer(procs[i]!, "SIGKILL")));
        await sleep(random.int(200, 1500));
        for (const i of victims) procs[i] = await startServerProcess({ databaseUrl, port: ports[i]! });
      }
      // Stop firing: the pause waits for any sweep holding the row, so the last fire time is settled.
      const admin = new BatonClient({ address: procs[0]!.address });
      const paused = await admin.pauseSchedule("fault_every_second");
      admin.close();
      const last = paused.lastFireTime;
      assert.ok(last > first, "it fired");
      const expected = (last - first) / 1000 + 1;
      const rows = async () =>
        (
          await db.query<{ t: string; n: string }>(
            `SELECT (input->>'_scheduledTime')::bigint AS t, count(*) AS n FROM baton.runs WHERE name = 'fault_tick' GROUP BY 1 ORDER BY 1`,
          )
        ).rows.map((r) => [Number(r.t), Number(r.n)] as const);
      await waitUntil(async () => (await rows()).length >= expected, 30_000);
      const fired = await rows();
      const doubled = fired.filter(([, n]) => n > 1).map(([t]) => new Date(t).toISOString());
      const seen = new Set(fired.map(([t]) => t));
      const lost: string[] = [];
      for (let t = first; t <= last; t += 1000) if (!seen.has(t)) lost.push(new Date(t).toISOString());
      const outside = fired.filter(([t]) => t < first || t > last).length;
      // A lost fire time counts as a lost run, a doubled one as a duplicate.
      report(
        figures(
          "schedule on 2 replicas, SIGKILLed",
          `a fire every second for ${Math.round((last - first) / 1000)} s (${expected} fire times)`,
          `${kills} SIGKILLs (${bothDown} of both replicas)`,
          { runsLost: lost.length, wrongEnd: 0, stuck: 0, duplicateTransitions: doubled.length, redeliveries: 0 },
          { runs: fired.reduce((n, [, c]) => n + c, 0), seconds: (Date.now() - began) / 1000, seed: random.seed },
        ),
      );
      assert.deepEqual(doubled, [], "no fire time started twice");
      assert.deepEqual(lost, [], "no fire time lost");
      assert.equal(outside, 0);
    } finally {
      client.close();
      await db.end();
      await Promise.all(procs.map((p) => stopServer(p, "SIGTERM")));
    }
  });
});
