// `npm run conformance:diff`: runs every case of cases/ on a real Conductor
// 3.21.14 and on Baton and compares them (see compare.ts). Prints each
// difference that was not expected, and the count: cases, same, different on
// purpose, different by mistake. Exits 1 when any case differs by mistake, 3
// when Conductor cannot be installed or started.
//   --only <substring>   run only the cases whose name contains it
//   --show               print every case's two snapshots
// BATON_DIFF_CONDUCTOR=http://127.0.0.1:<port> uses a Conductor already running.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { fixture, TASK_DEFS } from "../support.js";
import { authoredTexts, differences, snapshot, verdict, type Snapshot } from "./compare.js";
import { CONDUCTOR_VERSION, javaVersion, runningConductor, startBatonEngine, startConductorEngine, type Engine, type RawRun } from "./engines.js";

type Def = Record<string, unknown> & { name: string };

interface Case {
  name: string;
  /** Definitions written for the case; the first is the one started. */
  workflows?: Def[];
  /** Conductor's fixtures (files of ../shared/conformance/conductor); the first is started unless `start` names another. */
  fixtures?: string[];
  start?: string;
  input?: Record<string, unknown>;
  correlationId?: string;
  /** Paths where Baton differs on purpose, each with the reason (see README "Differences from Conductor"). */
  differences?: Record<string, string>;
  /** Paths where Conductor's own result depends on timing (a race of its own), each with the reason: not compared. */
  varies?: Record<string, string>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined;
const show = args.includes("--show");
const log = (line: string) => console.log(line);

function loadCases(): (Case & { defs: Def[]; startName: string })[] {
  const dir = path.join(here, "cases");
  const cases = readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .flatMap((f) => (JSON.parse(readFileSync(path.join(dir, f), "utf8")) as Case[]).map((c) => ({ ...c, name: `${f.replace(/\.json$/, "")}: ${c.name}` })));
  const owner = new Map<string, string>();
  const loaded = cases.map((c) => {
    const defs = [...(c.workflows ?? []), ...(c.fixtures ?? []).map((file) => fixture(file) as Def)].map((d) => ({
      version: 1,
      schemaVersion: 2,
      ...d,
    }));
    if (defs.length === 0) throw new Error(`case "${c.name}" has neither workflows nor fixtures`);
    for (const d of defs) {
      const body = JSON.stringify(d);
      const before = owner.get(d.name);
      // Cases run at once: a name two cases define differently would make one run the other's flow.
      if (before !== undefined && before !== body) throw new Error(`workflow ${d.name} is defined differently by two cases; give one another name`);
      owner.set(d.name, body);
    }
    return { ...c, defs, startName: c.start ?? defs[0]!.name };
  });
  return only ? loaded.filter((c) => c.name.includes(only)) : loaded;
}

async function runOn(engine: Engine, c: ReturnType<typeof loadCases>[number], authored: ReadonlySet<string>): Promise<Snapshot> {
  const id = await engine.start(c.startName, c.input ?? {}, c.correlationId);
  const run = await engine.ended(id, 60_000);
  const failureId = run.output["conductor.failure_workflow"];
  const failure: RawRun | undefined = typeof failureId === "string" ? await engine.ended(failureId, 60_000) : undefined;
  return snapshot(run, authored, failure);
}

async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

const cases = loadCases();
log(`${cases.length} cases; Conductor ${CONDUCTOR_VERSION} (Java ${await javaVersion()}) and Baton, both over Conductor's REST API with the same client`);
const began = Date.now();
const running = process.env["BATON_DIFF_CONDUCTOR"];
let conductor: Engine;
try {
  conductor = running ? runningConductor(running) : await startConductorEngine(log);
} catch (error) {
  // Not a finding about Baton: exit 3 (no jar, no Java, no network, or a JVM that did not come up).
  console.error(`Conductor ${CONDUCTOR_VERSION} could not be installed or started: ${(error as Error).message}`);
  process.exit(3);
}
const baton = await startBatonEngine();
const counts = { same: 0, onPurpose: 0, mistake: 0 };
try {
  const defs = [...new Map(cases.flatMap((c) => c.defs).map((d) => [d.name, d])).values()];
  // The fixtures' worker tasks (never reached by these cases) need their definitions on Conductor.
  const workerTasks = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") {
      const t = v as Record<string, unknown>;
      if (typeof t["taskReferenceName"] === "string" && (t["type"] ?? "SIMPLE") === "SIMPLE") workerTasks.add(String(t["name"]));
      Object.values(t).forEach(walk);
    }
  };
  walk(defs);
  const taskDefs = TASK_DEFS.filter((d) => workerTasks.has(String(d["name"])));
  await conductor.register(defs, taskDefs);
  await baton.register(defs, taskDefs);
  await pool(cases, 6, async (c) => {
    const authored = authoredTexts([c.defs, c.input ?? {}]);
    let line: string;
    try {
      let [onConductor, onBaton] = await Promise.all([runOn(conductor, c, authored), runOn(baton, c, authored)]);
      if (onConductor.status === "RUNNING" && onBaton.status !== "RUNNING") {
        // Conductor sometimes leaves a run RUNNING after every task ended (its asynchronous JOIN not
        // evaluated again): such a run says nothing about semantics, so the case runs once more on both.
        log(`again        ${c.name}: Conductor's run was still RUNNING after 60 s`);
        [onConductor, onBaton] = await Promise.all([runOn(conductor, c, authored), runOn(baton, c, authored)]);
      }
      const found = differences(onConductor, onBaton);
      const v = verdict(found, c.differences, c.varies);
      if (show) log(`--- ${c.name}\n  conductor: ${JSON.stringify(onConductor)}\n  baton:     ${JSON.stringify(onBaton)}`);
      if (v.kind === "same") {
        counts.same++;
        line = `same         ${c.name}`;
      } else if (v.kind === "on purpose") {
        counts.onPurpose++;
        line = `on purpose   ${c.name}: ${[...new Set(Object.values(c.differences ?? {}))].join("; ")}`;
      } else {
        counts.mistake++;
        line = [
          `MISTAKE      ${c.name}`,
          ...v.unexpected.map((d) => `    ${d.path}: conductor ${JSON.stringify(d.conductor)} / baton ${JSON.stringify(d.baton)}`),
          ...v.unmet.map((p) => `    ${p}: expected to differ, but it is the same`),
        ].join("\n");
      }
    } catch (error) {
      counts.mistake++;
      line = `MISTAKE      ${c.name}: ${(error as Error).message}`;
    }
    log(line);
  });
} finally {
  await Promise.all([conductor.close(), baton.close()]);
}
log(
  `\ncases ${cases.length}, same ${counts.same}, different on purpose ${counts.onPurpose}, different by mistake ${counts.mistake}  (${((Date.now() - began) / 1000).toFixed(0)} s)`,
);
process.exit(counts.mistake > 0 ? 1 : 0);
