// Where things are printed: results on stdout (text or Conductor's JSON
// shapes), progress and warnings on stderr. Nothing here ever prompts.

export type OutputMode = "text" | "json";

export class Output {
  constructor(
    readonly mode: OutputMode,
    private readonly stdout: NodeJS.WritableStream = process.stdout,
    private readonly stderr: NodeJS.WritableStream = process.stderr,
  ) {}

  get json(): boolean {
    return this.mode === "json";
  }

  /** A result line (text mode). */
  line(text = ""): void {
    this.stdout.write(text + "\n");
  }

  /** A result as JSON, pretty-printed. */
  value(value: unknown): void {
    this.stdout.write(JSON.stringify(value, null, 2) + "\n");
  }

  /** A result as one line of JSON (for streams of events, e.g. `baton dev -o json`). */
  jsonLine(value: unknown): void {
    this.stdout.write(JSON.stringify(value) + "\n");
  }

  /** Text mode prints `text()`, JSON mode prints `value()`. */
  emit(value: unknown, text: () => string | string[]): void {
    if (this.json) this.value(value);
    else {
      const t = text();
      for (const line of Array.isArray(t) ? t : [t]) this.line(line);
    }
  }

  progress(text: string): void {
    this.stderr.write(text + "\n");
  }

  warn(text: string): void {
    this.stderr.write(`warning: ${text}\n`);
  }

  error(text: string): void {
    this.stderr.write(`error: ${text}\n`);
  }

  /** The error a command ends with: text, or with -o json one JSON object on stderr. */
  failure(error: { message: string; exitCode: number; details?: readonly string[] }): void {
    writeFailure(this.stderr, this.json, error);
  }
}

/** Left-aligned columns, two spaces apart; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const format = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [format(headers), ...rows.map(format)];
}

/** 23 ms, 4.2 s, 3m 05s, 2h 10m. */
export function duration(ms: number): string {
  if (ms < 0 || !Number.isFinite(ms)) return "-";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** An epoch-ms time as local ISO-ish text, or "-" when unset. */
export function time(ms: number): string {
  if (!ms) return "-";
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** JSON on one line, cut to `max` characters. */
export function brief(value: unknown, max = 120): string {
  const text = JSON.stringify(value) ?? "";
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

/** `error: ...` and indented details, or `{"error":{...}}` for machines (-o json). */
export function writeFailure(stderr: NodeJS.WritableStream, json: boolean, error: { message: string; exitCode: number; details?: readonly string[] }): void {
  const details = error.details ?? [];
  if (json) {
    stderr.write(JSON.stringify({ error: { message: error.message, exitCode: error.exitCode, ...(details.length ? { details } : {}) } }) + "\n");
    return;
  }
  stderr.write(`error: ${error.message}\n`);
  for (const line of details) stderr.write(`  ${line}\n`);
}
