// JSONPath filters (`[?(...)]`) with a bounded cost. jsonpath-plus parses
// them (jsep); this walker evaluates them: regular expressions run on RE2 (no
// backtracking, linear time) and only as written in the filter (a pattern read
// from data would be compiled per item), the only calls are a few string and
// list methods linear in their input (no `repeat`, no `padEnd`), nothing
// reaches a prototype, and a whole query stops after a fixed amount of work
// (counted in steps, so the limit does not depend on how busy the machine is)
// or, as a backstop, a limit on its thread's CPU time (cpu-time.ts). A filter that fails on one item does not
// match it, as with Jayway's filters. A call is charged before it runs for
// what it may scan: a method for the length of its target and arguments, a
// pattern for its text's length times its program's size (RE2 runs every
// instruction over every character at worst), so no one call can overrun the
// query's budget. What a filter may not use is said when a definition is
// published (filterProblems).
import { shortened } from "@baton/json";
import { JSONPath } from "jsonpath-plus";
import { RE2JS } from "re2js";
import { CpuDeadline, overrunText, threadCpuMs, wallMs } from "../cpu-time.js";

/** The work one JSONPath query may do: values found plus filter steps. */
export const QUERY_MAX_STEPS = 200_000;
/** A backstop: the CPU time one query may take. */
export const QUERY_TIME_LIMIT_MS = 1_000;

/** A query went over its limits: it reads as missing. */
export class QueryLimit extends Error {
  override readonly name = "QueryLimit";
}

/** When the query running now started, by the wall clock. */
let startedAt = 0;
/** Its time limit, made when the clock is first looked at (most queries end before). */
let deadline: CpuDeadline | undefined;
let steps = 0;

/** Runs a query under the step and time limits. */
export function bounded<T>(query: () => T): T {
  startedAt = wallMs();
  deadline = undefined;
  steps = 0;
  try {
    return query();
  } finally {
    startedAt = 0;
  }
}

/** jsonpath-plus's `callback`: called per value found. */
export function countResult(): void {
  step();
}

function step(): void {
  charge(1);
}

/** Characters (or list items) a string or list method call may scan per step it is charged. */
export const CHARS_PER_STEP = 64;
/** Characters times pattern instructions a regular expression may run per step it is charged. */
export const PATTERN_UNITS_PER_STEP = 64;

/** Counts `n` steps of work; the clock is read once per 1,024. */
function charge(n: number): void {
  const before = steps;
  steps += n;
  if (steps > QUERY_MAX_STEPS) throw new QueryLimit(`more than ${QUERY_MAX_STEPS} steps`);
  if (before >> 10 !== steps >> 10 && startedAt > 0) {
    // Its CPU time counts from here: what the first 1,024 steps took is left out, to spare short queries a system call.
    deadline ??= new CpuDeadline(QUERY_TIME_LIMIT_MS, { wallMs: startedAt, cpuMs: threadCpuMs() }, threadCpuMs);
    const overrun = deadline.overrun();
    if (overrun) throw new QueryLimit(overrunText(overrun, QUERY_TIME_LIMIT_MS));
  }
}

/** The steps a call costs: a method scans its target and arguments (or compiles a pattern from one), so it pays for their length. */
function callCost(target: unknown, args: unknown[]): number {
  let units = 0;
  for (const value of [target, ...args]) if (typeof value === "string" || Array.isArray(value)) units += value.length;
  return Math.ceil(units / CHARS_PER_STEP);
}

interface Node {
  type: string;
  [key: string]: unknown;
}

const parse = (code: string): Node =>
  new (JSONPath.prototype as unknown as { safeVm: { Script: new (code: string) => { ast: Node } } }).safeVm.Script(code).ast;

const RE2_SYNTAX = "filters match on RE2: no lookaround, no backreferences, repetition counts up to 1000";

/** A regular expression written in a filter, on RE2. */
class Pattern {
  private readonly re: RE2JS;
  /** Its program's instruction count: what matching costs per character at worst. */
  readonly size: number;
  constructor(source: string, flags: string) {
    let mode = 0;
    for (const flag of flags) {
      if (flag === "i") mode |= RE2JS.CASE_INSENSITIVE;
      else if (flag === "m") mode |= RE2JS.MULTILINE;
      else if (flag === "s") mode |= RE2JS.DOTALL;
      else if (flag !== "g" && flag !== "u") throw new SyntaxError(`the regular expression flag ${flag} is not supported in a filter; use i, m or s`);
    }
    try {
      this.re = RE2JS.compile(source, mode);
    } catch (error) {
      throw new SyntaxError(`the regular expression /${shortened(source)}/ is not supported (${(error as Error).message}): ${RE2_SYNTAX}`);
    }
    this.size = this.re.programSize();
  }
  test(text: unknown): boolean {
    return this.re.test(String(text));
  }
  exec(text: unknown): unknown[] | null {
    return this.re.exec(String(text));
  }
}

/** A method read off a value, called next. */
class Method {
  constructor(
    readonly target: unknown,
    readonly name: string,
  ) {}
}

const STRING_METHODS = new Set(["startsWith", "endsWith", "includes", "indexOf", "toLowerCase", "toUpperCase", "trim", "match"]);
const LIST_METHODS = new Set(["includes", "indexOf"]);

/** jsonpath-plus's `eval` class: one compiled filter, run once per candidate. */
export class BoundedFilter {
  private readonly ast: Node;

  constructor(code: string) {
    this.ast = withPatterns(parse(code));
  }

  runInNewContext(context: Record<string, unknown>): unknown {
    step();
    try {
      return evaluate(this.ast, context);
    } catch (error) {
      if (error instanceof QueryLimit) throw error;
      return false;
    }
  }
}

/**
 * Turns the patterns a filter writes (regular expression literals, and a
 * string literal given to match()) into RE2 patterns once, at compile time.
 */
function withPatterns(node: Node): Node {
  if (node.type === "Literal" && node["value"] instanceof RegExp) {
    const re = node["value"];
    return { ...node, value: new Pattern(re.source, re.flags) };
  }
  const out: Node = { ...node };
  for (const [key, value] of Object.entries(node)) {
    if (Array.isArray(value)) out[key] = value.map((v: unknown) => (isNode(v) ? withPatterns(v) : v));
    else if (isNode(value)) out[key] = withPatterns(value);
  }
  const first = (out["arguments"] as Node[] | undefined)?.[0];
  if (calledName(node) === "match" && first?.type === "Literal" && typeof first["value"] === "string") {
    out["arguments"] = [{ ...first, value: new Pattern(first["value"], "") }, ...(out["arguments"] as Node[]).slice(1)];
  }
  return out;
}

/** The method name a call expression calls (`x.name(...)`), if it is one. */
function calledName(node: Node): string | undefined {
  if (node.type !== "CallExpression") return undefined;
  const callee = node["callee"] as Node;
  if (callee.type !== "MemberExpression" || callee["computed"]) return undefined;
  return String((callee["property"] as Node)["name"]);
}

/** The names a filter may read: jsonpath-plus's `@`, `@root`, `@parent`, `@property`, `@parentProperty`, `@path`. */
const NAMES = new Set(["_$_v", "_$_root", "_$_parent", "_$_property", "_$_parentProperty", "_$_path"]);
const NODES = new Set([
  "Literal",
  "Identifier",
  "MemberExpression",
  "CallExpression",
  "BinaryExpression",
  "LogicalExpression",
  "UnaryExpression",
  "ConditionalExpression",
  "ArrayExpression",
]);
const METHODS = [...new Set([...STRING_METHODS, ...LIST_METHODS, "test"])].join(", ");

/**
 * What a filter (as jsonpath-plus hands it over, `@` spelled `_$_v`) uses
 * that it may not, each said with what to use instead; none for a filter
 * that compiles and uses only what the evaluator runs. For publish time:
 * at run time such a filter does not match (or the query reads as missing).
 */
export function filterProblems(code: string): string[] {
  if (/=~/.test(code)) return ["=~ (Jayway's pattern match) is not supported in a filter; use /pattern/.test(@.x) or @.x.match(/pattern/)"];
  let ast: Node;
  try {
    ast = withPatterns(parse(code));
  } catch (error) {
    return [(error as Error).message];
  }
  const problems: string[] = [];
  const visit = (node: Node): void => {
    if (!NODES.has(node.type)) problems.push(`${node.type} is not supported in a filter; use comparisons, &&, ||, ! and the methods ${METHODS}`);
    const operator = node["operator"] as string | undefined;
    if ((node.type === "BinaryExpression" || node.type === "LogicalExpression") && !(operator! in BINARY))
      problems.push(
        `the operator ${operator} is not supported in a filter; use ${Object.keys(BINARY).join(" ")}${operator === "=~" ? " and a pattern's test() or match()" : ""}`,
      );
    if (node.type === "UnaryExpression" && !(operator! in UNARY))
      problems.push(`the operator ${operator} is not supported in a filter; use ${Object.keys(UNARY).join(" ")}`);
    if (node.type === "Identifier" && !NAMES.has(node["name"] as string))
      problems.push(`${shortened(String(node["name"]))} is not defined in a filter; use @ for the item, @root for the document`);
    if (node.type === "CallExpression") {
      const name = calledName(node);
      if (name === undefined || !METHODS.split(", ").includes(name))
        problems.push(
          `calling ${name === undefined ? "an expression" : shortened(name)} is not supported in a filter; the methods a filter may call are ${METHODS}`,
        );
      const first = (node["arguments"] as Node[])[0];
      if (name === "match" && !(first?.type === "Literal" && first["value"] instanceof Pattern))
        problems.push("match() takes a pattern written in the filter (/.../ or '...'), not one read from data");
      // The callee is visited for its target, not as a property read.
      visit((node["callee"] as Node).type === "MemberExpression" ? ((node["callee"] as Node)["object"] as Node) : (node["callee"] as Node));
      (node["arguments"] as Node[]).forEach(visit);
      return;
    }
    for (const [key, value] of Object.entries(node)) {
      if (key === "property" && !node["computed"]) continue;
      if (Array.isArray(value)) value.filter(isNode).forEach(visit);
      else if (isNode(value)) visit(value);
    }
  };
  visit(ast);
  // Each once, and no more than a refusal lists: a long filter may repeat one mistake thousands of times.
  return [...new Set(problems)].slice(0, MAX_PROBLEMS);
}

/** The most problems one filter reports. */
const MAX_PROBLEMS = 20;

function isNode(value: unknown): value is Node {
  return value !== null && typeof value === "object" && typeof (value as Node).type === "string";
}

const BINARY: Record<string, (a: unknown, b: () => unknown) => unknown> = {
  "||": (a, b) => a || b(),
  "&&": (a, b) => a && b(),
  "==": (a, b) => a == b(), // JavaScript's loose equality, as filters written for Conductor expect
  "!=": (a, b) => a != b(),
  "===": (a, b) => a === b(),
  "!==": (a, b) => a !== b(),
  "<": (a, b) => (a as number) < (b() as number),
  ">": (a, b) => (a as number) > (b() as number),
  "<=": (a, b) => (a as number) <= (b() as number),
  ">=": (a, b) => (a as number) >= (b() as number),
  "+": (a, b) => (a as number) + (b() as number),
  "-": (a, b) => (a as number) - (b() as number),
  "*": (a, b) => (a as number) * (b() as number),
  "/": (a, b) => (a as number) / (b() as number),
  "%": (a, b) => (a as number) % (b() as number),
};

const UNARY: Record<string, (a: unknown) => unknown> = {
  "-": (a) => -(a as number),
  "+": (a) => +(a as number),
  "!": (a) => !a,
  typeof: (a) => typeof a,
};

function evaluate(node: Node, context: Record<string, unknown>): unknown {
  step();
  switch (node.type) {
    case "Literal":
      return node["value"];
    case "Identifier": {
      const name = node["name"] as string;
      if (!Object.hasOwn(context, name)) throw new ReferenceError(`${name} is not defined`);
      return context[name];
    }
    case "MemberExpression": {
      const target = evaluate(node["object"] as Node, context);
      const property = node["computed"] ? String(evaluate(node["property"] as Node, context)) : String((node["property"] as Node)["name"]);
      return member(target, property);
    }
    case "CallExpression": {
      const callee = evaluate(node["callee"] as Node, context);
      if (!(callee instanceof Method)) throw new TypeError("only a few string, list and pattern methods may be called in a filter");
      const args = (node["arguments"] as Node[]).map((arg) => evaluate(arg, context));
      return call(callee, args);
    }
    case "BinaryExpression":
    case "LogicalExpression": {
      const op = BINARY[node["operator"] as string];
      if (!op) throw new SyntaxError(`operator ${String(node["operator"])} is not supported in a filter`);
      return op(evaluate(node["left"] as Node, context), () => evaluate(node["right"] as Node, context));
    }
    case "UnaryExpression": {
      const op = UNARY[node["operator"] as string];
      if (!op) throw new SyntaxError(`operator ${String(node["operator"])} is not supported in a filter`);
      return op(evaluate(node["argument"] as Node, context));
    }
    case "ConditionalExpression":
      return evaluate(node["test"] as Node, context) ? evaluate(node["consequent"] as Node, context) : evaluate(node["alternate"] as Node, context);
    case "ArrayExpression":
      return (node["elements"] as Node[]).map((element) => evaluate(element, context));
    default:
      throw new SyntaxError(`${node.type} is not supported in a filter`);
  }
}

function member(target: unknown, property: string): unknown {
  if (target === null || target === undefined) throw new TypeError(`cannot read ${property} of ${String(target)}`);
  if (target instanceof Pattern) {
    if (property === "test") return new Method(target, property);
    throw new TypeError(`a pattern has no ${property}`);
  }
  if (typeof target === "string" || Array.isArray(target)) {
    if (property === "length") return target.length;
    if (/^\d+$/.test(property)) return target[Number(property)];
    if ((typeof target === "string" ? STRING_METHODS : LIST_METHODS).has(property)) return new Method(target, property);
    return undefined;
  }
  // Own data only: no prototype, no constructor.
  if (typeof target === "object" && Object.hasOwn(target, property)) return (target as Record<string, unknown>)[property];
  return undefined;
}

function call(method: Method, args: unknown[]): unknown {
  const { target, name } = method;
  if (target instanceof Pattern) {
    charge(Math.ceil((String(args[0]).length * target.size) / PATTERN_UNITS_PER_STEP));
    return target.test(args[0]);
  }
  if (name === "match") {
    const pattern = args[0];
    if (!(pattern instanceof Pattern)) throw new TypeError("match() takes a pattern written in the filter (/.../ or '...'), not one read from data");
    charge(Math.ceil((String(target).length * pattern.size) / PATTERN_UNITS_PER_STEP));
    return pattern.exec(target);
  }
  charge(callCost(target, args));
  const fn = (target as Record<string, (...a: unknown[]) => unknown>)[name]!;
  return fn.apply(target, args.slice(0, 2));
}
