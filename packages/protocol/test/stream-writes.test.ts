// A server stream's messages written in one turn go out together: grpc-js
// handed each to the HTTP/2 stream only once the one before had gone out, a
// turn of the event loop for about every two, so the last of a burst waited
// for the whole burst's turns (on a busy server, 10-100 ms each). Counted in
// turns of the server's event loop, on a real stream over loopback.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TaskService, createClient, grpc, serviceDefinition, serviceHandlers, type ServiceImpl } from "@baton/protocol";

const BURST = 16;

/** The turns of the event loop after the burst was written at which each message's write was called back. */
let calledBack: Promise<number[]>;
let server: grpc.Server;
let client: grpc.Client;

before(async () => {
  let answer!: (turns: number[]) => void;
  calledBack = new Promise((resolve) => (answer = resolve));
  const unused = () => Promise.reject(new Error("not in this test"));
  const impl = new Proxy({} as ServiceImpl<typeof TaskService>, {
    get: (_, name) =>
      name !== "dispatch"
        ? unused
        : (call: grpc.ServerDuplexStream<unknown, unknown>) => {
            call.once("data", () => {
              let turns = 0;
              let counting = true;
              const count = () => {
                turns++;
                if (counting) setImmediate(count);
              };
              setImmediate(count);
              const at: number[] = [];
              for (let i = 0; i < BURST; i++) {
                call.write({ task: { taskId: `t${i}`, inputJson: "{}" } }, () => {
                  at.push(turns);
                  if (at.length === BURST) {
                    counting = false;
                    answer(at);
                    call.end();
                  }
                });
              }
            });
          },
  });
  server = new grpc.Server();
  server.addService(serviceDefinition(TaskService), serviceHandlers(TaskService, impl));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
});

after(() => {
  client.close();
  server.forceShutdown();
});

describe("a server stream", () => {
  it("writes a burst of messages out in the turn they were written, not one turn for every two", async () => {
    const stream = createClient(TaskService, client).dispatch();
    const received: string[] = [];
    stream.on("data", (message: { task?: { taskId: string } }) => received.push(message.task?.taskId ?? ""));
    const ended = new Promise((resolve) => stream.on("status", resolve));
    stream.write({ kind: { case: "subscribe", value: { taskTypes: ["t"], workerId: "w" } } });
    const turns = await calledBack;
    await ended;
    assert.deepEqual(
      received,
      Array.from({ length: BURST }, (_, i) => `t${i}`),
      "every message arrives, in order",
    );
    // One at a time, the 16th was called back 7 turns after the burst.
    assert.ok(Math.max(...turns) <= 1, `the writes were called back ${turns.join(", ")} turns after the burst`);
  });
});
