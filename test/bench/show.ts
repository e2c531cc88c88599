// Prints the table of a report already written: node --import tsx test/bench/show.ts [bench-results/report.json]
import { readFileSync } from "node:fs";
import path from "node:path";
import { renderTable, type Report } from "./lib/report.js";
import { ROOT } from "./lib/util.js";

const file = process.argv[2] ?? path.join(ROOT, "bench-results", "report.json");
const report = JSON.parse(readFileSync(file, "utf8")) as Report;
console.log(
  `${report.mode} run, started ${report.startedAt}; PostgreSQL ${Object.entries(report.postgres)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ")}\n`,
);
console.log(renderTable(report));
if (report.notes.length) console.log(`\nNotes:\n${report.notes.map((n) => `  - ${n}`).join("\n")}`);
