// High availability: a primary and a synchronous standby managed by
// pg_auto_failover on loopback; the primary is killed under load, the standby
// is promoted, and the server follows it through a multi-host connection
// string (target_session_attrs=read-write) and loses nothing it acknowledged.
// Setup as in test/faults/HA.md. Needs pg_autoctl (Debian:
// postgresql-15-auto-failover, which `npm run faults` installs).
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { BatonClient } from "@baton/client";
import { autoctlAvailable, startFormation, type Formation } from "./lib/autofailover.js";
import { scale, sleep, waitUntil } from "./lib/config.js";
import { planRuns, registerFlows } from "./lib/flows.js";
import { checkHistory, installAudit, waitForEnd } from "./lib/history.js";
import { newStartLog, startAll } from "./lib/load.js";
import { figures, report } from "./lib/report.js";
import { startServerProcess, stopServer, type ServerProc } from "./lib/server.js";
import { Ledger, startFaultWorker } from "./lib/workers.js";

const skip = autoctlAvailable()
  ? process.getuid?.() === 0 || process.env["USER"] === "postgres"
    ? false
    : "pg_auto_failover runs PostgreSQL as the postgres user: run as root"
  : "pg_autoctl not found: apt-get install -y postgresql-15-auto-failover (npm run faults installs it)";

let formation: Formation | undefined;
after(() => formation?.destroy());

describe("PostgreSQL primary killed, standby promoted (pg_auto_failover)", { skip }, () => {
  it("the server follows the new primary through a multi-host URL and loses nothing acknowledged", {}, async () => {
    const runs = scale(30, 1000);
    const t0 = Date.now();
    formation = await startFormation();
    const formedS = (Date.now() - t0) / 1000;
    const f = formation;
    const url = f.multiHostUrl;
    let server: ServerProc | undefined;
    let startError = "";
    try {
      server = await startServerProcess({ databaseUrl: url, timeoutMs: 30_000 });
    } catch (error) {
      startError = (error as Error).message.split("\n").find((l) => /Error|error/.test(l)) ?? (error as Error).message.slice(0, 200);
    }
    if (!server) {
      report(
        figures("HA failover (pg_auto_failover)", `formation up in ${formedS} s`, "none: the server did not start", undefined, { serverStart: startError }),
      );
      assert.fail(`the server does not start on ${url}: ${startError}`);
    }
    const primaryUrl = (port: number) => `postgres://postgres@127.0.0.1:${port}/baton`;
    const first = (await f.primary())!;
    await installAudit(primaryUrl(first.port));
    const client = new BatonClient({ address: server.address });
    const ledger = new Ledger();
    const worker = startFaultWorker({ address: server.address, workerId: "ha", ledger });
    try {
      await registerFlows(client);
      const planned = planRuns(runs, "ha");
      const starts = newStartLog();
      const starting = startAll([client], planned, starts, { concurrency: 4, ratePerSecond: runs / 20 });
      await sleep(4000);
      const killedAt = Date.now();
      f.kill(first);
      const promoted = await waitUntil(async () => (await f.primary())?.name !== first.name && (await f.primary()) !== undefined, 180_000, 500);
      const failoverS = (Date.now() - killedAt) / 1000;
      assert.ok(promoted, `no standby was promoted: ${JSON.stringify(await f.states())}`);
      const second = (await f.primary())!;
      await starting;
      const open = await waitForEnd(
        primaryUrl(second.port),
        planned.map((p) => p.key),
        300_000,
      );
      const check = await checkHistory(primaryUrl(second.port), planned, ledger);
      report(
        figures("HA failover (pg_auto_failover)", `${runs} runs`, `primary SIGKILLed, ${second.name} promoted after ${failoverS} s`, check, {
          formationS: formedS,
          startErrors: Object.fromEntries(starts.errors),
          open: open.length,
        }),
      );
      assert.deepEqual(check.violations, [], check.violations.slice(0, 10).join("\n"));
      assert.equal(check.runsLost + check.wrongEnd + check.stuck + check.duplicateTransitions, 0);
    } finally {
      await worker.stop();
      client.close();
      await stopServer(server, "SIGTERM");
    }
  });
});
