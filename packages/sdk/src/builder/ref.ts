// Typed references: `step.output.url` is a Ref<string> at compile time and the
// expression "${step.output.url}" at run time. A Proxy extends the path on every
// property read, so nested paths type-check against the declared output type.

declare const refType: unique symbol;

/** A reference to a value of type T that the engine resolves at run time. Ref<any> is any. */
export type Ref<T> = 0 extends 1 & T ? any : RefOf<T> & RefFields<NonNullable<T>>;

/** The phantom type carried by every Ref; it makes Ref<number> unassignable to Ref<string>. */
export interface RefOf<T> {
  readonly [refType]: T;
}

type RefFields<T> = [T] extends [readonly (infer E)[]]
  ? { readonly [index: number]: Ref<E>; readonly length: Ref<number> }
  : [T] extends [object]
    ? { readonly [K in keyof T]-?: Ref<T[K]> }
    : unknown;

/** Runtime form of a Ref: an expression root ("workflow.input", "encode.output") and a path. */
const REF = Symbol("baton.ref");

interface RefData {
  root: string;
  path: readonly string[];
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function renderPath(data: RefData): string {
  let out = data.root;
  for (const seg of data.path) {
    if (/^\d+$/.test(seg)) out += `[${seg}]`;
    else if (IDENTIFIER.test(seg)) out += `.${seg}`;
    else out += `['${seg.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}']`;
  }
  return out;
}

/** The Conductor expression for a ref: "${root.path}". */
export function expressionOf(ref: unknown): string | undefined {
  const data = refData(ref);
  return data ? "${" + renderPath(data) + "}" : undefined;
}

function refData(value: unknown): RefData | undefined {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return undefined;
  return (value as { [REF]?: RefData })[REF];
}

export function isRef(value: unknown): boolean {
  return refData(value) !== undefined;
}

// Names the Proxy must not turn into paths, so that JSON.stringify, template
// literals, `await`, and console.log behave. An output field called toJSON,
// toString, valueOf or then is read with expr<T>("ref.output.then").
const INSPECT = Symbol.for("nodejs.util.inspect.custom");

function makeRef(data: RefData): unknown {
  const text = () => "${" + renderPath(data) + "}";
  return new Proxy(Object.freeze({}), {
    get(_target, prop) {
      if (prop === REF) return data;
      if (prop === Symbol.toPrimitive || prop === "toString" || prop === "valueOf" || prop === "toJSON") return text;
      if (prop === INSPECT) return () => `Ref(${text()})`;
      if (typeof prop === "symbol" || prop === "then") return undefined;
      return makeRef({ root: data.root, path: [...data.path, prop] });
    },
  });
}

/** A Ref to `${root}`, e.g. refAt<string>("workflow.correlationId"). */
export function refAt<T>(root: string, ...path: string[]): Ref<T> {
  return makeRef({ root, path }) as Ref<T>;
}

/** An escape hatch for any Conductor expression body, typed by the caller: expr<string>("workflow.workflowId"). */
export function expr<T>(expression: string): Ref<T> {
  return refAt<T>(expression);
}
