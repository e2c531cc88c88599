// Where a builder call was made, so a compiler can print `file:line:col - error`.
// It is the first stack frame outside this package's own code.
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

// src/builder (under tsx) or dist/builder (built): the package's code root is one up.
const SDK_CODE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..") + path.sep;

const FRAME = /\(?((?:file:\/\/)?[^\s()]+):(\d+):(\d+)\)?\s*$/;

function frameFile(raw: string): string {
  return raw.startsWith("file://") ? fileURLToPath(raw) : raw;
}

/** The caller's location, or undefined when no frame outside the SDK is on the stack. */
export function callerLocation(): SourceLocation | undefined {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 50;
  const stack = new Error().stack ?? "";
  Error.stackTraceLimit = limit;
  return locationInStack(stack);
}

export function locationInStack(stack: string): SourceLocation | undefined {
  for (const line of stack.split("\n").slice(1)) {
    const m = FRAME.exec(line.trim());
    if (!m?.[1] || m[1].startsWith("node:")) continue;
    const file = frameFile(m[1]);
    if (file.startsWith(SDK_CODE_ROOT)) continue;
    return { file, line: Number(m[2]), column: Number(m[3]) };
  }
  return undefined;
}

export function formatLocation(loc: SourceLocation | undefined): string {
  return loc ? `${loc.file}:${loc.line}:${loc.column}` : "<unknown>";
}
