// Comparing definitions the way the server does: canonical JSON (sorted keys),
// bookkeeping fields (version, times, authors) left out.

/** JSON with object keys sorted, so equal values print equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

const BOOKKEEPING = new Set(["version", "createTime", "updateTime", "createdBy", "updatedBy"]);

/** A WorkflowDef without the fields that do not change what it does. */
export function content(def: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(def).filter(([k]) => !BOOKKEEPING.has(k)));
}

/** Same content as the server's NEXT_IF_CHANGED sees it. */
export function sameContent(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return canonicalJson(content(a)) === canonicalJson(content(b));
}

/** `value`'s keys in `template`'s order (keys only in `value` last), recursively: for readable diffs. */
export function alignKeys(value: unknown, template: unknown): unknown {
  if (Array.isArray(value)) return value.map((v, i) => alignKeys(v, Array.isArray(template) ? template[i] : undefined));
  if (!value || typeof value !== "object") return value;
  const v = value as Record<string, unknown>;
  const t = template && typeof template === "object" && !Array.isArray(template) ? (template as Record<string, unknown>) : {};
  const keys = [...Object.keys(t).filter((k) => k in v), ...Object.keys(v).filter((k) => !(k in t))];
  return Object.fromEntries(keys.map((k) => [k, alignKeys(v[k], t[k])]));
}
