// JSONPath filters (`[?(...)]`) with a bounded cost. jsonpath-plus parses
// them (jsep); this walker evaluates them: regular expressions run on RE2 (no
// backtracking, linear time), the only calls are a few string and list
// methods linear in their input (no `repeat`, no `padEnd`), nothing reaches a
// prototype, and a whole query stops after a fixed amount of work (counted in
// steps, so the limit does not depend on how busy the machine is) or, as a
// backstop, a time limit. A filter that fails on one item does not match it,
// as with Jayway's filters. A method call is charged for the length of what
// it scans, so the step cap bounds the work of a query, not only its steps:
// at most QUERY_MAX_STEPS x CHARS_PER_STEP characters scanned (about 13
// million, milliseconds) on the serving thread.
import { JSONPath } from "jsonpath-plus";
import { RE2JS } from "re2js";

/** The work one JSONPath query may do: values found plus filter steps. */
export const QUERY_MAX_STEPS = 200_000;
/** A backstop: how long one query may take. */
export const QUERY_TIME_LIMIT_MS = 1_000;

/** A query went over its limits: it reads as missing. */
export class QueryLimit extends Error {
  override readonly name = "QueryLimit";
}

let deadline = Infinity;
let steps = 0;

/** Runs a query under the step and time limits. */
export function bounded<T>(query: () => T): T {
  deadline = performance.now() + QUERY_TIME_LIMIT_MS;
  steps = 0;
  try {
    return query();
  } finally {
    deadline = Infinity;
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

/** Counts `n` steps of work; the clock is read once per 1,024. */
function charge(n: number): void {
  const before = steps;
  steps += n;
  if (steps > QUERY_MAX_STEPS) throw new QueryLimit(`more than ${QUERY_MAX_STEPS} steps`);
  if (before >> 10 !== steps >> 10 && performance.now() > deadline) throw new QueryLimit(`over ${QUERY_TIME_LIMIT_MS} ms`);
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

/** A regular expression literal of a filter, on RE2. */
class Pattern {
  private readonly re: RE2JS;
  constructor(source: string, flags: string) {
    let mode = 0;
    for (const flag of flags) {
      if (flag === "i") mode |= RE2JS.CASE_INSENSITIVE;
      else if (flag === "m") mode |= RE2JS.MULTILINE;
      else if (flag === "s") mode |= RE2JS.DOTALL;
      else if (flag !== "g" && flag !== "u") throw new SyntaxError(`regular expression flag ${flag} is not supported`);
    }
    this.re = RE2JS.compile(source, mode);
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

/** Turns regular expression literals into RE2 patterns once, at compile time. */
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
  return out;
}

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
  charge(callCost(target instanceof Pattern ? args[0] : target, target instanceof Pattern ? [] : args));
  if (target instanceof Pattern) return target.test(args[0]);
  if (name === "match") {
    const pattern = args[0] instanceof Pattern ? args[0] : new Pattern(String(args[0]), "");
    return pattern.exec(target);
  }
  const fn = (target as Record<string, (...a: unknown[]) => unknown>)[name]!;
  return fn.apply(target, args.slice(0, 2));
}
