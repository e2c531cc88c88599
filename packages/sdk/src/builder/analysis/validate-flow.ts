// All of a flow's checks, in one list of diagnostics with codes and locations.
import { validateWorkflowDef } from "../../validate.js";
import type { CompiledFlow, FlowState } from "../compile-flow.js";
import { isPlainObject } from "../compile-flow.js";
import type { Diagnostic } from "../diagnostics.js";
import { locationAt, siteAt } from "./locate.js";
import { badReads } from "./precedence.js";
import { duplicateRefs, emptyBodies, joinTails, undeclaredTaskTypes } from "./structure.js";

export interface FlowValidationOptions {
  /** Whether the server has a task definition by this name (for worker tasks named by string). */
  hasTaskDef?: (name: string) => boolean;
}

function withLocation(d: Omit<Diagnostic, "location">, location: Diagnostic["location"]): Diagnostic {
  return location ? { ...d, location } : d;
}

export function validateFlow(state: FlowState, compiled: CompiledFlow, options?: FlowValidationOptions): Diagnostic[] {
  const { sites, def } = compiled;
  const out: Diagnostic[] = [...state.build.diagnostics];
  if (state.output !== undefined && !isPlainObject(state.output)) {
    out.push(
      withLocation(
        { code: "BATON108", severity: "error", path: "/outputParameters", message: "the flow body must return an object (the flow's output) or nothing" },
        state.location,
      ),
    );
  }
  out.push(...duplicateRefs(sites), ...emptyBodies(sites), ...joinTails(sites), ...undeclaredTaskTypes(sites, options?.hasTaskDef));

  for (const read of badReads(def)) {
    const message = read.missing
      ? `${read.expression} reads step "${read.ref}", which is not in this flow`
      : `${read.expression} reads step "${read.ref}", which does not run before this point on every path`;
    out.push(
      withLocation({ code: read.missing ? "BATON102" : "BATON103", severity: "error", path: read.path, message }, locationAt(sites, read.path, state.location)),
    );
  }

  for (const name of compiled.conflictingTaskDefs) {
    out.push(
      withLocation(
        { code: "BATON109", severity: "error", path: "", message: `two different task definitions are declared under the name "${name}"` },
        state.location,
      ),
    );
  }

  // Conductor's own rules, as a safety net: skip steps a precise rule already reported.
  const reported = new Set(out.map((d) => siteAt(sites, d.path)?.path ?? d.path));
  for (const issue of validateWorkflowDef(def).errors) {
    const at = siteAt(sites, issue.path)?.path ?? issue.path;
    if (reported.has(at)) continue;
    out.push(withLocation({ code: "BATON100", severity: "error", path: issue.path, message: issue.message }, locationAt(sites, issue.path, state.location)));
  }
  return out;
}
