// Rows as the JSON that jsonb_to_recordset reads, with a large payload that
// came as JSON text written as that text (../payload-text.ts).
import { stringifyJson } from "@baton/json";
import { Slices } from "@baton/protocol";
import { payloadText } from "../payload-text.js";
import type { Row } from "./rows.js";

/**
 * stringifyJson of the items' rows, but a row's input or output with its text
 * known is written as that text (as the row's last keys: jsonb_to_recordset
 * matches columns by name). The payloads whose text was used are added to
 * `written`. Made in slices that yield: a decision that starts a dynamic fork
 * of 5,000 branches writes 5,000 task rows, 30 ms and more in one turn.
 */
export async function rowsJson<T>(items: readonly T[], toRow: (item: T) => Row, written: Set<object>, slices: Slices): Promise<string> {
  const parts: string[] = [];
  for (const item of items) {
    if (slices.due()) await slices.yield();
    parts.push(rowJson(toRow(item), written));
  }
  return `[${parts.join(",")}]`;
}

function rowJson(row: Row, written: Set<object>): string {
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
  if (!rest) return stringifyJson(row);
  const head = stringifyJson(rest);
  return `${head.slice(0, -1)}${head.length > 2 ? "," : ""}${raw.join(",")}}`;
}
