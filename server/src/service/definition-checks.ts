// What a definition is checked for on the server when it is published, beyond
// the SDK's checks (validateWorkflowDef): what only the server's own engines
// can say. A JSONPath filter using what the bounded evaluator refuses (a
// pattern RE2 cannot run, a method it does not offer, a pattern read from
// data), and an inputSchema that does not compile on RE2, are refused here
// with what to use instead, rather than reading as missing or refusing every
// start later.
import type { ValidationIssue, WorkflowDef } from "@baton/sdk";
import { listExpressions, pathProblems } from "../expressions/index.js";
import type { Queries } from "../sandbox/queries.js";
import { inputSchemaProblem } from "./run-input.js";

/** Compiling the inputSchema takes `queries` (its pool): ajv is not run on the thread that serves calls. */
export async function definitionProblems(def: WorkflowDef, queries: Pick<Queries, "schemaProblem">): Promise<ValidationIssue[]> {
  const problems: ValidationIssue[] = [];
  for (const site of listExpressions(def)) {
    // One holding another (`${a[?(@.x == ${b})]}`) is only a path once the inner one is resolved.
    if (site.expression.includes("${")) continue;
    for (const message of pathProblems(site.expression)) problems.push({ path: site.path, message: `\${${site.expression}}: ${message}` });
  }
  const schema = await inputSchemaProblem(def, queries);
  if (schema) problems.push({ path: "/inputSchema/data", message: schema });
  return problems;
}
