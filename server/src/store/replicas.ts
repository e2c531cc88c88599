// What each replica tells the others about itself, for the console: the
// workers connected to it and how many console viewers it has. One row per
// replica, rewritten by its heartbeat; a row not beaten for a while is a
// replica gone, and is left out (and removed by the next heartbeat).
import type { ConnectedWorker } from "../dispatch/workers.js";
import type { Queryable } from "./db.js";

export const REPLICAS_MIGRATION = {
  name: "replicas: each replica's connected workers and console viewers, for every replica's console",
  sql: `
    CREATE TABLE baton.replicas (
      replica text PRIMARY KEY,
      workers jsonb NOT NULL,
      watching int NOT NULL,
      beat_at bigint NOT NULL
    );
  `,
};

export interface ReplicaPresence {
  replica: string;
  /** The workers connected to that replica, as it lists them. */
  workers: ConnectedWorker[];
  /** Console viewers waiting on that replica now. */
  watching: number;
  beatAt: number;
}

/**
 * Writes this replica's row and reads the others beaten since `freshSince`,
 * in one statement; rows of replicas gone longer than `goneBefore` are removed.
 */
export async function beat(q: Queryable, mine: ReplicaPresence, freshSince: number, goneBefore: number): Promise<ReplicaPresence[]> {
  const { rows } = await q.query(
    `WITH mine AS (
       INSERT INTO baton.replicas (replica, workers, watching, beat_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (replica) DO UPDATE SET workers = excluded.workers, watching = excluded.watching, beat_at = excluded.beat_at),
     gone AS (DELETE FROM baton.replicas WHERE beat_at < $6 AND replica <> $1)
     SELECT replica, workers, watching, beat_at FROM baton.replicas WHERE replica <> $1 AND beat_at >= $5`,
    [mine.replica, JSON.stringify(mine.workers), mine.watching, mine.beatAt, freshSince, goneBefore],
  );
  return rows.map((r) => ({
    replica: r.replica as string,
    workers: r.workers as ConnectedWorker[],
    watching: r.watching as number,
    beatAt: Number(r.beat_at),
  }));
}

/** A replica that stops says so, so the others drop its workers at once. */
export async function leave(q: Queryable, replica: string): Promise<void> {
  await q.query("DELETE FROM baton.replicas WHERE replica = $1", [replica]);
}
