// What a definition is checked for on the server when it is published, beyond
// the SDK's checks (validateWorkflowDef): what only the server's own engines
// can say. A JSONPath filter using what the bounded evaluator refuses (a
// pattern RE2 cannot run, a method it does not offer, a pattern read from
// data), and an inputSchema that does not compile on RE2, are refused here
// with what to use instead, rather than reading as missing or refusing every
// start later.
import { shortened } from "@baton/json";
import type { ValidationIssue, WorkflowDef } from "@baton/sdk";
import { listExpressions } from "../expressions/index.js";
import { QueryError, type Queries } from "../sandbox/queries.js";
import { inputSchemaProblem } from "./run-input.js";

/** Paths checked in one request of the pool (one request per path would cost the serving thread two messages a path). */
const PATHS_PER_REQUEST = 100;

type Site = { path: string; expression: string };

/**
 * Checking paths and compiling the inputSchema take `queries` (its pool):
 * neither a filter's parsing and RE2 compiling nor ajv runs on the thread
 * that serves calls. Paths go in batches under the pool's time limit; a
 * batch that runs out is checked again path by path, so the one that runs
 * out alone is refused by its field.
 */
export async function definitionProblems(def: WorkflowDef, queries: Pick<Queries, "schemaProblem" | "pathProblems">): Promise<ValidationIssue[]> {
  // One holding another (`${a[?(@.x == ${b})]}`) is only a path once the inner one is resolved.
  const sites = listExpressions(def).filter((site) => !site.expression.includes("${"));
  const batches: Site[][] = [];
  for (let i = 0; i < sites.length; i += PATHS_PER_REQUEST) batches.push(sites.slice(i, i + PATHS_PER_REQUEST));
  const [paths, schema] = await Promise.all([Promise.all(batches.map((batch) => pathIssues(batch, queries))), inputSchemaProblem(def, queries)]);
  const problems = paths.flat();
  if (schema) problems.push({ path: "/inputSchema/data", message: schema });
  return problems;
}

async function pathIssues(sites: Site[], queries: Pick<Queries, "pathProblems">): Promise<ValidationIssue[]> {
  let found: string[][];
  try {
    found = await queries.pathProblems(sites.map((site) => site.expression));
  } catch (error) {
    if (!(error instanceof QueryError)) throw error;
    if (sites.length > 1) return (await Promise.all(sites.map((site) => pathIssues([site], queries)))).flat();
    const site = sites[0]!;
    return [
      {
        path: site.path,
        message: `\${${shortened(site.expression)}}: ${error.message}; split it into smaller filters (fewer conditions or alternatives each)`,
      },
    ];
  }
  return sites.flatMap((site, i) => (found[i] ?? []).map((message) => ({ path: site.path, message: `\${${shortened(site.expression)}}: ${message}` })));
}
