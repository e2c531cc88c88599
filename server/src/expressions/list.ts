// Every `${...}` of a template with where it stands, for static checks at
// publish time (e.g. warning about a path that cannot exist).
import { parseTemplate, type Part } from "./template.js";

export interface ExpressionSite {
  /** JSON pointer (RFC 6901) of the string holding the expression, "" for the template itself. */
  path: string;
  /** The text between `${` and `}`, e.g. "workflow.input.a". */
  expression: string;
}

/** Lists expressions depth first; a nested one (`${a.${b}}`) is listed after the one holding it. */
export function listExpressions(template: unknown): ExpressionSite[] {
  const sites: ExpressionSite[] = [];
  visit(template, "", sites);
  return sites;
}

function visit(value: unknown, pointer: string, sites: ExpressionSite[]): void {
  if (typeof value === "string") {
    collect(parseTemplate(value), pointer, sites);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => visit(item, `${pointer}/${i}`, sites));
  } else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) visit(item, `${pointer}/${escapePointer(key)}`, sites);
  }
}

function collect(parts: readonly Part[], pointer: string, sites: ExpressionSite[]): void {
  for (const part of parts) {
    if (part.kind !== "expr") continue;
    sites.push({ path: pointer, expression: part.source });
    if (part.nested) collect(part.nested, pointer, sites);
  }
}

function escapePointer(key: string): string {
  return key.replaceAll("~", "~0").replaceAll("/", "~1");
}
