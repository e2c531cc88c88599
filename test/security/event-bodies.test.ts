// Large event handlers and event payloads are read as other large payloads
// are (issue 14). A handler may be as large as a definition (4 MiB): four REST
// registrations of 3.9 MB at once held the serving thread 0.6-0.9 s, the body
// parsed there, written out again for the service, parsed once more and
// written out once more for the store. Now the body is read in the queries
// pool, the service reads its text a step per turn, and the store writes that
// text; an event's payload (2 MiB) is read a step per turn too, in line.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { call, startRestServer, type RestServer } from "../conductor/support.js";
import { jsonDuring, type JsonTexts } from "../support/turns.js";

let s: RestServer;
before(async () => {
  s = await startRestServer();
});
after(() => s.close());

const items = (tag: string) => Array.from({ length: 10_000 }, (_, i) => ({ id: i, label: `item ${i} ${tag}` }));

/**
 * That very text parsed, and JSON texts as long written: the event consumer reads events' rows meanwhile, whose
 * payloads PostgreSQL sends written its own way.
 */
const only = (text: string): JsonTexts => ({ parsed: (source) => source === text, written: (written) => written.length >= text.length });

describe("large event handlers and events", () => {
  it("a handler registered over REST is read in the pool, and stored as the text it came as", async () => {
    const handler = {
      name: "large_handler",
      event: "large:event",
      active: false,
      actions: [{ action: "start_workflow", start_workflow: { name: "nothing", input: { items: items("rest") } } }],
    };
    const text = JSON.stringify(handler);
    const posted = await jsonDuring(only(text), () => call(s.base, "POST", "/api/event", text));
    assert.ok(posted.result.status === 200 || posted.result.status === 204, posted.result.text);
    // The service's parse of the handler's text alone; before, the body's too, and two writes of it.
    assert.deepEqual({ parses: posted.parsedIn.length, writes: posted.writes }, { parses: 1, writes: 0 });
    const stored = await s.grpc.events.getEventHandler({ name: "large_handler" });
    assert.deepEqual(JSON.parse(stored.handlerJson), handler);

    // Its actions' rights are still those of the key's role: refusals as before, nothing stored.
    const unnamed = await call(s.base, "POST", "/api/event", JSON.stringify({ ...handler, name: undefined }));
    assert.equal(unnamed.status, 400, unnamed.text);
    assert.deepEqual((unnamed.json as { validationErrors: unknown }).validationErrors, [{ path: "name", message: "is required" }]);
  });

  it("a handler registered over gRPC is parsed once, by the service, which checks its actions' rights", async () => {
    const handler = {
      name: "large_grpc_handler",
      event: "large:grpc",
      active: false,
      actions: [{ action: "start_workflow", start_workflow: { name: "nothing", input: { items: items("grpc") } } }],
    };
    const text = JSON.stringify(handler);
    // Before, the guard parsed it too, in one turn, to find the rights its actions need.
    const { parsedIn } = await jsonDuring(only(text), () => s.grpc.events.registerEventHandler({ handlerJson: text }));
    assert.equal(parsedIn.length, 1, `parsed in turns ${parsedIn.join(", ")}`);
    assert.deepEqual(JSON.parse((await s.grpc.events.getEventHandler({ name: "large_grpc_handler" })).handlerJson), handler);
  });

  it("events published at once are read one at a time, other work running between them", async () => {
    const payload = { items: items("event") };
    const text = JSON.stringify(payload);
    const { parsedIn } = await jsonDuring(only(text), () =>
      Promise.all(Array.from({ length: 6 }, () => s.grpc.events.publishEvent({ event: "large:nobody", payloadJson: text }))),
    );
    assert.equal(parsedIn.length, 6, `each payload parsed once: ${parsedIn.join(", ")}`);
    for (let i = 1; i < parsedIn.length; i++)
      assert.ok(parsedIn[i]! > parsedIn[i - 1]! + 1, `parses in turns ${parsedIn.join(", ")}: two with no turn between them`);
  });
});
