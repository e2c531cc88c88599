// HTTP tasks reach nothing until an allowlist is configured, and what they
// bring back is bounded (issue 14, point 4). Before, loopback was allowed by
// default: an operator's flow read the server's own /metrics into a task output.
import assert from "node:assert/strict";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { serverOptionsFromEnv } from "@baton/server";
import { eventually } from "../support/harness.js";
import { startSecureServer, type SecureServer } from "./support.js";
import { flowOf } from "../support/flows.js";

let target: Server;
let url: string;
/** Requests the internal service received. */
let hits = 0;
/** Requests to /hang (never answered) and /hold (answered when the test says). */
const hanging: ServerResponse[] = [];
const holding: ServerResponse[] = [];

const flow = (name: string, uri: string) =>
  flowOf(name, [{ name: "call", taskReferenceName: "call", type: "HTTP", inputParameters: { http_request: { uri, method: "GET" } } }]);

before(async () => {
  // An internal service on loopback: small and large answers.
  target = createServer((req, res) => {
    hits++;
    if (req.url === "/hang") hanging.push(res);
    else if (req.url === "/hold") holding.push(res);
    else if (req.url === "/large") res.end("x".repeat(3 * 1024 * 1024));
    else res.end(JSON.stringify({ secret: "internal" }));
  });
  await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
});
after(() => {
  for (const res of [...hanging, ...holding]) res.destroy();
  return new Promise<void>((resolve) => target.close(() => resolve()));
});

async function runOn(s: SecureServer, name: string, uri: string) {
  const admin = await s.clientWithNewKey({ role: "admin", name: "admin" });
  await admin.registerWorkflowDef(flow(name, uri));
  const id = await admin.startWorkflow(name, {});
  return eventually(
    () => admin.getWorkflow(id),
    (run) => run.status === "COMPLETED" || run.status === "FAILED",
  );
}

describe("HTTP tasks without an allowlist", () => {
  let s: SecureServer;
  before(async () => {
    s = await startSecureServer();
  });
  after(() => s.close());

  it("fail, naming how to configure one; loopback is not reachable", async () => {
    const run = await runOn(s, "http_no_allowlist", `${url}/`);
    assert.equal(run.status, "FAILED");
    assert.match(run.reasonForIncompletion ?? "", /BATON_HTTP_ALLOWED_HOSTS/);
    assert.equal(JSON.stringify(run).includes("internal"), false);
  });
});

describe("HTTP tasks with an allowlist", () => {
  let s: SecureServer;
  before(async () => {
    s = await startSecureServer({ httpAllowedHosts: ["127.0.0.1"] });
  });
  after(() => s.close());

  it("call an allowed host", async () => {
    const run = await runOn(s, "http_allowed", `${url}/`);
    assert.equal(run.status, "COMPLETED");
  });

  it("fail on a response body over the payload limit, without keeping it", async () => {
    const run = await runOn(s, "http_large", `${url}/large`);
    assert.equal(run.status, "FAILED");
    assert.match(run.reasonForIncompletion ?? "", /over the \d+-byte limit/);
  });

  it("read the allowlist from BATON_HTTP_ALLOWED_HOSTS", () => {
    assert.deepEqual(serverOptionsFromEnv({ BATON_HTTP_ALLOWED_HOSTS: "api.example.com, 127.0.0.1" }).httpAllowedHosts, ["api.example.com", "127.0.0.1"]);
    assert.equal(serverOptionsFromEnv({}).httpAllowedHosts, undefined);
  });
});

// Hosts are matched by the address they resolve to, checked when connecting:
// an allowed name (or `*`) that resolves to a loopback, private or link-local
// address is refused unless that address is allowed itself. Only loopback
// forms are probed here (tests target nothing else); the ranges are
// ipaddr.js's, applied by request-filtering-agent.
describe("HTTP tasks and internal addresses", () => {
  let s: SecureServer;
  before(async () => {
    s = await startSecureServer({ httpAllowedHosts: ["localhost", "*"] });
  });
  after(() => s.close());

  it("refuse an allowed name that resolves to loopback, before any request is sent", async () => {
    const seen = hits;
    const run = await runOn(s, "http_localhost", `${url.replace("127.0.0.1", "localhost")}/`);
    assert.equal(run.status, "FAILED");
    assert.match(run.reasonForIncompletion ?? "", /resolves to (127\.0\.0\.1|::1), a private, loopback or link-local address/);
    assert.match(run.reasonForIncompletion ?? "", /BATON_HTTP_ALLOWED_HOSTS/);
    assert.equal(hits, seen);
    assert.equal(JSON.stringify(run).includes("internal"), false);
  });

  for (const [what, uri] of [
    ["a loopback address written as a number", () => url.replace("127.0.0.1", "2130706433")],
    ["an IPv4-mapped IPv6 loopback address", () => url.replace("127.0.0.1", "[::ffff:127.0.0.1]")],
    ["the IPv6 loopback address", () => url.replace("127.0.0.1", "[::1]")],
    ["the unspecified address (reaches this machine)", () => url.replace("127.0.0.1", "0.0.0.0")],
  ] as const) {
    it(`refuse ${what} with "*" allowed`, async () => {
      const seen = hits;
      const run = await runOn(s, `http_${what.replace(/\W+/g, "_")}`, uri());
      assert.equal(run.status, "FAILED");
      assert.match(run.reasonForIncompletion ?? "", /a private, loopback or link-local address/);
      assert.equal(hits, seen);
    });
  }
});

describe("HTTP tasks allowed an internal address", () => {
  let s: SecureServer;
  before(async () => {
    s = await startSecureServer({ httpAllowedHosts: ["127.0.0.0/8", "::1"] });
  });
  after(() => s.close());

  it("call a name that resolves to it", async () => {
    const run = await runOn(s, "http_by_address", `${url.replace("127.0.0.1", "localhost")}/`);
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
  });

  it("still refuse other private addresses", async () => {
    const run = await runOn(s, "http_other_private", url.replace("127.0.0.1", "0.0.0.0"));
    assert.equal(run.status, "FAILED");
    assert.match(run.reasonForIncompletion ?? "", /private, loopback or link-local/);
  });

  it("refuse an allowlist entry that is neither a host name nor an address", async () => {
    await assert.rejects(startSecureServer({ httpAllowedHosts: ["10.0.0.0/99"] }), /BATON_HTTP_ALLOWED_HOSTS.*10\.0\.0\.0\/99/);
  });
});

describe("HTTP tasks' time and calls in flight", () => {
  let s: SecureServer;
  before(async () => {
    s = await startSecureServer({ httpAllowedHosts: ["127.0.0.1"], http: { timeoutMs: 5_000, maxInFlight: 1, maxWaiting: 1 } });
  });
  after(() => s.close());

  it("end a call with no answer once the server's time limit passes on its clock", async () => {
    const admin = await s.clientWithNewKey({ role: "admin", name: "timer" });
    await admin.registerWorkflowDef(flow("http_hang", `${url}/hang`));
    const held = hanging.length;
    const id = await admin.startWorkflow("http_hang", {});
    await eventually(
      async () => hanging.length,
      (n) => n > held,
    );
    s.clock.advance(5_001);
    const run = await eventually(
      () => admin.getWorkflow(id),
      (r) => r.status !== "RUNNING",
    );
    assert.equal(run.status, "FAILED");
    assert.match(run.reasonForIncompletion ?? "", /no answer within 5 s/);
  });

  it("cap calls in flight server-wide; beyond the waiting room a call fails saying so", async () => {
    const admin = await s.clientWithNewKey({ role: "admin", name: "flood" });
    await admin.registerWorkflowDef(flow("http_flood", `${url}/hold`));
    const ids = [await admin.startWorkflow("http_flood", {})];
    await eventually(
      async () => holding.length,
      (n) => n === 1,
    );
    ids.push(await admin.startWorkflow("http_flood", {}), await admin.startWorkflow("http_flood", {}));
    const refused = await eventually(
      async () => (await Promise.all(ids.map((id) => admin.getWorkflow(id)))).filter((r) => r.status === "FAILED"),
      (failed) => failed.length === 1,
    );
    assert.match(refused[0]!.reasonForIncompletion ?? "", /too many HTTP calls in flight \(1, BATON_HTTP_MAX_IN_FLIGHT\)/);
    assert.equal(holding.length, 1, "only one call reached the service at a time");
    // Answer the held call: the waiting one goes next, then completes too.
    holding.shift()!.end("{}");
    await eventually(
      async () => holding.length,
      (n) => n === 1,
    );
    holding.shift()!.end("{}");
    const runs = await Promise.all(
      ids.map((id) =>
        eventually(
          () => admin.getWorkflow(id),
          (r) => r.status !== "RUNNING",
        ),
      ),
    );
    assert.deepEqual(runs.map((r) => r.status).sort(), ["COMPLETED", "COMPLETED", "FAILED"]);
  });
});
