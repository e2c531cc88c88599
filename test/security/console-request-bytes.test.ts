// The console's port bounds the request bytes it holds at once, across its
// calls. Connect reads each body whole and parses it before a service sees
// the call: 300 reader calls of 1 MB at once took 220 MB and held the serving
// thread for seconds. Large bodies now take room in a budget from their
// arrival until their answer is done; with none left, a call is refused
// RESOURCE_EXHAUSTED before its body is read, and small calls go on.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { DEFAULT_REQUEST_BUDGET } from "../../server/src/request-bytes.js";
import { startSecureConsole, type SecureServer } from "./support.js";

let s: SecureServer;
let url: URL;
let readerKey: string;

before(async () => ({ s, url, readerKey } = await startSecureConsole()));
after(() => s?.close());

const SEARCH = "/baton.v1.WorkflowService/SearchWorkflows";
const MAX_BODY = 16 * 1024 * 1024 - 1;

/** A call announcing the largest body, of which only the start is ever sent: it holds its room until it is destroyed. */
function stalledCall(): http.ClientRequest {
  const req = http.request({
    host: url.hostname,
    port: url.port,
    method: "POST",
    path: SEARCH,
    agent: false,
    headers: { "content-type": "application/json", "content-length": MAX_BODY, authorization: `Bearer ${readerKey}` },
  });
  req.on("error", () => {});
  req.write('{"name":"');
  return req;
}

/** A whole search call of `bodyBytes` (padded with JSON's white space): its status and Connect error code, if any. */
async function call(bodyBytes: number): Promise<{ status: number; code: string | undefined; message: string | undefined; retryAfter: string | null }> {
  const request = JSON.stringify({ pageSize: 1 });
  const body = request + " ".repeat(Math.max(0, bodyBytes - request.length));
  const res = await fetch(`${url.origin}${SEARCH}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${readerKey}` },
    body,
  });
  const answer = (await res.json()) as { code?: string; message?: string };
  return { status: res.status, code: answer.code, message: answer.message, retryAfter: res.headers.get("retry-after") };
}

async function until<T>(get: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await get();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("request bytes held at once on the console's port", () => {
  it("refuses a large call while stalled bodies fill the budget, serves small ones, and takes large ones again once they go", async () => {
    const stalled = Array.from({ length: DEFAULT_REQUEST_BUDGET.totalBytes / (MAX_BODY + 1) }, () => stalledCall());
    try {
      const refused = await until(
        () => call(1024 * 1024),
        (a) => a.code === "resource_exhausted",
      );
      assert.equal(refused.status, 429, JSON.stringify(refused));
      assert.equal(refused.code, "resource_exhausted");
      assert.match(
        refused.message ?? "",
        /holds [\d.]+ MiB of requests being read or served .*Retry in a few seconds, send smaller payloads, or have an operator raise BATON_REQUEST_BYTES/,
      );
      assert.equal(refused.retryAfter, "5");
      const small = await call(1000);
      assert.equal(small.status, 200, "a small call is served while large ones fill the budget");
    } finally {
      for (const req of stalled) req.destroy();
    }
    const again = await until(
      () => call(1024 * 1024),
      (a) => a.code !== "resource_exhausted",
    );
    assert.equal(again.status, 200, `a large call is served once the stalled ones are gone: ${JSON.stringify(again)}`);
  });
});
