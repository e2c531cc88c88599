// A background loop's failed pass is reported, except PostgreSQL shutting the
// connection down (57P01), which the next pass retries.
import assert from "node:assert/strict";
import { it } from "node:test";
import { Ticker } from "../../src/ticker.js";

const noClock = { onAdvance: () => () => {} };

it("reports a failed pass, but not the database shutting the connection down", async () => {
  const failures: unknown[] = [];
  let next: unknown;
  const ticker = new Ticker(
    () => Promise.reject(next),
    (error) => failures.push(error),
    60_000,
    noClock,
  );
  next = Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" });
  await ticker.run();
  assert.equal(failures.length, 0);
  next = Object.assign(new Error("relation does not exist"), { code: "42P01" });
  await ticker.run();
  assert.equal(failures.length, 1);
  assert.equal((failures[0] as Error).message, "relation does not exist");
});
