// PostgreSQL restarted under load (fast and immediate shutdown) and its
// backends terminated (pg_terminate_backend): the server reconnects by itself
// and loses nothing it acknowledged.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { BatonClient } from "@baton/client";
import { rng, scale, sleep } from "./lib/config.js";
import { planRuns, registerFlows } from "./lib/flows.js";
import { checkHistory, installAudit, waitForEnd } from "./lib/history.js";
import { newStartLog, startAll } from "./lib/load.js";
import { pgBinariesAvailable, startCluster, type Cluster, PG_BIN } from "./lib/pgcluster.js";
import { figures, report } from "./lib/report.js";
import { startServerProcess, stopServer, warnings, type ServerProc } from "./lib/server.js";
import { Ledger, startFaultWorker } from "./lib/workers.js";

const skip = pgBinariesAvailable() ? false : `PostgreSQL binaries not found in ${PG_BIN} (apt-get install postgresql-15, or set BATON_PG_BIN)`;

let cluster: Cluster | undefined;
after(() => cluster?.destroy());

describe("PostgreSQL restarted and its backends terminated under load", { skip }, () => {
  it("the server reconnects and loses nothing acknowledged", {}, async () => {
    const runs = scale(100, 3000);
    const cycles = scale(1, 5);
    const random = rng();
    cluster = await startCluster();
    const c = cluster;
    let server: ServerProc = await startServerProcess({ databaseUrl: c.url });
    const port = server.port;
    await installAudit(c.url);
    // The server must survive every fault by itself; a crash is noted (and it is started again so the run can be checked).
    const crashes: string[] = [];
    let closing = false;
    const watch = (proc: ServerProc) =>
      void proc.exited.then(async ({ code, signal }) => {
        if (closing) return;
        crashes.push(`exit ${code ?? signal}: ${proc.logs.slice(-3).join(" | ")}`);
        server = await startServerProcess({ databaseUrl: c.url, port });
        watch(server);
      });
    watch(server);
    const client = new BatonClient({ address: server.address });
    const ledger = new Ledger();
    const workers = [
      startFaultWorker({ address: server.address, workerId: "pg-w1", ledger }),
      startFaultWorker({ address: server.address, workerId: "pg-w2", ledger }),
    ];
    const faults: string[] = [];
    try {
      await registerFlows(client);
      const planned = planRuns(runs, "pg");
      const starts = newStartLog();
      const began = Date.now();
      const starting = startAll([client], planned, starts, { concurrency: 8, deadlineMs: 3_600_000 });
      for (let cycle = 0; cycle < cycles; cycle++) {
        await sleep(random.int(500, 2000));
        c.restart("fast");
        faults.push("restart fast");
        await sleep(random.int(500, 2000));
        c.restart("immediate");
        faults.push("restart immediate");
        await sleep(random.int(500, 2000));
        const n = await c.terminateBackends();
        faults.push(`terminate ${n} backends`);
      }
      await starting;
      const open = await waitForEnd(
        c.url,
        planned.map((p) => p.key),
        runs > 1000 ? 1_200_000 : 180_000,
      );
      const check = await checkHistory(c.url, planned, ledger);
      const logged = warnings(server).map((w) => w.msg);
      report(
        figures("PostgreSQL restarts + pg_terminate_backend", `${runs} runs, ${check.taskRows} task rows`, faults.join(", "), check, {
          seconds: (Date.now() - began) / 1000,
          serverCrashes: crashes.length,
          startErrors: Object.fromEntries(starts.errors),
          open: open.length,
          serverWarnings: [...new Set(logged)].slice(0, 5),
          seed: random.seed,
        }),
      );
      assert.deepEqual(crashes, [], "the server process died");
      assert.deepEqual(check.violations, [], check.violations.slice(0, 20).join("\n"));
      assert.equal(check.runsLost + check.wrongEnd + check.stuck + check.duplicateTransitions, 0);
    } finally {
      closing = true;
      await Promise.all(workers.map((w) => w.stop()));
      client.close();
      await stopServer(server, "SIGTERM");
    }
  });
});
