// What the differential suite compares, and how: a run reduced to its final
// status, reason, output, task list (reference, type, status, reason) and its
// failure workflow's status and output, with ids normalised and the messages
// an engine writes itself (script errors, its own wording) left out, while the
// texts a flow wrote (a terminationReason) and Conductor's fixed formats stay.
import type { RawRun } from "./engines.js";

export interface Snapshot {
  status: string;
  reason: string | null;
  output: unknown;
  /** Keyed by reference name; a reference's second instance (a retry) is `ref#2`. */
  tasks: Record<string, { type: string; status: string; reason: string | null }>;
  failureWorkflow?: { status: string; reason: string | null; output: unknown };
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** Ids read `<id>`; an `error` an engine wrote (a script's or jq's message) reads `<message>`. */
function normalise(value: unknown, authored: ReadonlySet<string>): unknown {
  if (typeof value === "string") return value.replace(UUID, "<id>");
  if (Array.isArray(value)) return value.map((v) => normalise(v, authored));
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, k === "error" && typeof v === "string" && !authored.has(v) ? "<message>" : normalise(v, authored)]),
    );
  }
  return value;
}

/**
 * A reason as compared: Conductor's fixed formats are kept with their parts
 * normalised; a text found in the flow or its input (the author wrote it) is
 * kept; anything else is the engine's own message and reads `<message>`.
 */
export function normaliseReason(text: string | null | undefined, authored: ReadonlySet<string>): string | null {
  if (!text) return null;
  const t = text.replace(UUID, "<id>");
  let m = /^Task <id> failed with status: \w+ and reason: '([\s\S]*)'$/.exec(t);
  // The status word is the engine's (Conductor writes FAILED for a terminal error too).
  if (m) return `Task <id> failed: ${normaliseReason(m[1], authored) ?? ""}`;
  m = /^Sub workflow (\S+)\/<id> failure reason: ([\s\S]*)$/.exec(t);
  if (m) return `Sub workflow ${m[1]}/<id> failure reason: ${normaliseReason(m[2], authored) ?? ""}`;
  if (/^Workflow is \w+ by TERMINATE task: <id>$/.test(t)) return t;
  if (/^(\S+\/<id> )+completed with errors$/.test(t)) return t;
  return authored.has(t) ? t : "<message>";
}

/** Every string a case wrote (in its definitions and input): the texts a reason may quote as written. */
export function authoredTexts(value: unknown, into = new Set<string>()): Set<string> {
  if (typeof value === "string") into.add(value);
  else if (Array.isArray(value)) for (const v of value) authoredTexts(v, into);
  else if (value && typeof value === "object") for (const v of Object.values(value)) authoredTexts(v, into);
  return into;
}

export function snapshot(run: RawRun, authored: ReadonlySet<string>, failure?: RawRun): Snapshot {
  const tasks: Snapshot["tasks"] = {};
  const seen = new Map<string, number>();
  for (const t of run.tasks) {
    const n = (seen.get(t.referenceTaskName) ?? 0) + 1;
    seen.set(t.referenceTaskName, n);
    tasks[n === 1 ? t.referenceTaskName : `${t.referenceTaskName}#${n}`] = {
      type: t.taskType,
      status: t.status,
      reason: normaliseReason(t.reasonForIncompletion, authored),
    };
  }
  return {
    status: run.status,
    reason: normaliseReason(run.reasonForIncompletion, authored),
    output: normalise(run.output, authored),
    tasks,
    ...(failure
      ? {
          failureWorkflow: {
            status: failure.status,
            reason: normaliseReason(failure.reasonForIncompletion, authored),
            output: normalise(failure.output, authored),
          },
        }
      : {}),
  };
}

export interface Difference {
  path: string;
  conductor: unknown;
  baton: unknown;
}

/** Every path at which the two snapshots differ (objects by key, lists by position). */
export function differences(conductor: unknown, baton: unknown, at = ""): Difference[] {
  const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
  if (isObject(conductor) && isObject(baton)) {
    const keys = [...new Set([...Object.keys(conductor), ...Object.keys(baton)])].sort();
    return keys.flatMap((k) => differences(conductor[k], baton[k], at ? `${at}.${k}` : k));
  }
  if (Array.isArray(conductor) && Array.isArray(baton) && conductor.length === baton.length) {
    return conductor.flatMap((v, i) => differences(v, baton[i], `${at}[${i}]`));
  }
  return JSON.stringify(conductor) === JSON.stringify(baton) ? [] : [{ path: at, conductor, baton }];
}

export type Verdict = { kind: "same" } | { kind: "on purpose"; differences: Difference[] } | { kind: "mistake"; unexpected: Difference[]; unmet: string[] };

/**
 * A case is "on purpose" when each difference lies at or under a path the case
 * expects to differ and each expected path does differ; anything else is a mistake
 * (a new difference, or an expected one that no longer happens). Paths in
 * `varies` are left out: Conductor's result there depends on timing.
 */
export function verdict(found: Difference[], expected: Record<string, string> = {}, varies: Record<string, string> = {}): Verdict {
  const paths = Object.keys(expected);
  const covers = (p: string, d: Difference) => d.path === p || d.path.startsWith(`${p}.`) || d.path.startsWith(`${p}[`);
  // Where Conductor's own outcome depends on timing, either outcome is accepted.
  found = found.filter((d) => !Object.keys(varies).some((p) => covers(p, d)));
  const unexpected = found.filter((d) => !paths.some((p) => covers(p, d)));
  const unmet = paths.filter((p) => !found.some((d) => covers(p, d)));
  if (unexpected.length === 0 && unmet.length === 0) return found.length === 0 ? { kind: "same" } : { kind: "on purpose", differences: found };
  return { kind: "mistake", unexpected, unmet };
}
