// Two server replicas on one database; one is SIGKILLed again and again (and
// started again) while the other carries on. Workers attach to both.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { BatonClient } from "@baton/client";
import { freshDatabase, stopCluster } from "../support/database.js";
import { rng, scale, sleep } from "./lib/config.js";
import { planRuns, registerFlows } from "./lib/flows.js";
import { checkHistory, installAudit, waitForEnd } from "./lib/history.js";
import { newStartLog, startAll } from "./lib/load.js";
import { figures, report } from "./lib/report.js";
import { freePort, startServerProcess, stopServer, type ServerProc } from "./lib/server.js";
import { Ledger, startFaultWorker } from "./lib/workers.js";

after(() => stopCluster());

describe("two replicas, one killed repeatedly", () => {
  it("the survivor carries on and nothing is lost or doubled", async () => {
    const runs = scale(100, 3000);
    const kills = scale(3, 15);
    const random = rng();
    const databaseUrl = await freshDatabase();
    const portA = await freePort();
    let a: ServerProc = await startServerProcess({ databaseUrl, port: portA });
    const b = await startServerProcess({ databaseUrl });
    await installAudit(databaseUrl);
    const clientA = new BatonClient({ address: a.address });
    const clientB = new BatonClient({ address: b.address });
    const ledgerA = new Ledger();
    const ledgerB = new Ledger();
    const workers = [
      startFaultWorker({ address: a.address, workerId: "on-a", ledger: ledgerA }),
      startFaultWorker({ address: b.address, workerId: "on-b", ledger: ledgerB }),
    ];
    try {
      await registerFlows(clientB);
      const planned = planRuns(runs, "replica");
      const starts = newStartLog();
      const began = Date.now();
      // Starts spread over the kills, so there is work while A is down.
      const starting = startAll([clientA, clientB], planned, starts, { concurrency: 8, deadlineMs: 3_600_000, ratePerSecond: runs > 1000 ? 0 : runs / 12 });
      const survivorWork: number[] = [];
      for (let k = 0; k < kills; k++) {
        await sleep(random.int(500, runs > 1000 ? 8000 : 2500));
        await stopServer(a, "SIGKILL");
        const openNow =
          starts.acknowledged.size < runs ||
          (
            await waitForEnd(
              databaseUrl,
              planned.map((p) => p.key),
              0,
            )
          ).length > 0;
        const before = ledgerB.updates.filter((u) => u.ok).length;
        // A stays down a while: B alone must make progress meanwhile.
        await sleep(random.int(800, 2000));
        if (openNow) survivorWork.push(ledgerB.updates.filter((u) => u.ok).length - before);
        a = await startServerProcess({ databaseUrl, port: portA });
      }
      await starting;
      const open = await waitForEnd(
        databaseUrl,
        planned.map((p) => p.key),
        runs > 1000 ? 1_200_000 : 180_000,
      );
      const check = await checkHistory(databaseUrl, planned, Ledger.merge(ledgerA, ledgerB));
      const f = figures(`2 replicas, one SIGKILLed (${kills}x)`, `${runs} runs, ${check.taskRows} task rows`, `${kills} SIGKILLs of replica A`, check, {
        seconds: (Date.now() - began) / 1000,
        survivorUpdatesWhileADown: survivorWork,
        doneOnA: ledgerA.updates.filter((u) => u.ok && u.applied).length,
        doneOnB: ledgerB.updates.filter((u) => u.ok && u.applied).length,
        open: open.length,
        seed: random.seed,
      });
      report(f);
      assert.deepEqual(check.violations, [], check.violations.slice(0, 20).join("\n"));
      assert.equal(f.runsLost + f.stuck + f.duplicateTransitions, 0);
      // Only windows with work left count (a fast machine may finish early).
      if (survivorWork.length > 0)
        assert.ok(
          survivorWork.some((n) => n > 0),
          `replica B did no work while A was down: ${survivorWork.join(",")}`,
        );
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      clientA.close();
      clientB.close();
      await Promise.all([stopServer(a, "SIGTERM"), stopServer(b, "SIGTERM")]);
    }
  });
});
