// HTTP tasks reach nothing until an allowlist is configured, and what they
// bring back is bounded (issue 14, point 4). Before, loopback was allowed by
// default: an operator's flow read the server's own /metrics into a task output.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { serverOptionsFromEnv } from "@baton/server";
import { eventually } from "../support/harness.js";
import { startSecureServer, type SecureServer } from "./support.js";

let target: Server;
let url: string;

const flow = (name: string, uri: string) => ({
  name,
  version: 1,
  schemaVersion: 2,
  tasks: [{ name: "call", taskReferenceName: "call", type: "HTTP", inputParameters: { http_request: { uri, method: "GET" } } }],
});

before(async () => {
  // An internal service on loopback: small and large answers.
  target = createServer((req, res) => {
    if (req.url === "/large") res.end("x".repeat(3 * 1024 * 1024));
    else res.end(JSON.stringify({ secret: "internal" }));
  });
  await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => target.close(() => resolve())));

async function runOn(s: SecureServer, name: string, uri: string) {
  const admin = s.client((await s.registry.create({ role: "admin", name: "admin" })).key);
  await admin.registerWorkflowDef(flow(name, uri));
  const id = await admin.startWorkflow(name, {});
  return eventually(() => admin.getWorkflow(id), (run) => run.status === "COMPLETED" || run.status === "FAILED");
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
