// Writing compiled flows: one `<name>.v<version>.json` per flow version and a
// `taskdefs.json` ({"taskDefs": [...]}) that `baton publish` reads back.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { CompileResult } from "./index.js";

export interface Written {
  flows: { name: string; version: number; file: string; source: { file: string; exportName: string } }[];
  taskDefs: string | undefined;
}

const safe = (name: string): string => name.replace(/[^A-Za-z0-9._-]/g, "_");

export const pretty = (value: unknown): string => JSON.stringify(value, null, 2) + "\n";

export function writeOutputs(result: CompileResult, outDir: string): Written {
  mkdirSync(outDir, { recursive: true });
  const flows = result.flows.map((flow) => {
    const file = path.join(outDir, `${safe(flow.name)}.v${flow.version}.json`);
    // The builder emits keys in Conductor's order, so the same flow always gives the same bytes.
    writeFileSync(file, pretty(flow.def));
    return { name: flow.name, version: flow.version, file, source: flow.source };
  });
  let taskDefs: string | undefined;
  if (result.taskDefs.length > 0) {
    taskDefs = path.join(outDir, "taskdefs.json");
    writeFileSync(taskDefs, pretty({ taskDefs: result.taskDefs }));
  }
  return { flows, taskDefs };
}
