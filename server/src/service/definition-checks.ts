// What a definition is checked for on the server when it is published, beyond
// the SDK's checks (validateWorkflowDef): what only the server's own engines
// can say. A JSONPath filter using what the bounded evaluator refuses (a
// pattern RE2 cannot run, a method it does not offer, a pattern read from
// data), and an inputSchema that does not compile on RE2, are refused here
// with what to use instead, rather than reading as missing or refusing every
// start later.
import { shortened } from "@baton/json";
import type { ValidationIssue } from "@baton/sdk";
import type { DefinitionCheck } from "../runtime/definition-check.js";
import { QueryError } from "../sandbox/queries.js";
import { oneBudget, type Budget, type PublishChecks } from "./publish-budgets.js";

/** Paths checked in one request of the pool (one request per path would cost the serving thread two messages a path). */
const PATHS_PER_REQUEST = 100;

/** Requests of one publish sent at once, as many as the pool has threads (on a server all publishes' requests then take turns: publish-budgets.ts inTurn); each takes its share of the budget when it is sent and gives back what its thread did not use. */
const REQUESTS_AT_ONCE = 2;

type Site = { path: string; expression: string };

/**
 * The problems of a definition the queries pool read and found no fault
 * with (its paths and inputSchema, definition-check.ts). Checking paths and
 * compiling the inputSchema take `queries` (its pool):
 * neither a filter's parsing and RE2 compiling nor ajv runs on the thread
 * that serves calls. Paths go in batches under the pool's time limit; a
 * batch that runs out is checked again path by path, so the one that runs
 * out alone is refused by its field. All of it is charged to `budget` (on a
 * server, the caller's: publish-budgets.ts), so a definition of many slow
 * paths is refused, the paths left named, rather than holding a thread for
 * minutes.
 */
export async function definitionProblems(
  { paths, inputSchema }: Pick<DefinitionCheck, "paths" | "inputSchema">,
  queries: PublishChecks,
  budget: Budget = oneBudget(queries.limits.publishMs),
): Promise<ValidationIssue[]> {
  const batches: Site[][] = [];
  for (let i = 0; i < paths.length; i += PATHS_PER_REQUEST) batches.push(paths.slice(i, i + PATHS_PER_REQUEST));
  const [issues, schema] = await Promise.all([
    batchIssues(batches, queries, budget),
    inputSchema === undefined ? undefined : schemaProblem(inputSchema, queries),
  ]);
  if (schema) issues.push({ path: "/inputSchema/data", message: `the inputSchema is not a valid JSON Schema: ${schema}` });
  return issues;
}

/** Why the enforced inputSchema (JSON text) does not compile, if it does not. */
async function schemaProblem(schema: string, queries: PublishChecks): Promise<string | undefined> {
  try {
    return await queries.schemaProblem(schema);
  } catch (error) {
    if (!(error instanceof QueryError)) throw error;
    return error.message;
  }
}

async function batchIssues(batches: Site[][], queries: PublishChecks, budget: Budget): Promise<ValidationIssue[]> {
  const found: ValidationIssue[][] = [];
  let next = 0;
  const sender = async () => {
    for (let i = next++; i < batches.length; i = next++) found[i] = await pathIssues(batches[i]!, queries, budget);
  };
  await Promise.all(Array.from({ length: REQUESTS_AT_ONCE }, sender));
  return found.flat();
}

async function pathIssues(sites: Site[], queries: PublishChecks, budget: Budget): Promise<ValidationIssue[]> {
  const { pathMs } = queries.limits;
  const granted = budget.take(pathMs);
  const unchecked = (site: Site): ValidationIssue => ({
    path: site.path,
    message: `\${${shortened(site.expression)}}: not checked: ${budget.spent} (parsing filters, compiling their patterns); make its filters fewer or simpler`,
  });
  if (granted === 0) return sites.map(unchecked);
  let answer: { problems: string[][]; ms: number };
  try {
    answer = await queries.pathProblems(
      sites.map((site) => site.expression),
      granted,
    );
  } catch (error) {
    if (!(error instanceof QueryError)) throw error;
    if (sites.length > 1) {
      const issues: ValidationIssue[] = [];
      for (const site of sites) issues.push(...(await pathIssues([site], queries, budget)));
      return issues;
    }
    const site = sites[0]!;
    if (granted < pathMs) return [unchecked(site)];
    return [
      {
        path: site.path,
        message: `\${${shortened(site.expression)}}: ${error.message}; split it into smaller filters (fewer conditions or alternatives each)`,
      },
    ];
  }
  budget.giveBack(granted - Math.min(granted, answer.ms));
  return sites.flatMap((site, i) =>
    (answer.problems[i] ?? []).map((message) => ({ path: site.path, message: `\${${shortened(site.expression)}}: ${message}` })),
  );
}
