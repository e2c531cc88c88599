// Conductor runs JSON_JQ_TRANSFORM on jackson-jq, which accepts any expression
// as an object value: `{ method: .input.method // "GET" }`. Real jq only takes
// a term or a pipe there and rejects that filter (Conductor's own fixtures
// use it). For such a filter, the caller retries with every object value
// wrapped in parentheses, which is what jackson-jq means by it. Filters that
// jq accepts as written are never rewritten.

type Frame = { kind: "object"; inValue: boolean } | { kind: "paren" | "bracket" | "interpolation" };

/** The filter with each `key: value` of object constructions written `key: (value)`, or undefined when there is none or it cannot tell. */
export function parenthesizeObjectValues(filter: string): string | undefined {
  const frames: Frame[] = [];
  let out = "";
  let changed = false;
  let inString = false;
  const top = (): Frame | undefined => frames[frames.length - 1];

  for (let i = 0; i < filter.length; i++) {
    const c = filter[i]!;
    if (inString) {
      if (c === "\\" && filter[i + 1] === "(") {
        out += "\\(";
        i++;
        frames.push({ kind: "interpolation" });
        inString = false;
      } else if (c === "\\") {
        out += c + (filter[i + 1] ?? "");
        i++;
      } else {
        if (c === '"') inString = false;
        out += c;
      }
      continue;
    }
    const frame = top();
    switch (c) {
      case '"':
        inString = true;
        out += c;
        break;
      case "#": {
        const end = filter.indexOf("\n", i);
        const stop = end < 0 ? filter.length : end;
        out += filter.slice(i, stop);
        i = stop - 1;
        break;
      }
      case "{":
        frames.push({ kind: "object", inValue: false });
        out += c;
        break;
      case "(":
        frames.push({ kind: "paren" });
        out += c;
        break;
      case "[":
        frames.push({ kind: "bracket" });
        out += c;
        break;
      case ":":
        if (frame?.kind === "object" && !frame.inValue) {
          frame.inValue = true;
          out += ": (";
          changed = true;
        } else out += c;
        break;
      case ",":
        if (frame?.kind === "object" && frame.inValue) {
          frame.inValue = false;
          out += "),";
        } else out += c;
        break;
      case "}":
        if (frame?.kind !== "object") return undefined;
        frames.pop();
        out += frame.inValue ? ")}" : "}";
        break;
      case ")":
        if (frame?.kind !== "paren" && frame?.kind !== "interpolation") return undefined;
        frames.pop();
        out += c;
        if (frame.kind === "interpolation") inString = true;
        break;
      case "]":
        if (frame?.kind !== "bracket") return undefined;
        frames.pop();
        out += c;
        break;
      default:
        out += c;
    }
  }
  if (inString || frames.length > 0 || !changed) return undefined;
  return out;
}
