// Durations written as text: "1h 30m", "2 days", "10s", "250ms". WAIT's
// `duration` takes these units; the test clock (@baton/testing) adds weeks.

export const DURATION_UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  secs: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hrs: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
};

/** What a duration's text says: milliseconds, or why it says none (each caller words its own error). */
export type DurationReading = { ms: number } | { unreadable: true } | { unknownUnit: string };

export function readDuration(text: string, units: Readonly<Record<string, number>> = DURATION_UNITS): DurationReading {
  const parts = [...text.trim().matchAll(/(\d+(?:\.\d+)?)\s*([a-zA-Z]+)/g)];
  const consumed = parts
    .map((p) => p[0])
    .join("")
    .replace(/\s/g, "");
  if (parts.length === 0 || consumed !== text.replace(/\s/g, "")) return { unreadable: true };
  let ms = 0;
  for (const [, amount, unit] of parts) {
    const factor = units[unit!.toLowerCase()];
    if (factor === undefined) return { unknownUnit: unit! };
    ms += Number(amount) * factor;
  }
  return { ms };
}
