// Integers beyond 2^53 stay exact where the server writes JSON itself, not
// only on the wire: an HTTP task's request body and response, and the text an
// event handler's action makes of an object (plain JSON.stringify throws on
// a BigInt, and JSON.parse rounds a big integer).
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { BatonClient } from "@baton/client";
import { createLogger, ManualClock, startServer, type BatonServer } from "@baton/server";
import { freshDatabase, stopCluster } from "../support/database.js";
import { eventually } from "../support/harness.js";
import { flowOf } from "../support/flows.js";

const BIG = 12345678901234567890n;
const BIGGER = 98765432109876543210n;

let h: { server: BatonServer; client: BatonClient; settle(): Promise<void> };
let echo: Server;
let received: string[] = [];
let port = 0;

before(async () => {
  // HTTP tasks call only hosts on the allowlist: the echo server's.
  const server = await startServer({
    databaseUrl: await freshDatabase(),
    port: 0,
    clock: new ManualClock(),
    logger: createLogger(process.env["BATON_LOG_LEVEL"] ?? "silent"),
    httpAllowedHosts: ["127.0.0.1"],
  });
  h = { server, client: new BatonClient({ address: server.address }), settle: () => server.settle() };
  echo = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      received.push(body);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(`{"m":${BIGGER}}`);
    });
  });
  await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
  port = (echo.address() as AddressInfo).port;
});
after(async () => {
  echo.close();
  h.client.close();
  await h.server.close();
  await stopCluster();
});

describe("big integers", () => {
  it("an HTTP task sends and reads them exactly", async () => {
    received = [];
    await h.client.registerWorkflowDef(
      flowOf("big_http", [
        {
          name: "call",
          taskReferenceName: "call",
          type: "HTTP",
          inputParameters: { http_request: { uri: `http://127.0.0.1:${port}/big`, method: "POST", body: { n: "${workflow.input.n}" } } },
        },
      ]),
    );
    const id = await h.client.startWorkflow("big_http", { n: BIG });
    const run = await eventually(
      () => h.client.getWorkflow(id),
      (r) => r.status !== "RUNNING",
    );
    const call = run.tasks.find((t) => t.referenceTaskName === "call")!;
    assert.equal(call.status, "COMPLETED", call.reasonForIncompletion);
    assert.deepEqual(received, [`{"n":${BIG}}`]);
    const response = (call.outputData as { response: { body: { m: unknown } } }).response;
    assert.equal(response.body.m, BIGGER);
  });

  it("an event handler's action writes an object holding one as exact JSON text", async () => {
    await h.client.registerWorkflowDef(flowOf("big_event_target", [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }]));
    await h.client.registerEventHandler({
      name: "big_fail",
      event: "test:big",
      actions: [{ action: "fail_task", fail_task: { workflowId: "${id}", taskRefName: "hold", reasonForIncompletion: "${detail}" } }],
      active: true,
    });
    const id = await h.client.startWorkflow("big_event_target", {});
    await h.client.publishEvent("test:big", { id, detail: { n: BIG } });
    const run = await eventually(
      async () => {
        await h.settle();
        return h.client.getWorkflow(id);
      },
      (r) => r.status !== "RUNNING",
    );
    const hold = run.tasks.find((t) => t.referenceTaskName === "hold")!;
    assert.equal(hold.status, "FAILED");
    assert.equal(hold.reasonForIncompletion, `{"n":${BIG}}`);
  });
});
