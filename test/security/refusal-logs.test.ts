// A REST refusal is the caller's to read (issue 14, point 11's neighbour): it
// was logged at error level with its stack, so any caller could flood the
// operator's log with a loop of bad requests. Refusals now log at debug.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import { startHarness, type Harness } from "../support/harness.js";
import { LogCapture } from "./support.js";

describe("REST refusals in the server's log", () => {
  let h: Harness;
  let rest: string;
  const log = new LogCapture();
  before(async () => {
    h = await startHarness({ manualClock: false, server: { conductor: { port: 0 }, logger: pino({ level: "info" }, log) } });
    rest = `http://${h.server.conductorAddress}`;
  });
  after(() => h.close());

  it("bad requests are answered 4xx and leave nothing at info level or above", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      statuses.push((await fetch(`${rest}/api/nowhere/${i}`)).status);
      statuses.push((await fetch(`${rest}/api/workflow`, { method: "POST", headers: { "content-type": "application/json" }, body: "{" })).status);
      statuses.push((await fetch(`${rest}/api/workflow/no-such-run-${i}`)).status);
    }
    assert.deepEqual([...new Set(statuses)].sort(), [400, 404]);
    const refusals = log.text.split("\n").filter((line) => line.includes("REST request"));
    assert.deepEqual(refusals, [], "a refusal was logged at info level or above");
  });
});
