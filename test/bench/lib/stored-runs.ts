// The runs the console bench reads: written straight into baton.runs, many at
// once, so a million can be stored in seconds. explain-runs.ts stores the same.
import type pg from "pg";

/**
 * Stores runs 1..`runs` of definition `defHash`: 20 workflow names, six in
 * ten COMPLETED and the rest FAILED, TERMINATED, RUNNING or TIMED_OUT,
 * created 10 ms apart from a day before `now`; then VACUUM ANALYZE, so plans
 * see them. `stored` is told the count after each chunk.
 */
export async function storeRuns(c: pg.Client, p: { runs: number; defHash: string; now?: number; stored?: (count: number) => void }): Promise<void> {
  const { runs, defHash, now = Date.now(), stored = () => {} } = p;
  const chunk = 250_000;
  for (let from = 1; from <= runs; from += chunk) {
    const to = Math.min(runs, from + chunk - 1);
    await c.query(
      `INSERT INTO baton.runs (id, name, version, def_hash, status, correlation_id, input, output, variables, created_at, updated_at, ended_at, next_seq)
       SELECT ('c0000001-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, 'bench_console_' || (g % 20), 1, '${defHash}',
              (ARRAY['COMPLETED','COMPLETED','COMPLETED','COMPLETED','COMPLETED','COMPLETED','FAILED','TERMINATED','RUNNING','TIMED_OUT'])[g % 10 + 1],
              'order-' || g, '{"n":1}', '{"n":4}', '{}', ${now} - 86400000 + g * 10, ${now} - 86400000 + g * 10,
              CASE WHEN g % 10 = 8 THEN 0 ELSE ${now} - 86400000 + g * 10 + 5 END, 4
       FROM generate_series(${from}, ${to}) g`,
    );
    stored(to);
  }
  await c.query("VACUUM ANALYZE baton.runs");
}
