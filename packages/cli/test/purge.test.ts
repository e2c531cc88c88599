// baton runs purge removes runs for good, so it asks: on a terminal it says how
// many runs (of which workflow, ended before when) and removes them only on
// "y"; with no terminal to ask on (CI, a script) it refuses unless given --yes,
// naming --yes and --dry-run, and removes nothing. Against a real server; the
// terminal is a pseudo-terminal from util-linux's `script`.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { BatonClient } from "@baton/client";
import { json, MAIN, startTestServer, type CliResult, type TestServer } from "./support.js";

/** Ends at once, COMPLETED. */
const quick = {
  name: "cli_purge_quick",
  version: 1,
  tasks: [{ name: "done", taskReferenceName: "done", type: "TERMINATE", inputParameters: { terminationStatus: "COMPLETED" } }],
  schemaVersion: 2,
};

const hasScript = spawnSync("script", ["--version"]).status === 0;

describe("baton runs purge asks", () => {
  let s: TestServer;
  let client: BatonClient;

  before(async () => {
    s = await startTestServer();
    client = new BatonClient({ address: s.address });
    await client.registerWorkflowDef(quick);
  });
  after(async () => {
    client?.close();
    await s?.close();
  });

  /** Starts `n` runs of the quick flow and returns their ids once each has ended. */
  async function endedRuns(n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await s.cli(["start", quick.name, "--wait", "-o", "json"]);
      assert.equal(r.code, 0, r.stderr);
      ids.push(json<{ workflowId: string }>(r.stdout).workflowId);
    }
    return ids;
  }

  /** How many ended runs of the quick flow a purge up to a minute ahead would remove. */
  async function left(): Promise<number> {
    return (await client.purgeRuns(Date.now() + 60_000, { workflow: quick.name, dryRun: true })).runs;
  }

  /** `baton ...args` on a pseudo-terminal, typing `answer` and Enter; stdout and stderr come back together. */
  function onTerminal(args: string[], answer: string): Promise<CliResult> {
    const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
    const command = [process.execPath, MAIN, ...args].map(quote).join(" ");
    return new Promise((resolve) => {
      const child = spawn("script", ["-qec", command, "/dev/null"], { env: { ...process.env, BATON_DEBUG: "", BATON_ADDRESS: s.address } });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (out += d.toString()));
      child.on("close", (code) => resolve({ code: code ?? 1, stdout: out, stderr: "" }));
      child.stdin.end(`${answer}\n`);
    });
  }

  test("without a terminal it refuses unless given --yes, naming --yes and --dry-run, and removes nothing", async () => {
    await endedRuns(2);
    const refused = await s.cli(["runs", "purge", "--before", "+1m", "--workflow", quick.name]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.equal(refused.stdout, "");
    assert.match(
      refused.stderr,
      /^error: runs purge removes runs for good and asks first, but there is no terminal to ask on: add --yes to remove the runs of cli_purge_quick that ended before .+, or --dry-run to count them$/m,
    );
    // -o json: the error is JSON on stderr, with the same exit code.
    const refusedJson = await s.cli(["runs", "purge", "--before", "now", "-o", "json"]);
    assert.equal(refusedJson.code, 2);
    assert.equal(refusedJson.stdout, "");
    const error = json<{ error: { message: string; exitCode: number } }>(refusedJson.stderr).error;
    assert.equal(error.exitCode, 2);
    assert.match(error.message, /--yes .*--dry-run/);
    assert.equal(await left(), 2, "nothing removed");

    const counted = await s.cli(["runs", "purge", "--before", "+1m", "--workflow", quick.name, "--dry-run", "-o", "json"]);
    assert.equal(counted.code, 0, counted.stderr);
    assert.equal(json<{ runs: number }>(counted.stdout).runs, 2);

    const removed = await s.cli(["runs", "purge", "--before", "+1m", "--workflow", quick.name, "--yes", "-o", "json"]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual([json<{ runs: number; dryRun: boolean }>(removed.stdout).runs, json<{ dryRun: boolean }>(removed.stdout).dryRun], [2, false]);
    assert.equal(await left(), 0);
  });

  test(
    "on a terminal it says how many runs it will remove and removes them only when told yes",
    { skip: hasScript ? false : "needs util-linux's script for a terminal" },
    async () => {
      const [kept] = await endedRuns(3);
      const declined = await onTerminal(["runs", "purge", "--before", "+1m", "--workflow", quick.name], "n");
      assert.equal(declined.code, 1, declined.stdout);
      assert.match(declined.stdout, /remove 3 ended runs of cli_purge_quick \(3 tasks\) that ended before .+, for good\? \[y\/N\]/);
      assert.match(declined.stdout, /error: not confirmed: nothing removed/);
      assert.equal(await left(), 3, "nothing removed");
      assert.equal((await client.getWorkflow(kept!)).status, "COMPLETED");

      const confirmed = await onTerminal(["runs", "purge", "--before", "+1m", "--workflow", quick.name], "y");
      assert.equal(confirmed.code, 0, confirmed.stdout);
      assert.match(confirmed.stdout, /remove 3 ended runs of cli_purge_quick \(3 tasks\) that ended before .+\[y\/N\]/);
      assert.match(confirmed.stdout, /removed 3 runs \(3 tasks\) ended before .+ of cli_purge_quick/);
      assert.equal(await left(), 0);
    },
  );
});
