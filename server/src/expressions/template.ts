// Splits a string into literal text and `${...}` expressions, the way
// Conductor's ParametersUtils does: an expression starts at a `${` that is not
// preceded by `$` and ends at the `}` that balances it, so expressions nest
// (`${workflow.input.${workflow.input.key}}`). `$${` is an escaped `${`.
import { memoize } from "./memo.js";

export type Part =
  | { readonly kind: "text"; readonly text: string }
  /** `source` is the text between `${` and `}`; `nested` is set when that text itself holds expressions. */
  | { readonly kind: "expr"; readonly source: string; readonly nested?: readonly Part[] };

const EMPTY: readonly Part[] = [];

/** The parts of `text`, cached: definitions repeat the same strings on every decision. */
export const parseTemplate: (text: string) => readonly Part[] = memoize("templates", parse);

/** True when `text` may hold an expression or an escape (a cheap pre-check). */
export function mayHoldExpression(text: string): boolean {
  return text.includes("${");
}

function parse(text: string): readonly Part[] {
  if (!text.includes("${")) return text === "" ? EMPTY : [{ kind: "text", text }];
  const parts: Part[] = [];
  let literal = "";
  let i = 0;
  while (i < text.length) {
    if (text.startsWith("${", i) && (i === 0 || text[i - 1] !== "$")) {
      const end = closingBrace(text, i + 2);
      if (end >= 0) {
        if (literal) parts.push({ kind: "text", text: unescape(literal) });
        literal = "";
        const source = text.slice(i + 2, end);
        const inner = parse(source);
        parts.push(inner.some((p) => p.kind === "expr") ? { kind: "expr", source, nested: inner } : { kind: "expr", source });
        i = end + 1;
        continue;
      }
    }
    literal += text[i];
    i++;
  }
  if (literal) parts.push({ kind: "text", text: unescape(literal) });
  return parts;
}

/** Index of the `}` closing a `${` whose body starts at `from`, or -1. */
function closingBrace(text: string, from: number): number {
  let depth = 1;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 123 /* { */) depth++;
    else if (c === 125 /* } */ && --depth === 0) return i;
  }
  return -1;
}

// Only literal text is unescaped; Conductor also unescapes inside resolved
// values, which would alter data, so Baton does not.
function unescape(literal: string): string {
  return literal.includes("$${") ? literal.replaceAll("$${", "${") : literal;
}
