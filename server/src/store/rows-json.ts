// Rows as the JSON that jsonb_to_recordset reads, with a large payload that
// came as JSON text written as that text (../payload-text.ts).
import { stringifyJson } from "@baton/json";
import { payloadText } from "../payload-text.js";
import type { Row } from "./rows.js";

/**
 * stringifyJson(rows), but a row's input or output with its text known is
 * written as that text (as the row's last keys: jsonb_to_recordset matches
 * columns by name). The payloads whose text was used are added to `written`.
 */
export function rowsJson(rows: Row[], written: Set<object>): string {
  const parts: string[] = [];
  for (const row of rows) {
    const raw: string[] = [];
    let rest: Row | undefined;
    for (const name of ["input", "output"] as const) {
      const value = row[name];
      const text = payloadText(value);
      if (text === undefined) continue;
      written.add(value as object);
      rest ??= { ...row };
      delete rest[name];
      raw.push(`"${name}":${text}`);
    }
    if (!rest) {
      parts.push(stringifyJson(row));
      continue;
    }
    const head = stringifyJson(rest);
    parts.push(`${head.slice(0, -1)}${head.length > 2 ? "," : ""}${raw.join(",")}}`);
  }
  return `[${parts.join(",")}]`;
}
