// JSON payloads keep every integer exact: integers beyond 2^53 become BigInt
// when parsed and are written back digit for digit. Uses the native parser
// (with a pre-pass only when a long integer is present), so ordinary payloads
// pay nothing. Decimals keep IEEE-754 double precision.
//
// Parsing is linear in the text's length for any input: the native parser
// validates first, so the pre-pass only ever sees valid JSON. On valid JSON
// every string is matched once, from its opening quote; on invalid text (an
// unterminated run of `\"` pairs) the pre-pass would retry at every quote,
// which is quadratic.

// A string (skipped), or an integer token of 16+ digits: it starts a value
// (after "[", ",", ":" or white space) and has no fraction or exponent.
const LONG_INT_OR_STRING = /"(?:[^"\\]|\\.)*"|(?<=^|[[,:\s])-?\d{16,}(?![.eE\d])/g;
// A marker no real payload string starts with: NUL, spelled as a JSON escape.
const MARK = "\u0000bigint:";
const MARK_IN_JSON = "\\u0000bigint:";

/** Parses JSON text; integers outside the safe range become BigInt. */
export function parseJson(text: string): unknown {
  const plain: unknown = JSON.parse(text); // throws on invalid JSON before the pre-pass runs
  // A long digit run is often in a string (an id, a timestamp): only a number
  // the native parser could not hold exactly needs the text read again.
  if (!/\d{16}/.test(text) || !holdsUnsafeInteger(plain)) return plain;
  const marked = text.replace(LONG_INT_OR_STRING, (token) => (token.startsWith('"') ? token : `"${MARK_IN_JSON}${token}"`));
  // The marks are put back as integers by a walk: a reviver calls back for every value, several times slower.
  return unmarked(JSON.parse(marked));
}

/** Whether a parsed value holds an integer-valued number beyond 2^53 (every double that large is one). */
function holdsUnsafeInteger(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === "number") {
      if (Math.abs(v) > Number.MAX_SAFE_INTEGER) return true;
    } else if (v !== null && typeof v === "object") {
      for (const item of Object.values(v)) if (typeof item === "object" || typeof item === "number") stack.push(item);
    }
  }
  return false;
}

/** Replaces, in place, each marked string of a freshly parsed value with its integer. */
function unmarked(value: unknown): unknown {
  if (typeof value === "string") return value.startsWith(MARK) ? integerOf(value) : value;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== "object") continue;
    const holder = v as Record<string, unknown>;
    for (const key of Object.keys(holder)) {
      const item = holder[key];
      if (typeof item === "string") {
        // The parser made every key an own data property (even "__proto__"), so assigning replaces that property.
        if (item.startsWith(MARK)) holder[key] = integerOf(item);
      } else if (item !== null && typeof item === "object") stack.push(item);
    }
  }
  return value;
}

function integerOf(marked: string): number | bigint {
  const digits = marked.slice(MARK.length);
  const big = BigInt(digits);
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(digits) : big;
}

const BIGINT_MARKED = /"\\u0000bigint:(-?\d+)"/g;

/** Serialises to JSON text; BigInt values are written as plain integers. */
export function stringifyJson(value: unknown, indent?: number): string {
  // The native writer without a replacer is several times faster, and it
  // throws on a BigInt: only payloads holding one take the slow path.
  try {
    return JSON.stringify(value, undefined, indent);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
  }
  let sawBigInt = false;
  const text = JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (typeof v === "bigint") {
        sawBigInt = true;
        return `${MARK}${v.toString()}`;
      }
      return v;
    },
    indent,
  );
  return sawBigInt ? text.replace(BIGINT_MARKED, "$1") : text;
}

/** Parses a JSON payload field; "" gives `fallback`. Throws SyntaxError on bad JSON. */
export function parseJsonField(text: string, fallback: unknown): unknown {
  return text === "" ? fallback : parseJson(text);
}

/** Serialises a value for a JSON payload field; undefined gives "". */
export function jsonField(value: unknown): string {
  return value === undefined ? "" : stringifyJson(value);
}
