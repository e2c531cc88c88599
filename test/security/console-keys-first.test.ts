// The console's port checks a call's key before it reads the call's body.
// Connect reads a body whole (up to 16 MiB) and parses it before the services'
// gate sees the call: a caller with no key sent 10 MB of nested lists and held
// the serving thread for 4 s, only to be told it had no key. Now a call with
// no key, or a wrong one, is answered while its body is still on its way, and
// its connection closed; a call with a key goes on as before.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { startSecureConsole, type SecureServer } from "./support.js";

let s: SecureServer;
let url: URL;
let readerKey: string;

before(async () => ({ s, url, readerKey } = await startSecureConsole()));
after(() => s?.close());

interface Answer {
  status: number;
  body: string;
}

/**
 * Starts a Connect JSON call announcing a 16 MB body, sends its first 64 KiB
 * of nested lists and never the rest: resolves with the answer if one comes
 * while the body is unfinished (undefined if none within `waitMs`).
 */
function callWithUnfinishedBody(key: string | undefined, waitMs: number): Promise<Answer | undefined> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname,
      port: url.port,
      method: "POST",
      path: "/baton.v1.WorkflowService/SearchWorkflows",
      headers: {
        "content-type": "application/json",
        "content-length": 16 * 1024 * 1024 - 1,
        ...(key ? { authorization: `Bearer ${key}` } : {}),
      },
    });
    const timer = setTimeout(() => {
      req.destroy();
      resolve(undefined);
    }, waitMs);
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => {
        clearTimeout(timer);
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.write('{"name":' + "[".repeat(64 * 1024 - 8));
  });
}

describe("the console port checks the key before the body", () => {
  it("answers a call without a key while its body is still on its way", async () => {
    const answer = await callWithUnfinishedBody(undefined, 10_000);
    assert.ok(answer, "no answer while the body was unfinished: the server waited to read it all");
    assert.equal(answer.status, 401);
    assert.equal(JSON.parse(answer.body).code, "unauthenticated");
    assert.match(JSON.parse(answer.body).message, /no API key/);
  });

  it("answers a call with a wrong key the same way", async () => {
    const answer = await callWithUnfinishedBody("bk_aaaaaaaaaaaa_nottherightsecretatall", 10_000);
    assert.ok(answer, "no answer while the body was unfinished");
    assert.equal(answer.status, 401);
    assert.equal(JSON.parse(answer.body).code, "unauthenticated");
  });

  it("reads the body of a call whose key is good", async () => {
    // Not answered until the body is whole: the key let it through to Connect.
    assert.equal(await callWithUnfinishedBody(readerKey, 1500), undefined);
    const res = await fetch(`${url.origin}/baton.v1.WorkflowService/SearchWorkflows`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${readerKey}` },
      body: JSON.stringify({ pageSize: 1 }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {});
  });
});
