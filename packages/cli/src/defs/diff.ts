// A unified diff of two texts, line by line (LCS), with 3 lines of context.

type Op = { kind: " " | "-" | "+"; line: string };

function lcsOps(a: string[], b: string[]): Op[] {
  // Trim the common head and tail; definitions change in a few places.
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const mid = { a: a.slice(start, endA), b: b.slice(start, endB) };
  const n = mid.a.length;
  const m = mid.b.length;
  const table = new Uint32Array((n + 1) * (m + 1));
  const at = (i: number, j: number) => i * (m + 1) + j;
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      table[at(i, j)] = mid.a[i] === mid.b[j] ? (table[at(i + 1, j + 1)] ?? 0) + 1 : Math.max(table[at(i + 1, j)] ?? 0, table[at(i, j + 1)] ?? 0);
    }
  }
  const ops: Op[] = a.slice(0, start).map((line) => ({ kind: " ", line }));
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && mid.a[i] === mid.b[j]) {
      ops.push({ kind: " ", line: mid.a[i++] ?? "" });
      j++;
    } else if (i < n && (j >= m || (table[at(i + 1, j)] ?? 0) >= (table[at(i, j + 1)] ?? 0))) {
      ops.push({ kind: "-", line: mid.a[i++] ?? "" });
    } else {
      ops.push({ kind: "+", line: mid.b[j++] ?? "" });
    }
  }
  ops.push(...a.slice(endA).map((line): Op => ({ kind: " ", line })));
  return ops;
}

/** `--- from` / `+++ to` and @@ hunks; empty when the texts are equal. */
export function unifiedDiff(before: string, after: string, from: string, to: string, context = 3): string[] {
  if (before === after) return [];
  const ops = lcsOps(before.split("\n"), after.split("\n"));
  const out = [`--- ${from}`, `+++ ${to}`];
  const changed = ops.map((o, k) => (o.kind !== " " ? k : -1)).filter((k) => k >= 0);
  let k = 0;
  while (k < changed.length) {
    const first = changed[k] ?? 0;
    let last = first;
    while (k + 1 < changed.length && (changed[k + 1] ?? 0) - last <= 2 * context + 1) last = changed[++k] ?? last;
    k++;
    const lo = Math.max(0, first - context);
    const hi = Math.min(ops.length, last + context + 1);
    // Line numbers where the hunk starts in each text.
    let aLine = 1;
    let bLine = 1;
    for (const o of ops.slice(0, lo)) {
      if (o.kind !== "+") aLine++;
      if (o.kind !== "-") bLine++;
    }
    const hunk = ops.slice(lo, hi);
    const aCount = hunk.filter((o) => o.kind !== "+").length;
    const bCount = hunk.filter((o) => o.kind !== "-").length;
    out.push(`@@ -${aCount ? aLine : aLine - 1},${aCount} +${bCount ? bLine : bLine - 1},${bCount} @@`);
    out.push(...hunk.map((o) => `${o.kind}${o.line}`));
  }
  return out;
}
