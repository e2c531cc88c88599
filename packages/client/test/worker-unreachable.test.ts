// A TypeScript worker that cannot reach its server says so on stderr, naming
// the address and what to do, once (not per retry), without any onError given.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

test("a worker with no server to reach prints what is wrong and what to do", async () => {
  const port = await closedPort();
  const script = `
    import { Worker } from "@baton/client";
    new Worker({ address: "127.0.0.1:${port}", minBackoffMs: 10, maxBackoffMs: 20 }).handle("nobody_home", async () => ({})).start();
    setTimeout(() => process.exit(0), 1500);
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  assert.equal(code, 0);
  assert.equal(
    stderr,
    `baton worker: cannot reach the Baton server at 127.0.0.1:${port} (connection refused); retrying. Start one with \`baton dev\`, or set BATON_ADDRESS (or the address option)\n`,
    "one line, though it retried many times",
  );
});
