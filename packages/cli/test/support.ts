// Test support: the built `baton` run as a child process against a real
// server started here on a real PostgreSQL — the shared one of `npm test`
// (BATON_TEST_DATABASE_URL, a fresh database per file) or, run alone, one
// embedded PostgreSQL per test file in a temp dir.
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { createLogger, startEmbeddedPostgres, startServer, type BatonServer, type EmbeddedDatabase } from "@baton/server";

export const CLI_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const REPO = path.resolve(CLI_DIR, "../..");
export const MAIN = path.join(CLI_DIR, "dist/main.js");

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(full) : statSync(full).mtimeMs);
  }
  return t;
}

/** Builds the CLI (and what it references) when dist is missing or older than src. */
export function ensureBuilt(): void {
  let built = 0;
  try {
    built = statSync(MAIN).mtimeMs;
  } catch {
    built = 0;
  }
  if (built >= newest(path.join(CLI_DIR, "src"))) return;
  const tsc = (args: string[]) => execFileSync(process.execPath, [path.join(REPO, "node_modules/typescript/bin/tsc"), ...args], { cwd: REPO, stdio: "pipe" });
  try {
    tsc(["--build", "packages/cli"]);
  } catch {
    // A referenced package that does not compile right now: build the CLI alone
    // against the references' last outputs.
    tsc(["-p", "packages/cli"]);
  }
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** Runs `baton ...args`; never throws for a non-zero exit. */
export function baton(args: string[], options: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      {
        cwd: options.cwd ?? REPO,
        env: { ...process.env, BATON_DEBUG: "", ...options.env },
        timeout: options.timeoutMs ?? 300_000, // a loaded machine compiles slowly: a bound on hangs, not a speed check
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export interface TestServer {
  address: string;
  server: BatonServer;
  /** `baton` with BATON_ADDRESS pointing at this server. */
  cli(args: string[], options?: RunOptions): Promise<CliResult>;
  close(): Promise<void>;
}

/** A database owned by Baton's role (BATON_TEST_ROLE_URL), as that role: the server connects as production's does. */
async function freshDatabase(shared: string): Promise<string> {
  const name = `cli_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const role = process.env["BATON_TEST_ROLE_URL"];
  const admin = new pg.Client({ connectionString: shared });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}${role ? ` OWNER ${decodeURIComponent(new URL(role).username)}` : ""}`);
  await admin.end();
  const url = new URL(role ?? shared);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A server on its own database; one embedded PostgreSQL per test file when run alone. */
export async function startTestServer(): Promise<TestServer> {
  ensureBuilt();
  const shared = process.env["BATON_TEST_DATABASE_URL"];
  let db: EmbeddedDatabase | undefined;
  let dataDir: string | undefined;
  let databaseUrl: string;
  if (shared) databaseUrl = await freshDatabase(shared);
  else {
    dataDir = mkdtempSync(path.join(tmpdir(), "baton-cli-pg-"));
    db = await startEmbeddedPostgres({ dataDir });
    databaseUrl = db.url;
  }
  const server = await startServer({ databaseUrl, port: 0, logger: createLogger(process.env["BATON_LOG_LEVEL"] ?? "silent") });
  return {
    address: server.address,
    server,
    cli: (args, options = {}) => baton(args, { ...options, env: { BATON_ADDRESS: server.address, ...options.env } }),
    async close() {
      await server.close();
      await db?.stop();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A temp project: files written from `files`, with @baton/sdk resolvable from it. */
export function tempProject(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), "baton-cli-proj-"));
  mkdirSync(path.join(dir, "node_modules/@baton"), { recursive: true });
  symlinkSync(path.join(REPO, "packages/sdk"), path.join(dir, "node_modules/@baton/sdk"), "dir");
  const all: Record<string, string> = {
    "package.json": JSON.stringify({ name: "flows-under-test", private: true, type: "module" }),
    "tsconfig.json": JSON.stringify({
      compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, skipLibCheck: true, noEmit: true },
    }),
    ...files,
  };
  for (const [name, text] of Object.entries(all)) writeFile(dir, name, text);
  return dir;
}

export function writeFile(dir: string, name: string, text: string): void {
  mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
  writeFileSync(path.join(dir, name), text);
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export const json = <T = Record<string, unknown>>(text: string): T => JSON.parse(text) as T;
