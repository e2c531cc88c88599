// Problems found in a flow before it reaches a server. Each rule has a stable code
// so tools and docs can refer to it; each problem points at the builder call.
import { formatLocation, type SourceLocation } from "./location.js";

export const DIAGNOSTIC_CODES = {
  /** The compiled definition breaks a Conductor rule not covered by a more precise code. */
  BATON100: "conductor-rule",
  /** Two steps share a reference name. */
  BATON101: "duplicate-ref",
  /** An expression reads a step that is not in this flow. */
  BATON102: "unknown-ref",
  /** An expression reads a step that does not run before it on every path. */
  BATON103: "ref-not-before",
  /** A JOIN waits on a step that is not the tail of one of its fork's branches. */
  BATON104: "join-not-tail",
  /** A fork, branch or loop has no steps. */
  BATON105: "empty-body",
  /** A worker task whose type was not declared with taskType() and has no task definition. */
  BATON106: "unknown-task-type",
  /** One step was placed in two places (two branches, or a branch and a loop). */
  BATON107: "step-placed-twice",
  /** The flow body threw or returned a promise. */
  BATON108: "bad-flow-body",
  /** Two task types declared under one name with different settings. */
  BATON109: "conflicting-task-defs",
} as const;

export type DiagnosticCode = keyof typeof DIAGNOSTIC_CODES;

export interface Diagnostic {
  code: DiagnosticCode;
  severity: "error" | "warning";
  message: string;
  /** JSON pointer into the compiled WorkflowDef. */
  path: string;
  /** The builder call that created the offending step. */
  location?: SourceLocation;
}

/** `file:line:col - error BATON101: message`, the way compilers print. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${formatLocation(d.location)} - ${d.severity} ${d.code}: ${d.message}`;
}

/** An error diagnostic; the location is left out when unknown. */
export function errorAt(code: DiagnosticCode, message: string, path: string, location: SourceLocation | undefined): Diagnostic {
  return location ? { code, severity: "error", message, path, location } : { code, severity: "error", message, path };
}
