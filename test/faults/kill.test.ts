// The server SIGKILLed at random moments while a mixed load of runs (forks,
// DO_WHILE loops, sub-workflows, retries, a planned failure) executes; started
// again on the same port each time. Every run must end as its flow says, every
// update the workers were told was applied must be in the final state, and no
// transition may happen twice.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { BatonClient } from "@baton/client";
import pg from "pg";
import { freshDatabase, stopCluster } from "../support/database.js";
import { rng, scale, sleep } from "./lib/config.js";
import { planRuns, registerFlows } from "./lib/flows.js";
import { checkHistory, installAudit, waitForEnd } from "./lib/history.js";
import { newStartLog, startAll } from "./lib/load.js";
import { figures, report } from "./lib/report.js";
import { freePort, startServerProcess, stopServer, type ServerProc } from "./lib/server.js";
import { Ledger, startFaultWorker } from "./lib/workers.js";

after(() => stopCluster());

describe("server SIGKILLed under load", () => {
  it("every run ends right, nothing acknowledged is lost, nothing happens twice", async () => {
    const runs = scale(120, 10_000);
    const kills = Number(process.env["BATON_FAULTS_KILLS"] ?? scale(3, 20));
    const random = rng();
    const databaseUrl = await freshDatabase();
    const port = await freePort();
    let server: ServerProc = await startServerProcess({ databaseUrl, port });
    await installAudit(databaseUrl);
    const client = new BatonClient({ address: server.address });
    const ledger = new Ledger();
    let workerErrors = 0;
    const onError = () => void workerErrors++;
    const workers = [
      startFaultWorker({ address: server.address, workerId: "kill-w1", ledger, onError }),
      startFaultWorker({ address: server.address, workerId: "kill-w2", ledger, onError }),
    ];
    const restarts: number[] = [];
    try {
      await registerFlows(client);
      const planned = planRuns(runs, "kill");
      const starts = newStartLog();
      const began = Date.now();
      let startsDone = false;
      const starting = startAll([client], planned, starts, { concurrency: 8, deadlineMs: 3_600_000 }).finally(() => (startsDone = true));
      // Spread the kills over the load: random gaps, a little longer in the full run.
      const [minGap, maxGap] = runs > 1000 ? [2000, 15_000] : [400, 2500];
      for (let k = 0; k < kills; k++) {
        await sleep(random.int(minGap, maxGap));
        await stopServer(server, "SIGKILL");
        await sleep(random.int(0, 300));
        const t0 = Date.now();
        server = await startServerProcess({ databaseUrl, port });
        restarts.push(Date.now() - t0);
      }
      const killsDoneAt = Date.now();
      await starting;
      const open = await waitForEnd(
        databaseUrl,
        planned.map((p) => p.key),
        runs > 1000 ? 1_800_000 : 180_000,
      );
      const elapsed = (Date.now() - began) / 1000;
      const check = await checkHistory(databaseUrl, planned, ledger);
      // An acknowledged start names the run that exists.
      let startsLost = 0;
      const db = new pg.Client({ connectionString: databaseUrl });
      await db.connect();
      const { rows } = await db.query("SELECT idempotency_key, id FROM baton.runs WHERE idempotency_key IS NOT NULL").finally(() => db.end());
      const stored = new Map(rows.map((r) => [r.idempotency_key as string, r.id as string]));
      for (const [key, id] of starts.acknowledged) if (stored.get(key) !== id) startsLost++;
      const f = figures(
        `SIGKILL server (${kills}x)`,
        `${runs} runs, ${check.taskRows} task rows`,
        `${kills} SIGKILLs`,
        { ...check, runsLost: check.runsLost + startsLost },
        {
          seconds: elapsed,
          killsOverSeconds: (killsDoneAt - began) / 1000,
          startsDuringLoad: startsDone ? "all before last kill" : "some after last kill",
          startErrors: Object.fromEntries(starts.errors),
          workerErrors,
          acknowledgedUpdates: check.acknowledgedUpdates,
          handlerRuns: ledger.handlerRuns,
          restartMsMax: Math.max(...restarts),
          open: open.length,
          seed: random.seed,
        },
      );
      report(f);
      assert.deepEqual(check.violations, [], check.violations.slice(0, 20).join("\n"));
      assert.equal(startsLost, 0, "acknowledged starts lost");
      assert.equal(f.runsLost, 0);
      assert.equal(f.stuck, 0);
      assert.equal(f.duplicateTransitions, 0);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      client.close();
      await stopServer(server, "SIGTERM");
    }
  });
});
