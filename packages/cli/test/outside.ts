// Commands run as a user types them in a project outside this repository:
// with none of this repository's environment (npm_*, BATON_*, the test runner's).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** A command as a user types it, in `cwd`, with nothing of this repository's environment. */
export function sh(command: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<Result> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("BATON_") && !k.startsWith("npm_") && k !== "NODE_TEST_CONTEXT" && k !== "NODE_OPTIONS"),
  );
  return new Promise((resolve) =>
    execFile(command, args, { cwd, env: { ...clean, ...env }, maxBuffer: 64 * 1024 * 1024, timeout: 600_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    ),
  );
}

export const ok = (r: Result, what: string) => assert.equal(r.code, 0, `${what}\n${r.stdout}\n${r.stderr}`);
