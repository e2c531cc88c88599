// Large task definitions are read as other large payloads are (issue 14): a
// task definition may be as large as a workflow definition (4 MiB, e.g. an
// inputTemplate), and a publisher key's four REST registrations of 3.9 MB at
// once held the serving thread 1.1 s. Over REST the body is read in the
// queries pool and each definition passed on as its text; the service reads
// each text a step per turn of the event loop, in line with other large
// payloads (before, every definition of a call was parsed and checked in one
// turn), and the store writes the text it came as.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { call, startRestServer, type RestServer } from "../conductor/support.js";
import { jsonDuring, textsOfAtLeast } from "../support/turns.js";

let s: RestServer;
before(async () => {
  s = await startRestServer();
});
after(() => s.close());

const template = (tag: string) => ({ items: Array.from({ length: 10_000 }, (_, i) => ({ id: i, label: `item ${i} ${tag}` })) });

describe("large task definitions", () => {
  it("registered in one gRPC call are read one at a time, other work running between them", async () => {
    const defs = ["a", "b", "c", "d"].map((tag) => ({ name: `large_task_def_${tag}`, inputTemplate: template(tag) }));
    const texts = defs.map((def) => JSON.stringify(def));
    const { parsedIn } = await jsonDuring(textsOfAtLeast(texts[0]!.length), () => s.grpc.metadata.registerTaskDefs({ taskDefJson: texts }));
    assert.equal(parsedIn.length, 4, `each definition parsed once: ${parsedIn.join(", ")}`);
    for (let i = 1; i < parsedIn.length; i++)
      assert.ok(parsedIn[i]! > parsedIn[i - 1]! + 1, `parses in turns ${parsedIn.join(", ")}: two with no turn between them`);
    const stored = await call(s.base, "GET", "/api/metadata/taskdefs/large_task_def_c");
    assert.deepEqual((stored.json as { inputTemplate: unknown }).inputTemplate, defs[2]!.inputTemplate);
  });

  it("over REST are read in the pool, and stored as the text they came as", async () => {
    const def = { name: "large_task_def_rest", inputTemplate: template("rest") };
    const text = JSON.stringify(def);
    // Texts as long as the definition: the body's parse, or the definition written out (by the route or the store).
    const posted = await jsonDuring(textsOfAtLeast(text.length), () => call(s.base, "POST", "/api/metadata/taskdefs", `[${text}]`));
    assert.ok(posted.result.status === 200 || posted.result.status === 204, posted.result.text);
    assert.deepEqual(
      { parses: posted.parsedIn.length, writes: posted.writes },
      { parses: 1, writes: 0 },
      "parsed or written out more than the service's parse",
    );
    const putText = JSON.stringify({ ...def, inputTemplate: template("rest put") });
    const put = await jsonDuring(textsOfAtLeast(text.length), () => call(s.base, "PUT", "/api/metadata/taskdefs", putText));
    assert.ok(put.result.status === 200 || put.result.status === 204, put.result.text);
    assert.deepEqual({ parses: put.parsedIn.length, writes: put.writes }, { parses: 1, writes: 0 }, "parsed or written out more than the service's parse");
    const stored = await call(s.base, "GET", "/api/metadata/taskdefs/large_task_def_rest");
    assert.deepEqual((stored.json as { inputTemplate: unknown }).inputTemplate, template("rest put"));
  });

  it("broken, unnamed or too deep are refused over REST as before, naming the field, nothing stored", async () => {
    const text = JSON.stringify({ name: "large_task_def_refused", inputTemplate: template("refused") });
    const broken = await call(s.base, "POST", "/api/metadata/taskdefs", `[${text}`);
    assert.equal(broken.status, 400, broken.text);
    assert.match((broken.json as { message: string }).message, /^the request body is not valid JSON: /);
    const unnamed = await call(s.base, "POST", "/api/metadata/taskdefs", JSON.stringify([{ inputTemplate: template("unnamed") }]));
    assert.equal(unnamed.status, 400, unnamed.text);
    assert.deepEqual((unnamed.json as { validationErrors: unknown }).validationErrors, [{ path: "0.name", message: "is required" }]);
    const deep = `[{"name":"large_task_def_refused","inputTemplate":${JSON.stringify(template("deep")).slice(0, -1)},"deep":${"[".repeat(105)}${"]".repeat(105)}}}]`;
    const tooDeep = await call(s.base, "POST", "/api/metadata/taskdefs", deep);
    assert.equal(tooDeep.status, 400, tooDeep.text);
    assert.match((tooDeep.json as { message: string }).message, /task_def_json\[0\] nests deeper than 100 levels/);
    assert.equal((await call(s.base, "GET", "/api/metadata/taskdefs/large_task_def_refused")).status, 404);
  });
});
