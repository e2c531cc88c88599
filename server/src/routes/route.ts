// A route: weights over a workflow name's registered versions, for starts that
// name no version. Pure rules here (what a valid route is, which version a
// draw or a sticky key lands on, what "stable" means); storage, caching and
// the guard live beside it.
import { createHash } from "node:crypto";
import { compilePath } from "../expressions/index.js";
import { parseTemplate } from "../expressions/template.js";

export interface RouteWeight {
  version: number;
  /** Percent of starts, 0-100. */
  weight: number;
}

export interface RouteGuard {
  /** Roll back when the canary's failure rate exceeds the stable version's by more than this many percentage points. */
  maxFailureRateIncrease: number;
  /** ... over at least this many ended runs of the canary. */
  minEndedRuns: number;
  /** Runs started in the last window (0: since the route was set). */
  windowSeconds: number;
}

export interface Route {
  name: string;
  /** By ascending version; weights sum to 100. */
  weights: RouteWeight[];
  /** `${workflow.input...}` or `${workflow.correlationId}`; "" draws each start by weight. */
  sticky: string;
  guard?: RouteGuard;
  /** The version a rollback returns to. */
  stableVersion: number;
  revision: number;
  updatedAt: number;
  updatedBy: string;
}

/** One problem with a route, naming the field. */
export interface RouteProblem {
  field: string;
  message: string;
}

/**
 * What is wrong with a route asked for: weights that are not whole percents
 * summing to 100, a version named twice or not registered, a sticky
 * expression that does not parse, a guard out of range.
 */
export function routeProblems(
  route: { weights: readonly RouteWeight[]; sticky: string; guard?: RouteGuard | undefined },
  registered: readonly number[],
): RouteProblem[] {
  const problems: RouteProblem[] = [];
  if (route.weights.length === 0) problems.push({ field: "weights", message: "a route needs at least one version (e.g. 3=90 4=10)" });
  const seen = new Set<number>();
  let sum = 0;
  route.weights.forEach((w, i) => {
    const field = `weights[${i}]`;
    if (!Number.isInteger(w.version) || w.version < 1) problems.push({ field: `${field}.version`, message: `version ${w.version} is not a version number` });
    else if (!registered.includes(w.version)) {
      problems.push({ field: `${field}.version`, message: `version ${w.version} is not registered (registered: ${registered.join(", ") || "none"})` });
    }
    if (seen.has(w.version)) problems.push({ field: `${field}.version`, message: `version ${w.version} appears twice` });
    seen.add(w.version);
    if (!Number.isInteger(w.weight) || w.weight < 0 || w.weight > 100)
      problems.push({ field: `${field}.weight`, message: `weight ${w.weight} must be a whole percent from 0 to 100` });
    sum += w.weight;
  });
  if (route.weights.length > 0 && sum !== 100) problems.push({ field: "weights", message: `weights sum to ${sum}, not 100` });
  if (route.sticky !== "") {
    const problem = stickyProblem(route.sticky);
    if (problem) problems.push({ field: "sticky", message: problem });
  }
  if (route.guard) {
    const g = route.guard;
    if (!(g.maxFailureRateIncrease >= 0 && g.maxFailureRateIncrease <= 100)) {
      problems.push({ field: "guard.max_failure_rate_increase", message: "must be from 0 to 100 percentage points" });
    }
    if (!Number.isInteger(g.minEndedRuns) || g.minEndedRuns < 1)
      problems.push({ field: "guard.min_ended_runs", message: "must be a whole number of at least 1" });
    if (!Number.isInteger(g.windowSeconds) || g.windowSeconds < 0)
      problems.push({ field: "guard.window_seconds", message: "must be 0 (since the route was set) or a whole number of seconds" });
  }
  return problems;
}

// A sticky key is read from the start itself: its input or its correlation id,
// by a plain path (no filters, no scripts), so choosing costs no user code.
const STICKY_PATH = /^workflow\.(correlationId|input(\.[A-Za-z_$][\w$-]*|\[\d+\]|\['[^'\]]*'\])+)$/;

function stickyProblem(sticky: string): string | undefined {
  const parts = parseTemplate(sticky);
  const [only] = parts;
  if (parts.length !== 1 || only?.kind !== "expr" || only.nested) {
    return `"${sticky}" is not one \${...} expression: write e.g. \${workflow.input.customerId} or \${workflow.correlationId}`;
  }
  if (!STICKY_PATH.test(only.source.trim())) {
    return `"${sticky}" must read the start's input or correlation id by a plain path, e.g. \${workflow.input.customerId} or \${workflow.correlationId}`;
  }
  return undefined;
}

/** A start's sticky key, or undefined when the expression finds nothing (the start then draws by weight). */
export function stickyKeyOf(sticky: string, start: { input: Record<string, unknown>; correlationId: string }): string | undefined {
  const [part] = parseTemplate(sticky);
  if (part?.kind !== "expr") return undefined;
  const got = compilePath(part.source.trim()).read({ workflow: { input: start.input, correlationId: start.correlationId || null } });
  if (!got.found || got.value === null || got.value === undefined || got.value === "") return undefined;
  return typeof got.value === "string" ? got.value : JSON.stringify(got.value);
}

/** The version at `point` (0 <= point < 1) on the weights laid end to end by ascending version. */
export function versionAt(weights: readonly RouteWeight[], point: number): RouteWeight {
  const routed = weights.filter((w) => w.weight > 0).sort((a, b) => a.version - b.version);
  let edge = 0;
  for (const w of routed) {
    edge += w.weight / 100;
    if (point < edge) return w;
  }
  return routed[routed.length - 1]!;
}

/** A key's fixed point in [0, 1), and its hash as stored. */
export function keyPoint(key: string): { point: number; hash: string } {
  const digest = createHash("sha256").update(key).digest();
  return { point: digest.readUInt32BE(0) / 2 ** 32, hash: digest.toString("base64url") };
}

/** The stable version of a set of weights: the heaviest, the older one on a tie. */
export function heaviest(weights: readonly RouteWeight[]): number {
  let best = weights[0]!;
  for (const w of weights) if (w.weight > best.weight || (w.weight === best.weight && w.version < best.version)) best = w;
  return best.version;
}

/** Weights sorted by version, with the ones at 0 kept (they are named, but get nothing). */
export function normalized(weights: readonly RouteWeight[]): RouteWeight[] {
  return [...weights].sort((a, b) => a.version - b.version).map((w) => ({ version: w.version, weight: w.weight }));
}

/** The versions that get starts. */
export function routedVersions(route: Pick<Route, "weights">): number[] {
  return route.weights.filter((w) => w.weight > 0).map((w) => w.version);
}
