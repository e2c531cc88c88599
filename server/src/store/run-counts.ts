// Runs per status for a filter, each count stopping at a cap: an index range
// per status read at most `cap` rows deep, so counts stay cheap however many
// runs are stored (the console shows "10,000+").
import type { Queryable } from "./db.js";

export interface CountFilter {
  name?: string;
  version?: number;
  correlationId?: string;
  from?: number;
  to?: number;
}

export async function countRunsByStatus(pool: Queryable, statuses: string[], filter: CountFilter, cap: number): Promise<Map<string, number>> {
  const where: string[] = ["r.status = s.status"];
  const params: unknown[] = [statuses, cap];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace("?", `$${params.length}`));
  };
  if (filter.name) add("r.name = ?", filter.name);
  if (filter.version !== undefined) add("r.version = ?", filter.version);
  if (filter.correlationId) add("r.correlation_id = ?", filter.correlationId);
  if (filter.from) add("r.created_at >= ?", filter.from);
  if (filter.to) add("r.created_at < ?", filter.to);
  const { rows } = await pool.query<{ status: string; n: number }>(
    `SELECT s.status, (SELECT count(*) FROM (SELECT 1 FROM baton.runs r WHERE ${where.join(" AND ")} LIMIT $2) x)::int AS n
     FROM unnest($1::text[]) AS s(status)`,
    params,
  );
  return new Map(rows.map((r) => [r.status, r.n]));
}
