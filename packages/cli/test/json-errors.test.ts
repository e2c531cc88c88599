// With -o json, a failure is one JSON object on stderr ({"error":{message,
// exitCode}}) and the exit code is the documented one; text mode is unchanged.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { baton, ensureBuilt } from "./support.js";

const parse = (stderr: string) => (JSON.parse(stderr) as { error: { message: string; exitCode: number } }).error;

test("a server that is not there: the message and exit 1, as JSON", async () => {
  ensureBuilt();
  const r = await baton(["get", "some-id", "-o", "json"], { env: { BATON_ADDRESS: "127.0.0.1:1" } });
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.deepEqual(parse(r.stderr), {
    message: "cannot reach a Baton server at 127.0.0.1:1 (connection refused); start one with `baton dev` or set BATON_ADDRESS / --address",
    exitCode: 1,
  });
  const text = await baton(["get", "some-id"], { env: { BATON_ADDRESS: "127.0.0.1:1" } });
  assert.match(text.stderr, /^error: cannot reach a Baton server at 127\.0\.0\.1:1/);
});

test("usage errors (commander's and our own) are JSON with exit 2", async () => {
  const unknown = await baton(["get", "--bogus", "-o", "json"]);
  assert.equal(unknown.code, 2);
  assert.deepEqual(parse(unknown.stderr), { message: "unknown option '--bogus'", exitCode: 2 });

  const badInput = await baton(["start", "flow", "--input", "{nope", "--output", "json"], { env: { BATON_ADDRESS: "127.0.0.1:1" } });
  assert.equal(badInput.code, 2);
  assert.match(parse(badInput.stderr).message, /^--input is not valid JSON: /);

  // Refused here, naming the flag: 2,000,000 levels overflowed the stack writing the input out for the call.
  const deep = await baton(["start", "flow", "--input", `{"x":${"[".repeat(5000)}${"]".repeat(5000)}}`, "-o", "json"], {
    env: { BATON_ADDRESS: "127.0.0.1:1" },
  });
  assert.equal(deep.code, 2);
  assert.equal(parse(deep.stderr).message, "--input nests deeper than 100 levels, the most a payload may");

  const badNumber = await baton(["search", "--limit", "abc", "-o", "json"]);
  assert.equal(badNumber.code, 2);
  assert.equal(parse(badNumber.stderr).message, '--limit must be a whole number between 1 and 10000, not "abc"');
});

test("a definition or flow that does not validate: the report on stdout, the failure on stderr, exit 4", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "baton-json-errors-"));
  try {
    const bad = path.join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ name: "bad", tasks: [{ type: "SIMPLE" }] }));
    const publish = await baton(["publish", bad, "-o", "json"], { env: { BATON_ADDRESS: "127.0.0.1:1" } });
    assert.equal(publish.code, 4);
    assert.equal((JSON.parse(publish.stdout) as { ok: boolean }).ok, false);
    assert.deepEqual(parse(publish.stderr), { message: "2 errors; nothing was sent to the server", exitCode: 4 });

    const flow = path.join(dir, "broken.ts");
    writeFileSync(flow, "export const x = ;\n");
    for (const flag of ["-o", "--json"]) {
      const compile = await baton(["compile", flow, ...(flag === "-o" ? ["-o", "json"] : ["--json"])], { cwd: dir });
      assert.equal(compile.code, 4);
      assert.equal((JSON.parse(compile.stdout) as { ok: boolean }).ok, false);
      assert.deepEqual(parse(compile.stderr), { message: "1 error; nothing written", exitCode: 4 });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
