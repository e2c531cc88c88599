// JsonPath reads with Jayway's results (what Conductor uses): a definite path
// (names and single indexes only) gives one value or "missing"; an indefinite
// one (wildcards, filters, deep scan, slices, unions) gives a list. Definite
// paths, nearly all of them in practice, are walked here directly; the rest go
// to jsonpath-plus, with filters evaluated by filter.ts (never JavaScript eval,
// regular expressions on RE2, a time limit per query).
import { JSONPath } from "jsonpath-plus";
import { BoundedFilter, bounded, countResult, filterProblems } from "./filter.js";
import { compiledCache, memoize } from "./memo.js";

export type ReadResult = { readonly found: true; readonly value: unknown } | { readonly found: false };

export interface CompiledPath {
  read(root: unknown): ReadResult;
  /** It holds a filter or script step (`[?(...)]`, `[(...)]`): user code, read only in a queries pool thread (see resolve.ts). */
  readonly filter: boolean;
}

type Step = string | number; // a property name, or an array index (negative counts from the end)

const MISSING: ReadResult = { found: false };

/** Compiles a Conductor `${...}` path (Jayway syntax; a leading `$.` is optional), cached. */
export const compilePath: (path: string) => CompiledPath = memoize("paths", compile);

// jsonpath-plus keeps every path it splits and every filter it compiles in one
// plain object (JSONPath.cache) that never forgets: one entry per distinct
// filter text a run sends. It gets a cache bounded in bytes behind the same
// object interface (it only reads and assigns keys).
const jsonPathCache = compiledCache<object>("jsonpath");
(JSONPath as unknown as { cache: object }).cache = new Proxy(
  {},
  {
    get: (_target, key) => (typeof key === "string" ? jsonPathCache.get(key) : undefined),
    set: (_target, key, value: object) => {
      if (typeof key === "string") jsonPathCache.set(key, value);
      return true;
    },
  },
);

/**
 * How much splitting a path costs jsonpath-plus: it splits at each `.` with a
 * regular expression that looks ahead to the next `[`, so the work is the sum
 * over dots of the distance to the next bracket, quadratic for a long run of
 * names (`$.a.a.a…[*]`: 20 KB took 0.6 s, 80 KB 6.8 s, on the thread that
 * serves calls; a nested `${...}` splices data into a path). A path over
 * MAX_SPLIT_COST is not queried. Plain paths, walked here, have no limit.
 */
export const MAX_SPLIT_COST = 2_000_000;

function splitCost(path: string): number {
  let cost = 0;
  let toBracket = 0;
  for (let i = path.length - 1; i >= 0; i--) {
    const c = path.charCodeAt(i);
    if (c === 91 /* [ */) toBracket = 0;
    else toBracket++;
    if (c === 46 /* . */) cost += toBracket;
  }
  return cost;
}

/** A path as queried: `$`-rooted, with its trailing function (`.length()`, ...) apart. */
function normalize(raw: string): { path: string; fn?: PathFunction } {
  let path = raw.trim();
  let fn: PathFunction | undefined;
  const call = /\.([a-z]+)\(\)$/.exec(path);
  if (call && call[1]! in FUNCTIONS) {
    fn = FUNCTIONS[call[1]!];
    path = path.slice(0, call.index);
  }
  if (!path.startsWith("$")) path = path.startsWith("[") ? `$${path}` : `$.${path}`;
  return fn ? { path, fn } : { path };
}

/** Whether a path holds steps pathProblems looks into: not for a plain path, nor one too malformed to read anything. */
export function hasPathSteps(raw: string): boolean {
  const { path } = normalize(raw);
  return !definiteSteps(path) && wellFormed(path);
}

/**
 * What the filters and script steps (`[?(...)]`, `[(...)]`) of a path use
 * that they may not (filter.ts), for publish time; none for a plain path.
 */
export function pathProblems(raw: string): string[] {
  if (!hasPathSteps(raw)) return [];
  const { path } = normalize(raw);
  const cost = splitCost(path);
  if (cost > MAX_SPLIT_COST)
    return [
      `a path with wildcards, filters, slices or a deep scan costs ${cost} steps to split, over ${MAX_SPLIT_COST} (its dotted names run long before a bracket); shorten it, or write its plain part as ['name'] steps`,
    ];
  let segments: string[];
  try {
    segments = JSONPath.toPathArray(path);
  } catch {
    return [];
  }
  // As jsonpath-plus hands a filter to its evaluator: `@` spelled `_$_v`, and so on.
  return segments
    .filter((segment) => /^\??\(.*\)$/s.test(segment))
    .flatMap((segment) =>
      filterProblems(
        segment
          .replace(/^\??\(/, "")
          .slice(0, -1)
          .replaceAll("@parentProperty", "_$_parentProperty")
          .replaceAll("@parent", "_$_parent")
          .replaceAll("@property", "_$_property")
          .replaceAll("@root", "_$_root")
          .replaceAll("@path", "_$_path")
          .replaceAll(/@([.\s)[])/gu, "_$_v$1"),
      ),
    );
}

function compile(raw: string): CompiledPath {
  const { path, fn } = normalize(raw);
  const steps = definiteSteps(path);
  const base: CompiledPath = steps
    ? { read: (root) => walk(root, steps), filter: false }
    : wellFormed(path) && splitCost(path) <= MAX_SPLIT_COST
      ? { read: (root) => query(root, path), filter: hasFilter(path) }
      : { read: () => MISSING, filter: false };
  if (!fn) return base;
  const apply = fn;
  return {
    filter: base.filter,
    read(root) {
      const got = base.read(root);
      return got.found ? apply(got.value) : MISSING;
    },
  };
}

/** Whether a path jsonpath-plus queries has a filter or script step. */
function hasFilter(path: string): boolean {
  if (!path.includes("(")) return false;
  try {
    return JSONPath.toPathArray(path).some((segment) => /^\??\(.*\)$/s.test(segment));
  } catch {
    return false;
  }
}

function walk(root: unknown, steps: readonly Step[]): ReadResult {
  let current = root;
  for (const step of steps) {
    if (typeof step === "number") {
      if (!Array.isArray(current)) return MISSING;
      const i = step < 0 ? current.length + step : step;
      if (i < 0 || i >= current.length) return MISSING;
      current = current[i];
    } else {
      // Own properties of plain objects only: no `length` of arrays, no `__proto__`.
      if (current === null || typeof current !== "object" || Array.isArray(current)) return MISSING;
      if (!Object.prototype.hasOwnProperty.call(current, step)) return MISSING;
      current = (current as Record<string, unknown>)[step];
    }
  }
  return current === undefined ? MISSING : { found: true, value: current };
}

function query(root: unknown, path: string): ReadResult {
  try {
    // Filters go to our bounded evaluator (filter.ts), which handles their errors itself; the query as a whole has a time limit.
    const list: unknown = bounded(() =>
      JSONPath({ path, json: root as object, wrap: true, eval: BoundedFilter, ignoreEvalErrors: false, callback: countResult }),
    );
    return { found: true, value: Array.isArray(list) ? list : [] };
  } catch {
    return MISSING; // an invalid path, or one over its limits, reads as missing, as with Jayway under SUPPRESS_EXCEPTIONS
  }
}

/**
 * Brackets, parentheses and quotes balance, and the path does not end in a dot.
 * jsonpath-plus reads `$.a[` as `$.a`; Jayway rejects it, and so do we.
 */
function wellFormed(path: string): boolean {
  const open: string[] = [];
  let quote: string | undefined;
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "[" || c === "(") open.push(c === "[" ? "]" : ")");
    else if ((c === "]" || c === ")") && open.pop() !== c) return false;
  }
  return quote === undefined && open.length === 0 && !path.endsWith(".");
}

/** The steps of `$`-rooted path made only of `.name`, `['name']` and `[n]`, or undefined. */
function definiteSteps(path: string): Step[] | undefined {
  const steps: Step[] = [];
  let i = 1;
  while (i < path.length) {
    const c = path[i];
    if (c === ".") {
      if (path[i + 1] === "[") {
        i++; // Jayway accepts `$.['a']`
        continue;
      }
      let end = i + 1;
      while (end < path.length && path[end] !== "." && path[end] !== "[") end++;
      const name = path.slice(i + 1, end);
      if (name === "" || /[\s*()'"@?,:]/.test(name)) return undefined;
      steps.push(name);
      i = end;
    } else if (c === "[") {
      const q = path[i + 1];
      if (q === "'" || q === '"') {
        let name = "";
        let j = i + 2;
        for (; j < path.length && path[j] !== q; j++) {
          if (path[j] === "\\" && j + 1 < path.length) j++;
          name += path[j];
        }
        if (path[j + 1] !== "]") return undefined; // unterminated, or a union like ['a','b']
        steps.push(name);
        i = j + 2;
      } else {
        const m = /^\[\s*(-?\d+)\s*\]/.exec(path.slice(i));
        if (!m) return undefined; // *, filters, slices, unions
        steps.push(Number(m[1]));
        i += m[0].length;
      }
    } else {
      return undefined;
    }
  }
  return steps;
}

// Jayway's functions that take no argument, appended as `.name()`.
type PathFunction = (value: unknown) => ReadResult;

const found = (value: unknown): ReadResult => ({ found: true, value });

function numbers(value: unknown): number[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const list = value.filter((v): v is number => typeof v === "number");
  return list.length > 0 ? list : undefined; // Jayway fails on an empty aggregation
}

function aggregate(reduce: (list: number[]) => number): PathFunction {
  return (value) => {
    const list = numbers(value);
    return list ? found(reduce(list)) : MISSING;
  };
}

const sum = (list: number[]): number => list.reduce((a, b) => a + b, 0);

const length: PathFunction = (value) => {
  if (Array.isArray(value) || typeof value === "string") return found(value.length);
  if (value !== null && typeof value === "object") return found(Object.keys(value).length);
  return MISSING;
};

const FUNCTIONS: Record<string, PathFunction> = {
  length,
  size: length,
  sum: aggregate(sum),
  min: aggregate((l) => Math.min(...l)),
  max: aggregate((l) => Math.max(...l)),
  avg: aggregate((l) => sum(l) / l.length),
  stddev: aggregate((l) => {
    const mean = sum(l) / l.length;
    return Math.sqrt(sum(l.map((x) => x * x)) / l.length - mean * mean);
  }),
  keys: (value) => (value !== null && typeof value === "object" && !Array.isArray(value) ? found(Object.keys(value)) : MISSING),
  first: (value) => (Array.isArray(value) && value.length > 0 ? found(value[0]) : MISSING),
  last: (value) => (Array.isArray(value) && value.length > 0 ? found(value[value.length - 1]) : MISSING),
};
