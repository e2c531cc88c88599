// Each fault test prints its figures in one line, and appends them to
// BATON_FAULTS_REPORT (a JSON-lines file) when `npm run faults` collects a table.
import { appendFileSync } from "node:fs";
import type { CheckResult, Figures } from "./history.js";

export function figures(
  test: string,
  load: string,
  faults: string,
  check: Pick<CheckResult, "runsLost" | "wrongEnd" | "stuck" | "duplicateTransitions" | "redeliveries"> | undefined,
  notes: Record<string, unknown> = {},
): Figures {
  return {
    test,
    load,
    faults,
    runsLost: check ? check.runsLost + check.wrongEnd : 0,
    stuck: check?.stuck ?? 0,
    duplicateTransitions: check?.duplicateTransitions ?? 0,
    redeliveries: check?.redeliveries ?? 0,
    notes,
  };
}

export function report(f: Figures): void {
  const notes = Object.entries(f.notes ?? {})
    .map(([k, v]) => `${k}=${typeof v === "number" ? Math.round(v * 100) / 100 : typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  console.log(
    `[faults] ${f.test}: load ${f.load}; faults ${f.faults}; runs lost ${f.runsLost}; stuck ${f.stuck}; duplicate transitions ${f.duplicateTransitions}; re-deliveries ${f.redeliveries}${notes ? `; ${notes}` : ""}`,
  );
  const file = process.env["BATON_FAULTS_REPORT"];
  if (file) appendFileSync(file, JSON.stringify(f) + "\n");
}
