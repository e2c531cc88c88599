// What one small request may make the server do (issue 14): a reader's REST
// search makes one search per workflowType and correlationId in its IN (...)
// lists, so a 16 KB URL of thousands of each asked for millions; a
// correlated request read the runs of each id it listed, repeats included.
// Both are refused past a bound now, saying what to shorten.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startRestHarness, type Harness } from "../support/harness.js";

describe("one request's cost is bounded", () => {
  let h: Harness & { rest: string };
  before(async () => {
    h = await startRestHarness();
  });
  after(() => h.close());

  it("a search whose IN (...) lists make over 100 searches is refused, naming them", async () => {
    const list = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`).join(",");
    const query = `workflowType IN (${list("w", 20)}) AND correlationId IN (${list("c", 20)})`;
    const refused = await fetch(`${h.rest}/api/workflow/search?query=${encodeURIComponent(query)}`);
    const body = (await refused.json()) as { message: string };
    assert.equal(refused.status, 400, body.message);
    assert.match(body.message, /query: 20 workflowTypes and 20 correlationIds make 400 searches, over 100; shorten the IN \(\.\.\.\) lists/);

    const fine = await fetch(
      `${h.rest}/api/workflow/search?query=${encodeURIComponent(`workflowType IN (${list("w", 10)}) AND correlationId IN (${list("c", 10)})`)}`,
    );
    assert.equal(fine.status, 200);
  });

  it("a REST body nested deeper than its payloads may be is refused, 400, before it is written out again", async () => {
    // Before: 500 "Maximum call stack size exceeded" (the start's input was written out again for the call, recursively).
    const post = (depth: number) =>
      fetch(`${h.rest}/api/workflow`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: `{"name":"nowhere","input":{"x":${"[".repeat(depth)}${"]".repeat(depth)}}}`,
      });
    const deep = await post(5000);
    const body = (await deep.json()) as { message: string };
    assert.equal(deep.status, 400, body.message);
    assert.equal(body.message, "the request body nests deeper than 110 levels (payloads and definitions may nest 100)");
    const payloadDeep = await post(105);
    assert.equal(payloadDeep.status, 400);
    assert.match(((await payloadDeep.json()) as { message: string }).message, /input_json nests deeper than 100 levels/);
  });

  it("a correlated request of over 1000 correlation ids is refused; repeats count once", async () => {
    const post = (ids: string[]) =>
      fetch(`${h.rest}/api/workflow/w/correlated`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(ids) });
    const many = await post(Array.from({ length: 1001 }, (_, i) => `c${i}`));
    assert.equal(many.status, 400);
    assert.match(((await many.json()) as { message: string }).message, /at most 1000 correlation ids/);
    const repeated = await post(Array.from({ length: 5000 }, () => "same"));
    assert.equal(repeated.status, 200);
    assert.deepEqual(await repeated.json(), { same: [] });
  });
});
