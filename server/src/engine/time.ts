// WAIT's `duration` ("1h 30m", "2 days", "10s") and `until` ("2030-01-01 10:00", ISO 8601).

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000, sec: 1000, secs: 1000, second: 1000, seconds: 1000,
  m: 60_000, min: 60_000, mins: 60_000, minute: 60_000, minutes: 60_000,
  h: 3_600_000, hr: 3_600_000, hrs: 3_600_000, hour: 3_600_000, hours: 3_600_000,
  d: 86_400_000, day: 86_400_000, days: 86_400_000,
};

/** Milliseconds in a duration such as "1h 30m" or "2 days". Throws on anything else. */
export function parseDuration(text: string): number {
  const parts = [...text.trim().matchAll(/(\d+(?:\.\d+)?)\s*([a-zA-Z]+)/g)];
  const consumed = parts.map((p) => p[0]).join("").replace(/\s/g, "");
  if (parts.length === 0 || consumed !== text.replace(/\s/g, "")) throw new Error(`invalid WAIT duration ${JSON.stringify(text)}`);
  let total = 0;
  for (const [, amount, unit] of parts) {
    const factor = UNITS[unit!.toLowerCase()];
    if (factor === undefined) throw new Error(`invalid unit ${JSON.stringify(unit)} in WAIT duration ${JSON.stringify(text)}`);
    total += Number(amount) * factor;
  }
  return total;
}

/** Epoch milliseconds of a WAIT `until` time ("yyyy-MM-dd HH:mm[:ss] [zone]" or ISO 8601; UTC when no zone). */
export function parseUntil(text: string): number {
  const trimmed = text.trim();
  const m = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}(?::\d{2})?))?\s*(Z|[+-]\d{2}:?\d{2}|UTC|GMT)?$/.exec(trimmed);
  let ms: number;
  if (m) {
    const zone = !m[3] || m[3] === "UTC" || m[3] === "GMT" ? "Z" : m[3];
    ms = Date.parse(`${m[1]}T${m[2] ?? "00:00"}${m[2] && m[2].length === 5 ? ":00" : ""}${zone}`);
  } else ms = Date.parse(trimmed);
  if (Number.isNaN(ms)) throw new Error(`invalid WAIT until ${JSON.stringify(text)}`);
  return ms;
}
