// How many runs each run tree has started. A run a caller starts is a root;
// the runs its SUB_WORKFLOW, START_WORKFLOW and failure-workflow tasks start,
// and theirs, at any depth, join its tree (RunMarks.root). One start can
// otherwise make the server start runs without end: a fork of sub-workflows
// of itself grows as width^depth, a loop of START_WORKFLOW one per iteration.
// The count is a row per root, raised in the transaction that inserts the
// run, under that row's lock: exact whatever the number of replicas, and
// rolled back with a start that does not commit. Runs an event handler starts
// for an event an EVENT task published join that task's tree, so a loop
// through events is bounded too.
import type { Queryable } from "./db.js";

/** One start joining a tree: its root, and whether the tree's bound may refuse it. */
export interface TreeStart {
  root: string;
  bounded: boolean;
}

/**
 * Counts `starts` in their trees, in the transaction `tx`: each is taken
 * (true) unless it is bounded and its tree has started `bound` runs already.
 * Rows are locked in the order of their roots, so batches do not deadlock.
 */
export async function takeTreeRuns(tx: Queryable, starts: readonly TreeStart[], bound: number): Promise<boolean[]> {
  const order = starts.map((_, i) => i).sort((a, b) => (starts[a]!.root < starts[b]!.root ? -1 : starts[a]!.root > starts[b]!.root ? 1 : a - b));
  const { rows } = await tx.query({
    name: "baton-tree-take",
    text: "SELECT baton.take_tree_runs($1::uuid[], $2::boolean[], $3) AS taken",
    values: [order.map((i) => starts[i]!.root), order.map((i) => starts[i]!.bounded), bound],
  });
  const taken = (rows[0] as { taken: boolean[] }).taken;
  const byStart: boolean[] = new Array<boolean>(starts.length);
  order.forEach((i, k) => (byStart[i] = taken[k]!));
  return byStart;
}

export const RUN_TREES_MIGRATION = {
  name: "each run tree counts the runs it started",
  sql: `
    -- started: runs started in the tree beside its root. Removed with the root (retention).
    -- An event an EVENT task published names its run's tree: runs its handlers start join it.
    ALTER TABLE baton.events ADD COLUMN root_id uuid;
    CREATE TABLE baton.run_trees (
      root_id uuid PRIMARY KEY,
      started int NOT NULL
    );
    CREATE FUNCTION baton.take_tree_runs(roots uuid[], bounded boolean[], most int) RETURNS boolean[] LANGUAGE plpgsql AS $fn$
    DECLARE
      taken boolean[] := '{}';
    BEGIN
      FOR i IN 1 .. coalesce(array_length(roots, 1), 0) LOOP
        INSERT INTO baton.run_trees AS t (root_id, started) VALUES (roots[i], 1)
          ON CONFLICT (root_id) DO UPDATE SET started = t.started + 1 WHERE NOT bounded[i] OR t.started < most;
        taken := taken || FOUND;
      END LOOP;
      RETURN taken;
    END
    $fn$;
  `,
};
